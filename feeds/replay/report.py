"""What became of every row of one replayed file: read, stored, refused by reason, repeated or out of order."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from feeds.ingest import IngestResult
from feeds.reasons import reason_kind
from feeds.replay.apply import Long


@dataclass
class FileReport:
    """The counts of one run over one file, kept a chunk of the file at a time.

    A stored sample is a repeat when it has the time of the newest sample stored before it in its
    cell (metric and area), and out of order when it is older than that one: what the engine calls
    duplicate and late. So the report keeps only each cell's newest time, whatever the file's length.
    """

    file: str
    file_id: str
    start: int = 0  # the sample the run started from (its checkpoint)
    rows: int | None = None  # samples of the file, once read to its end
    read: int = 0
    stored: int = 0
    refused_by: dict[str, int] = field(default_factory=dict)
    duplicate: int = 0  # stored rows with the time of the newest earlier row of their metric and area
    out_of_order: int = 0  # stored rows older than an earlier row of the same metric and area
    empty: int = 0  # cells of a wide file holding no value: counted, not sent
    _refused: list[int] = field(default_factory=list, repr=False)  # positions in the file, of the chunk in hand
    _codes: dict[tuple, int] = field(default_factory=dict, repr=False)  # cell -> its number
    _newest: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)  # newest time stored, by cell

    @property
    def done_before(self) -> bool:
        """Whether the run's checkpoint was at the file's end already (nothing to do)."""
        return self.rows is not None and self.start >= self.rows > 0

    def add(self, first: int, stop: int, result: IngestResult) -> None:
        """Count the submitted samples ``first:stop`` of the file; remember which were refused."""
        self.read += stop - first
        self.stored += result.accepted
        for r in result.refused:
            kind = reason_kind(r.reason)
            self.refused_by[kind] = self.refused_by.get(kind, 0) + 1
            self._refused.append(first + r.index)

    def tally(self, long: Long, offset: int) -> None:
        """Count the stored samples of a chunk (its first is the file's ``offset``-th) repeated or out of order."""
        self.empty += long.empty
        stored = np.zeros(len(long), dtype=bool)
        stored[max(self.start - offset, 0) : max(self.start + self.read - offset, 0)] = True
        stored[np.asarray(self._refused, dtype=int) - offset] = False
        self._refused = []
        if not stored.any():
            return
        number, cells = long.cells()
        book = np.array([self._codes.setdefault(c, len(self._codes)) for c in cells], dtype=np.int64)
        code = book[number[stored]]
        self._newest = np.append(self._newest, np.full(len(self._codes) - len(self._newest), -np.inf))
        ts = pd.Series(long.ts[stored])
        newest_here = ts.groupby(code).cummax().groupby(code).shift().to_numpy()  # NaN for a cell's first here
        newest_before = np.fmax(newest_here, self._newest[code])
        self.duplicate += int((ts.to_numpy() == newest_before).sum())
        self.out_of_order += int((ts.to_numpy() < newest_before).sum())
        np.maximum.at(self._newest, code, ts.to_numpy())

    def text(self, feed: str) -> str:
        """Return the report as printed at the end of a replay."""
        if self.done_before:
            return (f"{self.file} (sha256 {self.file_id}…) was replayed to its end already under feed {feed!r} "
                    f"({self.rows} rows): nothing to do; give another --name to replay it again")
        refused = sum(self.refused_by.values())
        reasons = ", ".join(f"{kind} {n}" for kind, n in sorted(self.refused_by.items()))
        empty = f" ({self.empty} empty cells of the wide columns not sent)" if self.empty else ""
        total = "" if self.rows is None else f" of {self.rows}"
        lines = [f"{self.file}: samples {self.start + 1}-{self.start + self.read}{total} read{empty}: "
                 f"{self.stored} stored, {refused} refused" + (f" ({reasons})" if reasons else ""),
                 f"of those stored, {self.duplicate} repeat the newest earlier row (metric, area, time) and "
                 f"{self.out_of_order} are out of order: the engine counts them, never applies them"]
        return "\n".join(lines)

