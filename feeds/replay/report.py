"""What became of every row of one replayed file: read, stored, refused by reason, repeated or out of order."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from feeds.ingest import IngestResult
from feeds.reasons import reason_kind


@dataclass
class FileReport:
    """The counts of one run over one file; ``done_before`` when its checkpoint was at its end already."""

    file: str
    file_id: str
    rows: int = 0  # of the file
    start: int = 0  # the row the run started from (its checkpoint)
    read: int = 0
    stored: int = 0
    refused_by: dict[str, int] = field(default_factory=dict)
    duplicate: int = 0  # stored rows with the metric, area and time of an earlier row of this run
    out_of_order: int = 0  # stored rows older than an earlier row of the same metric and area
    empty: int = 0  # cells of a wide file holding no value: counted, not sent
    done_before: bool = False
    _refused: list[int] = field(default_factory=list, repr=False)  # positions among the samples

    def add(self, first: int, stop: int, result: IngestResult) -> None:
        """Count the submitted samples ``first:stop``; remember which were refused."""
        self.read += stop - first
        self.stored += result.accepted
        for r in result.refused:
            kind = reason_kind(r.reason)
            self.refused_by[kind] = self.refused_by.get(kind, 0) + 1
            self._refused.append(first + r.index)

    def finish(self, cells: np.ndarray, times: np.ndarray) -> FileReport:
        """Count the stored samples of ``start:start + read`` repeated or out of order in the file.

        ``cells`` names each sample's metric and place, ``times`` its time, for every sample of the file.
        """
        stored = np.zeros(len(times), dtype=bool)
        stored[self.start : self.start + self.read] = True
        stored[self._refused] = False
        if stored.any():
            frame = pd.DataFrame({"cell": cells[stored], "ts": times[stored]})
            repeat = frame.duplicated(["cell", "ts"])
            newest_before = frame.groupby("cell")["ts"].cummax().groupby(frame["cell"]).shift()
            self.duplicate = int(repeat.sum())
            self.out_of_order = int(((frame["ts"] < newest_before) & ~repeat).sum())
        self._refused = []
        return self

    def text(self, feed: str) -> str:
        """Return the report as printed at the end of a replay."""
        if self.done_before:
            return (f"{self.file} (sha256 {self.file_id}…) was replayed to its end already under feed {feed!r} "
                    f"({self.rows} rows): nothing to do; give another --name to replay it again")
        refused = sum(self.refused_by.values())
        reasons = ", ".join(f"{kind} {n}" for kind, n in sorted(self.refused_by.items()))
        empty = f" ({self.empty} empty cells of the wide columns not sent)" if self.empty else ""
        lines = [f"{self.file}: samples {self.start + 1}-{self.start + self.read} of {self.rows} read{empty}: "
                 f"{self.stored} stored, {refused} refused" + (f" ({reasons})" if reasons else ""),
                 f"of those stored, {self.duplicate} repeat an earlier row (metric, area, time) and "
                 f"{self.out_of_order} are out of order: the engine counts them, never applies them"]
        return "\n".join(lines)
