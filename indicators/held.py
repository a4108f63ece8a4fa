"""Values held per (metric, area), newest wins: the grids' matrices and a level's own statistics share the rule.

A statistic published for a district or a street (a monthly CPI, a quarterly unemployment rate)
is a sample whose area is that district or street: :class:`LevelValues` holds those, for the
indicators that read a level's own samples (``source: {level: ...}``) instead of rolling up grids.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass
class IngestStats:
    """What happened to a batch of samples."""

    accepted: int = 0
    late: int = 0  # truly out of order: older than the value held, or than one that arrived before it in the batch
    duplicate: int = 0  # the same (metric, area, ts) as the value held: a repeat counts once
    superseded: int = 0  # in order, but a newer one of the same cell came later in the same batch
    unknown: int = 0  # metric or area the engine does not know (feeds should have refused them)

    def __add__(self, other: IngestStats) -> IngestStats:
        return IngestStats(self.accepted + other.accepted, self.late + other.late,
                           self.duplicate + other.duplicate, self.superseded + other.superseded,
                           self.unknown + other.unknown)


def apply_newest(values: np.ndarray, held_ts: np.ndarray, feed: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                 ts: np.ndarray, value: np.ndarray, code: int) -> tuple[np.ndarray, IngestStats]:
    """Write samples (known cells, in arrival order) into the held matrices where newer; returns the flat cells written.

    A sample is identified by (metric, area, ts): one with the time of the value held is a
    duplicate (the first value stays); one older than the value held before the batch, or than
    a sample of its cell that arrived before it, is late; one in order whose cell got a newer
    sample later in the batch is superseded (a replay's hours between two ticks). None of them
    changes anything.
    """
    width = values.shape[1]
    cells = rows * width + cols
    by_cell = np.argsort(cells, kind="stable")
    flat = cells[by_cell]
    if (flat[1:] != flat[:-1]).all():  # a sample a cell (a feed's tick): no order within the batch to weigh
        newest, v, held = ts[by_cell], value[by_cell], held_ts.ravel()[flat]
        late, duplicate = int((newest < held).sum()), int((newest == held).sum())  # NaN held: neither
    else:
        order = np.lexsort((-np.arange(ts.size), ts))  # by time; at one time the first to arrive last
        all_flat, all_ts = cells[order], ts[order]
        _, last = np.unique(all_flat[::-1], return_index=True)  # the newest sample of each cell in this batch
        keep = all_flat.size - 1 - last
        flat, newest, v = all_flat[keep], all_ts[keep], value[order][keep]
        late, duplicate = _late_and_repeated(cells, ts, held_ts.ravel())
    r, c = np.divmod(flat, width)
    newer = ~(newest <= held_ts[r, c])  # NaN held (never seen) counts as newer
    r, c = r[newer], c[newer]
    values[r, c], held_ts[r, c] = v[newer], newest[newer]
    feed[r, c] = code
    accepted = int(newer.sum())
    return flat[newer], IngestStats(accepted=accepted, late=late, duplicate=duplicate,
                                    superseded=int(ts.size) - accepted - duplicate - late)


def _late_and_repeated(cells: np.ndarray, ts: np.ndarray, held: np.ndarray) -> tuple[int, int]:
    """Count the samples (in arrival order) that are late and those that are duplicates.

    A duplicate has the time of its cell's value held, or of the newest earlier sample of its cell in
    the batch; a late one is older than either. Times are ranked to integers so one cumulative max
    over (cell, rank) keys, sorted by cell and arrival, gives each sample the newest time before it.
    """
    if not ts.size:
        return 0, 0
    ranks = np.unique(ts, return_inverse=True)[1].astype(np.int64)
    order = np.lexsort((np.arange(ts.size), cells))  # by cell, then arrival
    cell, rank = cells[order], ranks[order]
    first = np.r_[True, cell[1:] != cell[:-1]]
    group = np.cumsum(first) - 1
    key = group * (int(ranks.max()) + 1) + rank
    before = np.maximum.accumulate(key)
    prior = np.r_[-1, before[:-1]]
    behind = ~first & (prior > key)  # an earlier arrival in the same cell was newer
    older = ts[order] < held[cell]  # NaN held (never seen): False
    repeat = (~first & (prior == key)) | (ts[order] == held[cell])
    return int(((behind | older) & ~repeat).sum()), int(repeat.sum())


@dataclass
class LevelValues:
    """The latest own samples of one level's areas, for the metrics its own-level indicators read."""

    area_ids: list[str]
    metric_ids: list[str] = field(default_factory=list)
    values: np.ndarray = field(init=False)
    ts: np.ndarray = field(init=False)
    feed: np.ndarray = field(init=False)
    touched: list[np.ndarray] = field(default_factory=list)  # flat cells written since the last take

    def __post_init__(self) -> None:
        self.area_pos = {a: i for i, a in enumerate(self.area_ids)}
        shape = (len(self.metric_ids), len(self.area_ids))
        self.values, self.ts = np.full(shape, np.nan), np.full(shape, np.nan)
        self.feed = np.zeros(shape, dtype=np.int16)
        self.metric_pos = {m: i for i, m in enumerate(self.metric_ids)}

    def for_metrics(self, metrics: list[str]) -> LevelValues:
        """The same level holding ``metrics``: the values of those it held already are kept."""
        out = LevelValues(self.area_ids, list(metrics))
        for m, k in out.metric_pos.items():
            old = self.metric_pos.get(m)
            if old is not None:
                out.values[k], out.ts[k], out.feed[k] = self.values[old], self.ts[old], self.feed[old]
        return out

    def ingest(self, metric: list[str], area: list[str], ts: np.ndarray, value: np.ndarray,
               code: int) -> tuple[np.ndarray, IngestStats]:
        """Apply samples of this level's areas; returns where each was known, and what happened to the known ones."""
        rows = positions(self.metric_pos, metric)
        cols = positions(self.area_pos, area)
        known = (rows >= 0) & (cols >= 0)
        flat, stats = apply_newest(self.values, self.ts, self.feed, rows[known], cols[known], ts[known],
                                   value[known], code)
        self.touched.append(flat)
        return known, stats

    def load(self, metric: str, cells: np.ndarray) -> int:
        """Take back one metric's persisted latest cells (``store.LATEST_CELL`` per area); newest wins."""
        row = self.metric_pos.get(metric)
        return 0 if row is None else load_cells(self.values, self.ts, self.feed, row, cells)

    def take_touched(self) -> tuple[np.ndarray, np.ndarray]:
        """(metric rows, area columns) written since the last call: the latest values to persist."""
        flat = np.unique(np.concatenate(self.touched)) if self.touched else np.empty(0, dtype=np.int64)
        self.touched = []
        return np.divmod(flat, len(self.area_ids))


def load_cells(values: np.ndarray, held_ts: np.ndarray, feed: np.ndarray, row: int, cells: np.ndarray) -> int:
    """Take persisted ``store.LATEST_CELL`` cells into one metric row where newer; returns how many."""
    newer = np.isfinite(cells["v"]) & np.isfinite(cells["ts"]) & ~(cells["ts"] <= held_ts[row])
    values[row, newer], held_ts[row, newer] = cells["v"][newer], cells["ts"][newer]
    feed[row, newer] = cells["src"][newer]
    return int(newer.sum())


def positions(position: dict[str, int], names: Sequence[str] | pd.Categorical) -> np.ndarray:
    """Position of each name (-1 if unknown): plain dict lookups beat pandas indexes and factorising here.

    Names given as categories (an archive's, a backtest's ticks) are looked up once per category.
    """
    if isinstance(names, pd.Categorical):
        known = np.fromiter(map(position.get, names.categories.tolist(), itertools.repeat(-1)), dtype=np.int64,
                            count=len(names.categories))
        return np.append(known, -1)[names.codes]  # code -1, a missing name: unknown
    return np.fromiter(map(position.get, names, itertools.repeat(-1)), dtype=np.int64, count=len(names))
