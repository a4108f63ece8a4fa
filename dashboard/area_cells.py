"""One indicator over many areas as matrices (areas x buckets): the compare view's numbers without a row per cell.

A province's 1,250 streets over 7 days are 210,000 hourly cells. As a frame of rows (two strings a row,
grouped again for the ranking, bucketed again for the small multiples) they cost about 60 ms of a compare
page's build; kept as the archive's compare tier holds them (cityvitals/archive/matrix.py), the ranking's
means, the picked lines and the small multiples are sums along an axis. The arithmetic is
:func:`cityvitals.archive.hourly.combine`'s: means weighted by ``n``, the worst state, the last state.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from cityvitals.archive.hourly import HOUR_S
from cityvitals.archive.matrix import ABSENT
from cityvitals.archive.values import Bucket, read_cells, read_values
from dashboard.trends import archive_of, cached


@dataclass(frozen=True)
class AreaCells:
    """One indicator's cells: a row per area (ids sorted), a column per bucket of ``seconds`` from ``start``.

    ``total`` is the sum of the finite values (0 where none), ``count`` how many there are, ``state`` the
    worst state and ``last`` the state at the bucket's newest step (both ABSENT where the archive has no row).
    """

    areas: np.ndarray
    start: float
    seconds: float
    total: np.ndarray
    count: np.ndarray
    state: np.ndarray
    last: np.ndarray

    @classmethod
    def empty(cls, areas: np.ndarray, start: float, seconds: float, buckets: int) -> AreaCells:
        """No row in any cell."""
        shape = (len(areas), buckets)
        return cls(areas, start, seconds, np.zeros(shape), np.zeros(shape, dtype=np.int64),
                   np.full(shape, ABSENT, dtype=np.int8), np.full(shape, ABSENT, dtype=np.int8))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, areas: list[str], start: float, end: float,
                   seconds: float) -> AreaCells:
        """The rows of a bucketed read (:func:`read_values`' columns, a cell at most once) as matrices."""
        names = np.asarray(sorted(set(areas)), dtype=object)
        cells = cls.empty(names, start, seconds, int(round((end - start) / seconds)))
        row = np.searchsorted(names, frame["area"].to_numpy(dtype=object))
        col = np.rint((frame["ts"].to_numpy() - start) / seconds).astype(np.int64)
        n = frame["n"].to_numpy()
        cells.total[row, col] = np.where(n > 0, frame["value"].to_numpy() * n, 0.0)
        cells.count[row, col] = n
        cells.state[row, col] = frame["state"].to_numpy()
        cells.last[row, col] = frame["last"].to_numpy()
        return cells

    @property
    def present(self) -> np.ndarray:
        """Where the archive has a row."""
        return self.state != ABSENT

    def mean(self) -> np.ndarray:
        """Each cell's mean (NaN where it has no finite value)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.total / self.count, np.nan)

    @cached_property
    def row_of(self) -> dict[str, int]:
        """Each area's row (a dict: searching 1,250 ids as objects cost 1 ms a call)."""
        return {a: k for k, a in enumerate(self.areas.tolist())}

    def rows(self, areas: list[str]) -> AreaCells:
        """The cells of ``areas`` (each held) in that order."""
        at = np.fromiter((self.row_of[a] for a in areas), dtype=np.int64, count=len(areas))
        return AreaCells(self.areas[at], self.start, self.seconds, self.total[at], self.count[at], self.state[at],
                         self.last[at])

    def regrid(self, seconds: float, start: float, end: float) -> AreaCells:
        """The cells merged into buckets of ``seconds`` (a multiple of these) over ``[start, end)``, as combine merges.

        ``start`` is a bucket's start (an :func:`dashboard.trends.aligned` window's is).
        """
        out = AreaCells.empty(self.areas, start, seconds, int(round((end - start) / seconds)))
        ts = self.start + np.arange(self.total.shape[1]) * self.seconds
        inside = np.flatnonzero((ts >= start) & (ts < end))
        if not inside.size:
            return out
        cols = slice(inside[0], inside[-1] + 1)
        if seconds == self.seconds:  # the same buckets: a window of them
            first = int(round((ts[inside[0]] - start) / seconds))
            for name in ("total", "count", "state", "last"):
                getattr(out, name)[:, first:first + len(inside)] = getattr(self, name)[:, cols]
            return out
        bucket = np.floor((ts[cols] - start) / seconds).astype(np.int64)
        first = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])  # each bucket's first column
        at = bucket[first]
        out.total[:, at] = np.add.reduceat(self.total[:, cols], first, axis=1)
        out.count[:, at] = np.add.reduceat(self.count[:, cols], first, axis=1)
        out.state[:, at] = np.maximum.reduceat(self.state[:, cols], first, axis=1)
        out.last[:, at] = _last_present(self.present[:, cols], self.last[:, cols], first)
        return out

    def means(self) -> tuple[np.ndarray, np.ndarray]:
        """Each area's mean over every bucket (NaN: no finite value) and its last state (ABSENT: no row at all)."""
        count = self.count.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(count > 0, self.total.sum(axis=1) / count, np.nan)
        return value, _last_present(self.present, self.last, np.zeros(1, dtype=np.int64))[:, 0]

    def line(self, row: int) -> tuple[float, list] | None:
        """A row as its first held bucket's time and a value per bucket up to its last held one (None: no value).

        As :func:`dashboard.trends.on_grid` gives a line from rows; None when the area has no row.
        """
        held = np.flatnonzero(self.present[row])
        if not held.size:
            return None
        span = slice(held[0], held[-1] + 1)
        count = self.count[row, span]
        with np.errstate(invalid="ignore", divide="ignore"):
            points = np.where(count > 0, self.total[row, span] / count, np.nan)
        return self.start + held[0] * self.seconds, [v if v == v else None for v in points.tolist()]


def _last_present(present: np.ndarray, last: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Per row and group of columns starting at ``first``, ``last`` of the group's newest present column."""
    newest = np.maximum.reduceat(np.where(present, np.arange(present.shape[1]), -1), first, axis=1)
    return np.where(newest >= 0, np.take_along_axis(last, newest.clip(min=0), axis=1), ABSENT).astype(np.int8)


def area_cells(indicator: str, areas: list[str], start: float, end: float, bucket: Bucket) -> AreaCells:
    """``indicator`` in ``areas`` over ``[start, end)`` in buckets of ``bucket``, kept until a newer step lands.

    Whole hours come from the compare tier's matrices (cityvitals/archive/matrix.py) with no row made;
    shorter buckets from a bucketed read of the steps.
    """
    values, levels, newest = archive_of(areas)
    key = ("cells", indicator, tuple(sorted(areas)), start, end, bucket.seconds, str(values), newest)

    def read() -> AreaCells:
        if values is not None and bucket.seconds % HOUR_S == 0 and start % HOUR_S == 0 and end % HOUR_S == 0:
            hours = read_cells(values, start, end, [indicator], areas, levels)
            one = AreaCells(hours.areas, start, HOUR_S, hours.total[0], hours.count[0].astype(np.int64),
                            hours.state[0], hours.last[0])
            return one if bucket.seconds == HOUR_S else one.regrid(bucket.seconds, start, end)
        frame = read_values(values, start, end, [indicator], areas, levels, bucket)
        return AreaCells.from_frame(frame, areas, start, end, bucket.seconds)

    return cached(key, read)
