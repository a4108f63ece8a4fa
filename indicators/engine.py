"""The in-memory indicator engine: latest metric values in, states at every level out.

It knows nothing of Redis or SQL (see ``indicators/service.py``): samples go in through
:meth:`Engine.ingest`, and :meth:`Engine.tick` returns what changed. It keeps state only; what it
scores by comes compiled once per catalog (``indicators/compiled.py``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
from simpleeval import SimpleEval

from cityvitals import malloc
from cityvitals.areas import LEVELS, AreaTree
from cityvitals.store import Columns, Sample, WarningKey, cell_times
from cityvitals.vocabulary import DOMAINS
from indicators import classify, funnel, rollup, thresholds
from indicators.compiled import CompiledCatalog, compile_catalog
from indicators.formula import FUNCTIONS, OPERATORS, Call
from indicators.held import IngestStats, LevelValues, apply_newest, load_cells, positions
from indicators.loader import Catalog
from indicators.states import Code, State

VALUE_TOLERANCE = 1e-4  # relative change of a value worth rewriting its record (screens show 4 digits)
TS_TOLERANCE_S = 60.0  # data time moves in records at this resolution (the history's step)
OLDEST_BLOCK = 8  # rows whose oldest data time is kept together: a tick reduces the blocks of rows that moved


@dataclass
class Transition:
    """One state change, for the warnings log."""

    indicator: str
    level: str
    area: str
    from_state: str
    to_state: str
    value: float
    yellow: str
    red: str
    at: float


@dataclass
class LevelResult:
    """One level after a tick: matrices (indicators x areas) and the cells to write."""

    level: str
    area_ids: list[str]
    value: np.ndarray
    ts: np.ndarray
    coverage: np.ndarray
    num: np.ndarray  # events behind each value (see rollup.Rolled), for explanations
    den: np.ndarray
    state: np.ndarray
    since: np.ndarray | classify.UniformRows
    pending: np.ndarray  # the state a cell waits to take once its minimum duration is over (NO_PENDING: none)
    pending_since: np.ndarray | classify.UniformRows
    limits: classify.Limits
    # What a writer needs (None from an engine that writes nothing, see Engine.records):
    dirty: np.ndarray | None  # cells whose record changed since the last tick (value, data time, state or pending)
    changed: np.ndarray | None  # cells whose state changed since last written (all of them on a start)
    dirty_areas: np.ndarray | None  # areas whose summary changed: a state, or data time beyond the tolerance
    oldest: np.ndarray | None  # per area (columns), the oldest data time (NaN: no data at all): of any indicator
    # in row 0, then of each domain's macro indicators (rows 1.., in ``DOMAINS`` order), so each tile says its own
    cleared: np.ndarray | None  # cells that left a warning state since last written (their warning entry goes)
    judged: np.ndarray  # the last of normal/yellow/red each cell held: what a stale cell scores in the health index
    rows: np.ndarray  # the rows judged this tick (sorted): no cell of another row moved
    fresh_start: bool = False  # nothing written yet (a start, new thresholds): what the store holds is unknown


    def cells(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, columns) where ``mask`` (cells, like ``dirty``) holds, looked for in the rows judged only."""
        if self.rows.size == mask.shape[0]:
            return np.nonzero(mask)
        sub_rows, cols = np.nonzero(mask[self.rows])
        return self.rows[sub_rows], cols


@dataclass
class TickResult:
    """Everything a tick produced."""

    now: float
    levels: dict[str, LevelResult]
    transitions: list[Transition] = field(default_factory=list)


class Engine:
    """Hold metric values per grid and indicator states per level; score on each tick."""

    def __init__(self, tree: AreaTree, catalog: CompiledCatalog | Catalog, tz: str = "Asia/Shanghai",
                 records: bool = True) -> None:
        """Start with no values; ``catalog`` as compiled once by its owner, or compiled here.

        ``records=False``: nothing is written from the results (a backtest keeps states only), so the
        records' snapshot, dirty cells and oldest data times are not kept (a fifth of a tick at 502 grids).
        """
        self.tree = tree
        self.records = records
        self.tz = ZoneInfo(tz)
        self.grid_ids = tree.ids("grid")
        self.grid_pos = {a: i for i, a in enumerate(self.grid_ids)}
        self.population = tree.population("grid")
        # A rate per resident means nothing where no population was imported, nor in a special grid (a hospital,
        # a school, an industrial park), whose events come from patients, pupils and workers, not its few
        # residents: not judged there, never stale. The events still count in the community's rate.
        self.no_resident_rate = {level: ((tree.population(level) == 0) | tree.special(level))[None, :]
                                 for level in LEVELS}
        self.parents = {
            level: (tree.grid_ancestor_index(level) if level != "grid" else np.arange(len(self.grid_ids)))
            for level in LEVELS
        }
        self.grid_total = {level: np.bincount(self.parents[level], minlength=len(tree.ids(level))) for level in LEVELS}
        self.chain = self._chain()
        self.metric_ids: list[str] = []
        self.values = np.empty((0, len(self.grid_ids)))
        self.ts = np.empty((0, len(self.grid_ids)))
        self.feed = np.empty((0, len(self.grid_ids)), dtype=np.int16)
        self.feeds: list[str] = ["?"]
        self.switched_on: set[str] = set()
        self.own: dict[str, LevelValues] = {}  # per level, its areas' own samples (statistics published for them)
        self._limits_cache: dict[tuple, dict[str, classify.Limits]] = {}
        self._limits_rows: dict[str, tuple[classify.Limits, bytes, classify.Limits]] = {}  # see _limits_of
        self.ind_ids: list[str] = []  # the rows of the state matrices, in the catalog's order
        self.tracks: dict[str, classify.Track] = {}
        self.written: dict[str, Written] = {}  # per level, what was last written (see _dirty)
        self._written_limits: object = None
        self.resuming: Future | None = None  # states being taken back (see resume) while a first tick rolls up
        self._touched: list[np.ndarray] = []
        self._parts: rollup.GridParts | None = None  # last tick's grid values: rows whose inputs held still are kept
        self._moved = np.zeros(0, dtype=bool)  # metric rows written since the grid values were computed
        self._moved_whole = np.zeros(0, dtype=bool)  # of those, the rows written with no record of their cells
        self._value_moved: list[np.ndarray] = []  # flat (metric, grid) cells whose value changed since the last tick
        self._unsettled: dict[str, np.ndarray] = {}  # per level: cells whose state changed when last judged
        self._regrid = np.zeros(0, dtype=bool)  # indicator rows the last grid_parts computed anew
        self._fresh: np.ndarray | None = None  # last tick's fresh grid cells
        self._fresh_now = -np.inf  # the time they were judged at
        self._oldest_fresh = np.zeros(0)  # per row, the oldest data time among them (NaN: none fresh)
        self._rolled: dict[str, tuple[np.ndarray, ...]] | None = None  # last tick's matrices of every level
        self._seen_cache: dict[str, np.ndarray] | None = None  # per level: inputs ever delivered in each area
        self._funnel_state: dict[str, np.ndarray] = {}  # per level: funnel severities of its funnel rows
        self._funnel_p: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # per level: p-values, valid cells of those rows
        self._waiting: dict[str, np.ndarray] = {}  # per level: rows with a cell waiting out a duration (pending)
        self._oldest_by_block: dict[str, np.ndarray] = {}  # per level: oldest data time per block (see _oldest)
        self.funnel_cells = 0  # cells judged by funnel limits in the last family (explanations show the limits)
        # Per area, one of its grids: whose feed an area record names as its source.
        self.first_grid = {level: self._first_grids(level) for level in LEVELS}
        self.set_catalog(catalog if isinstance(catalog, CompiledCatalog) else compile_catalog(catalog))

    def _chain(self) -> list[tuple[str, rollup.Segments]] | None:
        """Roll-up steps community <- grid, street <- community, district <- street, if the tree is sorted.

        Ids that carry their parent's id keep children contiguous; each level then aggregates its
        children's aggregates, so only the first step touches every grid. None: roll each level from grids.
        """
        steps = []
        for child, level in zip(LEVELS[:0:-1], LEVELS[-2::-1], strict=True):
            seg = rollup.Segments.of(self.tree.parent_index(child), len(self.tree.ids(level)))
            if seg is None:
                return None
            steps.append((level, seg))
        return steps

    def _first_grids(self, level: str) -> np.ndarray:
        first = np.zeros(len(self.tree.ids(level)), dtype=np.int64)
        parents, index = np.unique(self.parents[level][::-1], return_index=True)
        first[parents] = len(self.grid_ids) - 1 - index
        return first

    # -- configuration -------------------------------------------------------------
    def set_catalog(self, compiled: CompiledCatalog, now: float | None = None) -> None:
        """Swap in a compiled catalog, keeping the states of indicators that stay."""
        old_ids = self.ind_ids
        self.compiled, self.catalog, self.ind_ids = compiled, compiled.catalog, compiled.ind_ids
        self.recompute_all()  # what is kept is shaped for the old catalog
        self._ensure_metrics(compiled.metrics)
        self.own = {level: self.own.get(level, LevelValues(self.tree.ids(level))).for_metrics(metrics)
                    for level, metrics in compiled.own_metrics.items()}
        self._own_primary = {}  # per such level and row, the row of its first metric there (-1: not read there)
        for level, rows in compiled.own_rows.items():
            self._own_primary[level] = np.full(len(self.ind_ids), -1, dtype=np.int64)
            self._own_primary[level][rows] = [self.own[level].metric_pos[compiled.primary[r]] for r in rows]
        self.primary = np.array([self.metric_pos[m] for m in compiled.primary], dtype=np.int64)
        self._reads = np.zeros((len(self.ind_ids), len(self.metric_ids)), dtype=bool)  # rows x metrics they read
        for row, metrics in enumerate(compiled.reads):
            self._reads[row, [self.metric_pos[m] for m in metrics]] = True
        self._readers = _Readers.of(self._reads)
        self._plain = _PlainRows.of(compiled, self.metric_pos)
        self._limits_cache.clear()
        self._limits_asked: tuple = (None, (), None)  # (time, profiles switched on), its active key, local time
        self._carry_tracks(old_ids, now if now is not None else float(np.nanmax(self.ts, initial=0.0)))  # NaN: never

    @property
    def rules(self) -> dict[str, dict[int, tuple[str, str, str]]]:
        """Per indicator, per rule code it can use: (rule label, yellow, red) as shown."""
        return self.compiled.rules

    @property
    def stale_after(self) -> np.ndarray:
        """Seconds after which each indicator's data is stale (one column, in row order)."""
        return self.compiled.stale_after

    def _carry_tracks(self, old_ids: list[str], now: float) -> None:
        """New tracks for the catalog's rows: the rows of indicators that stay keep their state."""
        keep = [old_ids.index(i) if i in old_ids else -1 for i in self.ind_ids]
        rows = [r for r, k in enumerate(keep) if k >= 0]
        kept = [keep[r] for r in rows]
        for level in LEVELS:
            track = classify.Track.new((len(self.ind_ids), len(self.tree.ids(level))), now)
            old = self.tracks.get(level)
            if old is not None:
                for name in _TRACKED:
                    getattr(track, name)[rows] = getattr(old, name)[kept]
            self.tracks[level] = track
            self.written.pop(level, None)
            self._waiting.pop(level, None)
            self._unsettled[level] = np.zeros(track.state.shape, dtype=bool)

    def recompute_all(self) -> None:
        """Drop the grid values and roll-ups kept from the last tick: the next tick computes every indicator anew."""
        self._parts = self._fresh = self._rolled = self._seen_cache = None
        self._funnel_state, self._funnel_p = {}, {}
        self._waiting, self._oldest_by_block = {}, {}

    def _ensure_metrics(self, metrics: list[str]) -> None:
        new = [m for m in metrics if m not in self.metric_ids]
        if not new:
            return
        g = len(self.grid_ids)
        self.metric_ids += new
        self.values = np.vstack([self.values, np.full((len(new), g), np.nan)])
        self.ts = np.vstack([self.ts, np.full((len(new), g), np.nan)])
        self.feed = np.vstack([self.feed, np.zeros((len(new), g), dtype=np.int16)])
        self.metric_pos = {m: i for i, m in enumerate(self.metric_ids)}
        self._moved = np.ones(len(self.metric_ids), dtype=bool)
        self._moved_whole = np.ones(len(self.metric_ids), dtype=bool)

    # -- input ---------------------------------------------------------------------
    def ingest(self, samples: list[Sample], feed: str = "?") -> IngestStats:
        """Apply samples; for each (metric, grid) only a newer timestamp replaces the value held."""
        if not samples:
            return IngestStats()
        metric, area, ts, value = zip(*samples, strict=True)
        return self.ingest_columns(Columns(list(metric), list(area), np.array(ts, float), np.array(value, float)), feed)

    def ingest_columns(self, cols: Columns, feed: str = "?") -> IngestStats:
        """Apply samples given as columns (vectorised); newest wins per (metric, area).

        Samples of grids go to the grid matrices; those of another level's areas to that level's
        own values, for the indicators that read them (see :func:`indicators.held.apply_newest`
        for late, duplicate and superseded samples).
        """
        n = len(cols.metric)
        if not n:
            return IngestStats()
        rows = positions(self.metric_pos, cols.metric)
        grid = positions(self.grid_pos, cols.area)
        usable = np.isfinite(cols.value) & np.isfinite(cols.ts)
        known = (rows >= 0) & (grid >= 0) & usable
        code = self._feed_code(feed)
        cells = rows[known] * len(self.grid_ids) + grid[known]
        before = np.take(self.values, cells)
        flat, stats = apply_newest(self.values, self.ts, self.feed, rows[known], grid[known], cols.ts[known],
                                   cols.value[known], code)
        self._value_moved.append(cells[before != np.take(self.values, cells)])  # a value sent again moves no state
        self._touched.append(flat)
        self._moved[flat // len(self.grid_ids)] = True
        rest = np.flatnonzero(usable & (grid < 0))
        for own in self.own.values():
            if not rest.size:
                break
            mine, own_stats = own.ingest([cols.metric[i] for i in rest], [cols.area[i] for i in rest], cols.ts[rest],
                                         cols.value[rest], code)
            stats, rest = stats + own_stats, rest[~mine]
        stats.unknown = n - stats.accepted - stats.late - stats.duplicate - stats.superseded
        return stats

    def restore_states(self, warnings: list[dict]) -> int:
        """Take back the warning states (their since, and a state pending) a previous engine wrote; returns how many.

        Hysteresis depends on the state held, so a restarted engine must not forget a warning.
        Normal cells start stale and turn normal on the first tick (their ``since`` restarts), unless
        their level is taken back whole (:meth:`resume`).
        """
        restored = self.take_back_warnings(warnings, LEVELS)
        self.recompute_all()  # a restored state is to be judged on the next tick
        return restored

    def take_back_warnings(self, warnings: list[dict], levels: Iterable[str]) -> int:
        """The warning states of ``levels`` into their tracks, and nothing else (see :meth:`restore_states`)."""
        position = {level: {a: i for i, a in enumerate(self.tree.ids(level))} for level in LEVELS}
        rows = {ind: r for r, ind in enumerate(self.ind_ids)}
        restored = 0
        for w in warnings:
            key = WarningKey.of(w)
            r, c = rows.get(key.indicator), position.get(w.get("level", ""), {}).get(key.area)
            if r is None or c is None or w["level"] not in levels:
                continue  # an indicator or area that no longer exists, or a level not asked for
            track = self.tracks[w["level"]]
            track.state[r, c], track.since[r, c] = State[w["s"].upper()], w["since"]
            if w.get("p"):  # the minimum duration it was waiting out goes on counting
                track.pending[r, c], track.pending_since[r, c] = State[w["p"].upper()], w["ps"]
            restored += 1
        return restored

    def expect_written(self, at: float) -> dict[str, classify.Limits]:
        """Take the store to hold what the rules in force at ``at`` gave (before :meth:`resume`); returns them.

        A first tick whose rules differ writes every record again, as after a change of thresholds.
        """
        self._written_limits = self.limits(at)
        return self._written_limits

    def resume(self, level: str, rows: Iterable[tuple[int, np.ndarray]], lim: classify.Limits, last_now: float,
               oldest: np.ndarray | None = None) -> bool:
        """Take back one level's states and records as the engine before wrote them; returns whether it could.

        ``rows``: (row, ``store.STATE_CELL`` cells) of each indicator, written by a tick at ``last_now``.
        The restarted engine then goes on from the states it left (since and pending since exact, so
        minimum durations and clearing countdowns go on counting) and writes only what moves, not every
        record again. Every row must be there, each under the rules of ``lim`` (the same rule codes: see
        :meth:`expect_written`); else the level starts over (stale until judged, as on a first start) and
        False is returned. ``oldest``: the oldest data times the area summaries were written with (see
        ``LevelResult.oldest``; None: unknown, every summary is written again). It may run on a thread of
        its own while a first tick rolls up (``resuming``): it touches only the level's track and written
        snapshot.
        """
        track = self.tracks[level]
        shape = track.state.shape
        value, ts = np.full(shape, np.nan, dtype=np.float32), np.full(shape, np.nan, dtype=np.float32)
        found = 0
        for k, cells in rows:
            if not (cells["rule"] == lim.source[k]).all():
                break
            track.state[k], track.pending[k], track.judged[k] = cells["s"], cells["p"], cells["j"]
            track.since[k], track.pending_since[k] = cells["since"], cells["ps"]
            value[k] = cells["v"]
            ts[k] = cell_times(cells["ts"]) - last_now
            found += 1
        if found < shape[0]:
            self.tracks[level] = classify.Track.new(shape, track.last_now)
            return False
        track.last_now = last_now
        if oldest is None:
            oldest = np.full((1 + len(DOMAINS), shape[1]), np.nan)
        self.written[level] = Written(value, ts, oldest, last_now)
        self._waiting.pop(level, None)
        return True

    def kept(self) -> tuple[dict[str, np.ndarray], dict[str, float]] | None:
        """What this engine keeps from its last tick for the next, by name: arrays, and numbers; None before one.

        Grid values and roll-ups, freshness, funnel probabilities, states and the written snapshot:
        :meth:`take_kept` on a new engine (same hierarchy and catalog) then ticks on as this one would
        (see ``indicators/snapshot.py``).
        """
        if self._parts is None or self._rolled is None or not self.records or set(self.written) != set(LEVELS):
            return None
        p = self._parts
        arrays = {"values": self.values, "ts": self.ts, "feed": self.feed, "parts.value": p.value.own,
                  "parts.ts": p.ts.own, "parts.num": p.num.own, "parts.den": p.den.own, "fresh": self._fresh,
                  "oldest_fresh": self._oldest_fresh}
        scalars = {"fresh_now": self._fresh_now}
        for level in LEVELS:
            track, written = self.tracks[level], self.written[level]
            arrays |= {f"{level}.seen": self._seen_cache[level], f"{level}.written.value": written.value,
                       f"{level}.written.ts": written.ts, f"{level}.written.oldest": written.oldest}
            arrays |= {f"{level}.track.{name}": getattr(track, name) for name in _TRACKED if name not in _TIMES}
            arrays |= {f"{level}.track.{name}.{part}": a for name in _TIMES
                       for part, a in getattr(track, name).parts().items()}
            arrays[f"{level}.unsettled"] = self._unsettled[level]
            scalars |= {f"{level}.last_now": track.last_now, f"{level}.written.base": written.base}
            if level in self._oldest_by_block:
                arrays[f"{level}.oldest_block"] = self._oldest_by_block[level]
            if level in self._funnel_state:
                arrays[f"{level}.funnel_state"] = self._funnel_state[level]
                arrays[f"{level}.funnel_p"], arrays[f"{level}.funnel_valid"] = self._funnel_p[level]
            if level != "grid":
                arrays |= {f"{level}.rolled.{k}": a for k, a in enumerate(self._rolled[level])}
        return arrays, scalars

    def take_kept(self, arrays: dict[str, np.ndarray], scalars: dict[str, float]) -> None:
        """Go on from what :meth:`kept` gave, on a new engine of the same hierarchy and catalog.

        The values held are those kept too (instead of :meth:`load_latest`), with their feed codes as
        numbered then (:meth:`adopt_feeds` names them); the next tick computes only what arrives. A
        shape that does not fit raises ValueError, and nothing is taken.
        """
        n = len(self.ind_ids)
        value = self._plain.values(arrays.get("values", self.values), n)
        num, den = rollup.grid_pieces([i.rollup for i in self.catalog.indicators], value, self.population)
        ts = self._plain.times(arrays.get("ts", self.ts), n)
        shapes = self._kept_shapes() | {"parts.num": num.own.shape, "parts.den": den.own.shape,
                                        "parts.ts": ts.own.shape, "parts.value": value.own.shape}
        wrong = sorted(n for n, s in shapes.items() if n not in arrays or arrays[n].shape != s)
        wrong += sorted(({"fresh_now"} | {f"{lv}.{n}" for lv in LEVELS for n in ("last_now", "written.base")})
                        - set(scalars))
        if wrong:
            raise ValueError(f"kept arrays do not fit this engine: {', '.join(wrong[:5])}")
        times = {(level, name): classify.UniformRows.of_parts(
                     *(arrays[f"{level}.track.{name}.{part}"] for part in ("uniform", "rows", "own")),
                     len(self.tree.ids(level))) for level in LEVELS for name in _TIMES}
        num.own, den.own, ts.own = arrays["parts.num"], arrays["parts.den"], arrays["parts.ts"]
        value.own = arrays["parts.value"]
        self._parts = rollup.GridParts(value, num, den, ts)
        self._fresh, self._oldest_fresh, self._fresh_now = arrays["fresh"], arrays["oldest_fresh"], scalars["fresh_now"]
        self._seen_cache = {level: arrays[f"{level}.seen"] for level in LEVELS}
        self._rolled = {level: tuple(arrays[f"{level}.rolled.{k}"] for k in range(5)) for level in LEVELS
                        if level != "grid"}
        self._oldest_by_block = {level: arrays[f"{level}.oldest_block"] for level in LEVELS
                                 if f"{level}.oldest_block" in arrays}
        self._funnel_state = {level: arrays[f"{level}.funnel_state"] for level in LEVELS
                              if f"{level}.funnel_state" in arrays}
        self._funnel_p = {level: (arrays[f"{level}.funnel_p"], arrays[f"{level}.funnel_valid"])
                          for level in self._funnel_state}
        self._waiting = {}
        for level in LEVELS:
            self.tracks[level] = classify.Track(*(times[level, name] if name in _TIMES
                                                  else arrays[f"{level}.track.{name}"] for name in _TRACKED),
                                                last_now=scalars[f"{level}.last_now"])
            self.written[level] = Written(arrays[f"{level}.written.value"], arrays[f"{level}.written.ts"],
                                          arrays[f"{level}.written.oldest"], scalars[f"{level}.written.base"])
        self.values, self.ts, self.feed = arrays["values"], arrays["ts"], arrays["feed"]
        self._moved = np.zeros(len(self.metric_ids), dtype=bool)
        self._moved_whole = np.zeros(len(self.metric_ids), dtype=bool)
        self._value_moved = []
        self._unsettled = {level: arrays[f"{level}.unsettled"] for level in LEVELS}

    def _kept_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shapes of the arrays :meth:`kept` gives that every engine of this hierarchy and catalog has."""
        n, g = len(self.ind_ids), len(self.grid_ids)
        shapes = {"values": self.values.shape, "ts": self.ts.shape, "feed": self.feed.shape,
                  "fresh": (n, g), "oldest_fresh": (n,)}
        for level in LEVELS:
            cells = (n, len(self.tree.ids(level)))
            shapes |= {f"{level}.seen": cells, f"{level}.written.value": cells, f"{level}.written.ts": cells,
                       f"{level}.written.oldest": (1 + len(DOMAINS), cells[1])}
            shapes |= {f"{level}.track.{name}": cells for name in _TRACKED if name not in _TIMES}
            shapes |= {f"{level}.track.{name}.uniform": cells[:1] for name in _TIMES}
            shapes[f"{level}.unsettled"] = cells
            if level != "grid":
                shapes |= {f"{level}.rolled.{k}": cells for k in range(5)}
        return shapes

    def adopt_feeds(self, published: list[str]) -> None:
        """Number feeds as ``published`` does (then ours it lacks), so codes persisted in Redis keep their names."""
        merged = list(published) + [f for f in self.feeds if f not in published]
        if merged[: len(self.feeds)] == self.feeds:
            self.feeds = merged
            return
        recode = np.array([merged.index(f) for f in self.feeds], dtype=np.int16)
        self.feed, self.feeds = recode[self.feed], merged

    def load_latest(self, metric: str, cells: np.ndarray) -> int:
        """Take back one metric's persisted latest values (``store.CELL`` per grid); newest wins; returns how many."""
        row = self.metric_pos.get(metric)
        if row is None:
            return 0
        self._moved[row] = self._moved_whole[row] = True
        return load_cells(self.values, self.ts, self.feed, row, cells)

    def take_touched(self) -> tuple[np.ndarray, np.ndarray]:
        """(metric rows, grid columns) whose values changed since the last call: the latest values to persist."""
        if len(self._touched) == 1:  # one batch: apply_newest gives its cells sorted and unique already
            flat = self._touched[0]
        else:
            flat = np.unique(np.concatenate(self._touched)) if self._touched else np.empty(0, dtype=np.int64)
        self._touched = []
        return np.divmod(flat, len(self.grid_ids))

    def _feed_code(self, feed: str) -> int:
        if feed not in self.feeds:
            self.feeds.append(feed)
        return self.feeds.index(feed)

    def source_codes(self, level: str, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Return the feed codes (into ``feeds``) behind cells: the feed of each indicator's first metric."""
        codes = self.feed[self.primary[rows], self.first_grid[level][cols]]
        own = self.own.get(level)
        if own is None:
            return codes
        at = self._own_primary[level][rows]  # the row of its first metric among the level's own values (-1: none)
        return np.where(at >= 0, own.feed[np.maximum(at, 0), cols], codes)

    # -- scoring -------------------------------------------------------------------
    def grid_parts(self) -> rollup.GridParts:
        """Compute every indicator's grid-level value (formulas in dependency order).

        Rows whose metrics (read directly or through other indicators) took no new value since
        the last call are kept as they were: feeds deliver a few metrics at a time.
        """
        n_ind, g = len(self.ind_ids), len(self.grid_ids)
        first = self._parts is None
        if first:  # every row is set below; numerators and denominators only where they are not value, 1 or residents,
            value = self._plain.values(self.values, n_ind)  # values and data times where they are not one metric's
            self._parts = rollup.GridParts(value, *rollup.grid_pieces([i.rollup for i in self.catalog.indicators],
                                                                      value, self.population),
                                           self._plain.times(self.ts, n_ind))
        kept = self._parts
        todo = self._regrid = np.ones(n_ind, dtype=bool) if first else (self._reads & self._moved).any(axis=1)
        self._plain.fill(kept, todo, self.values, self.ts, self.population)
        value, num, den, ts = kept.value, kept.num, kept.den, kept.ts
        by_name_value: dict[str, np.ndarray] = {m: self.values[k] for m, k in self.metric_pos.items()}
        by_name_ts: dict[str, np.ndarray] = {m: self.ts[k] for m, k in self.metric_pos.items()}
        for row in self._plain.named.tolist():  # a name that is a metric keeps meaning the metric
            by_name_value[self.ind_ids[row]], by_name_ts[self.ind_ids[row]] = value.row(row), ts.row(row)
        evaluator = SimpleEval(operators=OPERATORS, functions=FUNCTIONS, names=by_name_value)
        ones = np.ones(g)
        for row in self._plain.formulas[todo[self._plain.formulas]].tolist():  # in order: inputs first
            value[row], num[row], den[row], ts[row] = self._source_row(self.catalog.indicators[row], evaluator,
                                                                       by_name_ts, ones, self.population)
        self._moved[:] = False
        return kept

    def _source_row(self, ind, evaluator: SimpleEval, by_name_ts: dict[str, np.ndarray], ones: np.ndarray,
                    population: np.ndarray) -> tuple[np.ndarray, ...]:
        """Value, numerator, denominator and data time of one indicator over the areas ``evaluator``'s names cover."""
        s, parsed, calls = ind.source, self.compiled.formulas.parsed[ind.id], self.compiled.formulas.calls[ind.id]
        if s.metric is not None:
            x, t = evaluator.names[s.metric], by_name_ts[s.metric]
            n, d = x, ones
        else:
            t = np.full(ones.size, np.inf)
            for name in self.compiled.formulas.inputs[ind.id]:
                t = np.minimum(t, by_name_ts[name])  # oldest input decides; a missing one (NaN) makes it stale
            if "value" in parsed:
                x = _eval(evaluator, parsed["value"], s.formula, calls["value"])
                n, d = x, ones
            else:
                n = _eval(evaluator, parsed["num"], s.numerator, calls["num"])
                d = _eval(evaluator, parsed["den"], s.denominator, calls["den"])
                with np.errstate(divide="ignore", invalid="ignore"):
                    x = np.where(d != 0, n / np.where(d == 0, 1, d) * s.scale, np.nan)
        if ind.rollup == "rate_per_10k":
            n, d = x, population
            x = x / np.maximum(population, 1.0) * 1e4
        elif ind.rollup == "sum":
            d = population  # a count's exposure: the residents it happened among (for funnel limits)
        return x, n, d, t

    def _own_levels(self, rolled: dict[str, tuple[np.ndarray, ...]], seen: dict[str, np.ndarray], now: float) -> None:
        """Put the indicators read from a level's own samples into that level's matrices, in place of roll-ups.

        They are few (statistics published per district or street), so they are computed every tick.
        """
        c = self.compiled
        for level, own in self.own.items():
            names = {m: own.values[k] for m, k in own.metric_pos.items()}
            times = {m: own.ts[k] for m, k in own.metric_pos.items()}
            evaluator = SimpleEval(operators=OPERATORS, functions=FUNCTIONS, names=names)
            ones, population = np.ones(len(own.area_ids)), self.tree.population(level)
            value, ts, cov, num, den = rolled[level]
            for row in c.own_rows[level].tolist():
                ind = self.catalog.indicators[row]
                x, n, d, t = self._source_row(ind, evaluator, times, ones, population)
                names[ind.id], times[ind.id] = x, t  # read by the level's other own indicators
                has = np.isfinite(n) & np.isfinite(d) if c.binomial[row] else np.isfinite(x)
                with np.errstate(invalid="ignore"):
                    fresh = has & (now - t <= c.stale_after[row, 0])
                value[row], ts[row], cov[row] = np.where(fresh, x, np.nan), t, fresh
                num[row], den[row] = np.where(fresh, n, np.nan), np.where(fresh, d, np.nan)
                seen[level][row] = np.isfinite(t)
                seen[LEVELS[0]][row] |= np.isfinite(t).any()  # some area has a source: a feed, not down

    def limits(self, now: float) -> dict[str, classify.Limits]:
        """Thresholds in force now at every level (rebuilt only when schedules or profiles change)."""
        asked = (now, frozenset(self.switched_on))
        if asked != self._limits_asked[0]:  # else asked again for the same tick (its early warnings): same key
            local = datetime.fromtimestamp(now, self.tz)
            active = thresholds.active_key(self.catalog, self.compiled.switchable, local, self.switched_on)
            self._limits_asked = (asked, active, local)
        _, key, local = self._limits_asked
        if key not in self._limits_cache:
            self._limits_cache.clear()
            self._limits_cache[key] = {
                level: _narrow(thresholds.resolve(self.catalog, level, self.tree.ids(level), local,
                                                  self.switched_on, self.compiled.labels))
                for level in LEVELS
            }
        return self._limits_cache[key]

    def tick(self, now: float) -> TickResult:
        """Score every indicator at every level; return states and what changed."""
        from_nothing = self._parts is None  # every row from nothing: whole matrices of temporaries
        # Judged cell by cell where what moved is known cell by cell: else (a start, everything computed anew,
        # the clock moved back, new thresholds) whole rows.
        incremental = self._rolled is not None and self._fresh is not None and now >= self._fresh_now
        parts = self.grid_parts()
        fresh, could_move = self._freshness(parts, now)
        limits = self.limits(now)
        redo = self._regrid.copy()
        flips = None
        if self._fresh is not None:
            flips = fresh[could_move] != self._fresh[could_move]
            redo[could_move] |= flips.any(axis=1)
        news = limits is not self._written_limits  # thresholds moved: every state is to judge, every record is news
        cells = self._inputs_moved(could_move, flips) if incremental and not news else None
        self._value_moved, self._moved_whole[:] = [], False
        if news:
            self._written_limits = limits
            redo[:] = True
        # Rows whose own inputs moved: only these are rolled up again and get new funnel probabilities.
        moved = redo.copy()
        funnel_all = self.compiled.evidence.funnel_all
        # Probabilities read counts and values only: a row whose values and freshness held keeps its own.
        counted = moved if cells is None else moved & cells[LEVELS[-1]].any(axis=1)
        self._fresh = fresh
        result = TickResult(now=now, levels={})
        rolled = self._roll(parts, fresh, moved)
        delivered_before = self._seen_cache[LEVELS[0]].copy() if self._seen_cache is not None else None
        seen = self._seen(parts, moved)
        self._own_levels(rolled, seen, now)
        severity_moved: dict[str, np.ndarray] = {}  # per funnel level, its funnel rows whose severities moved
        if counted[funnel_all].any():  # one family: a count that moved anywhere moves every adjusted probability
            funnels = self._judge_funnels(rolled, counted)
            severity_moved = {level: _rows_differ(self._funnel_state.get(level), sev) for level, sev in funnels.items()}
            if cells is not None:  # a funnel severity moves with the whole family: where it did, the cell is judged
                for level, sev in funnels.items():
                    r, c = np.nonzero(self._funnel_state.get(level, np.full(sev.shape, -1)) != sev)
                    cells[level][self.compiled.evidence.funnel_rows[level][r], c] = True
            self._funnel_state = funnels
        if cells is not None:
            # A row first delivered somewhere is judged everywhere ("delivered" reads the top level's areas);
            # a level's own indicators are computed anew every tick.
            anew = np.flatnonzero((delivered_before != self._seen_cache[LEVELS[0]]).any(axis=1))
            for level in LEVELS:
                cells[level][anew] = True
                cells[level][self.compiled.own_rows.get(level, anew[:0])] = True
        if self.resuming is not None:  # the states and records being taken back are needed from here on
            resuming, self.resuming = self.resuming, None
            resuming.result()
        if news:
            self.written.clear()
        for level in LEVELS:
            # A funnel row that did not move can change only where its funnel severities moved (at its
            # funnel levels); elsewhere, or with the same severities, it holds like any other row whose
            # inputs held still.
            judge = moved.copy()
            at = self.compiled.evidence.funnel_rows[level]
            judge[at] |= severity_moved.get(level, False)
            judge[self.compiled.own_rows.get(level, at[:0])] = True
            result.levels[level] = self._score_level(level, rolled[level], seen[level], limits[level], now,
                                                     result.transitions, judge, None if cells is None else cells[level])
        if from_nothing:  # the next ticks work on the rows that moved: the pages of those temporaries would stay unused
            malloc.give_back()
        return result

    def _inputs_moved(self, could_move: np.ndarray, flips: np.ndarray | None) -> dict[str, np.ndarray]:
        """Per level, the cells whose values, counts or freshness can have moved since the last tick.

        A grid cell moves where a metric it reads (directly or through other indicators: formulas
        work grid by grid) took another value, or where its freshness flipped (``flips``: of the
        rows ``could_move``); an area's cell where one of its grids' cells did. A value sent again
        unchanged moves only data times, which no state reads. Metrics written without a record
        of their cells (taken back from the store) move every cell of the rows that read them.
        """
        flat = np.concatenate(self._value_moved) if self._value_moved else np.empty(0, dtype=np.int64)
        metric, col = np.divmod(flat, len(self.grid_ids))
        rows, at = self._readers.rows_of(metric)
        flipped = np.nonzero(flips) if flips is not None else (at[:0], at[:0])
        r, c = np.concatenate([rows, could_move[flipped[0]]]), np.concatenate([col[at], flipped[1]])
        whole = self._reads[:, self._moved_whole].any(axis=1)
        out = {}
        for level in LEVELS:
            out[level] = np.zeros((len(self.ind_ids), len(self.tree.ids(level))), dtype=bool)
            out[level][r, self.parents[level][c]] = True
            out[level][whole] = True
        return out

    def score_root(self, rolled: tuple[np.ndarray, ...], seen: np.ndarray, now: float) -> TickResult:
        """Judge the top level alone from roll-ups made elsewhere: a province over the engines of its cities.

        ``rolled`` (value, ts, coverage, num, den) and ``seen`` (whether any grid ever delivered) are
        (indicators x 1), as a tick over the whole tree would have them; every indicator is judged.
        """
        top = LEVELS[0]
        if self.compiled.evidence.funnel_rows[top].size:  # a funnel needs every area's rate, not a summary
            raise ValueError(f"catalog {self.catalog.version}: funnel limits at the {top} level cannot be combined")
        self._seen_cache = {top: seen}
        result = TickResult(now=now, levels={})
        result.levels[top] = self._score_level(top, rolled, seen, self.limits(now)[top], now, result.transitions,
                                               np.ones(len(self.ind_ids), dtype=bool))
        return result

    def delivered(self, level: str) -> np.ndarray:
        """Whether any grid of each area of ``level`` ever delivered each indicator's inputs (after a tick)."""
        return self._seen_cache[level]

    def _freshness(self, parts: rollup.GridParts, now: float) -> tuple[np.ndarray, np.ndarray]:
        """Which grid cells hold current data, and the rows where that can differ from the last tick.

        Only rows with new grid values, or whose oldest fresh cell has now outlived its stale_after,
        are looked at again: in the others no cell took a value or crossed into staleness. Without a
        last tick (or with the clock moved back) every row is.
        """
        c = self.compiled
        rows = np.arange(len(self.ind_ids))
        if self._fresh is not None and now >= self._fresh_now:
            with np.errstate(invalid="ignore"):
                rows = np.flatnonzero(self._regrid | (now - self._oldest_fresh > self.stale_after[:, 0]))
            fresh = self._fresh.copy()
        else:
            fresh = np.zeros(parts.ts.shape, dtype=bool)
            self._oldest_fresh = np.full(len(self.ind_ids), np.nan)
        # A ratio whose inputs are fresh but whose denominator is 0 ("0 of 0") is fresh data without
        # a value: it rolls up (adding nothing) and shows as insufficient evidence, never as stale.
        sel = _selector(rows, len(self.ind_ids))  # every row (a start): views, not copies
        has_value = np.isfinite(parts.value[sel])
        ratios = np.flatnonzero(c.binomial[rows])  # a ratio needs both counts
        has_value[ratios] = np.isfinite(parts.num[rows[ratios]]) & np.isfinite(parts.den[rows[ratios]])
        ts = parts.ts[sel]
        fresh[sel] = has_value & (now - ts <= self.stale_after[sel])
        self._oldest_fresh[sel] = np.fmin.reduce(np.where(fresh[sel], ts, np.nan), axis=1)
        self._fresh_now = now
        return fresh, rows

    def _seen(self, parts: rollup.GridParts, redo: np.ndarray) -> dict[str, np.ndarray]:
        """Per level, whether any grid of each area ever delivered each indicator's inputs (kept between ticks).

        An indicator some areas deliver and others never did (a river gauge, an air station) is not
        judged where it has no source; one that no area ever delivered is stale (a feed that is down).
        """
        if self._seen_cache is None:
            self._seen_cache = {level: np.zeros((len(self.ind_ids), len(self.tree.ids(level))), dtype=bool)
                                for level in LEVELS}
            redo = np.ones(len(self.ind_ids), dtype=bool)
        # Data times only move on (a missing one to a number): a row delivered in every grid stays so.
        rows = np.flatnonzero(redo)
        rows = rows[~self._seen_cache[LEVELS[-1]][rows].all(axis=1)]
        ever = np.isfinite(parts.ts[rows])
        for level in LEVELS:
            n = len(self.tree.ids(level))
            flat = (np.arange(rows.size)[:, None] * n + self.parents[level][None, :])[ever]
            self._seen_cache[level][rows] = np.bincount(flat, minlength=rows.size * n).reshape(rows.size, n) > 0
        return self._seen_cache

    def _judge_funnels(self, rolled: dict[str, tuple[np.ndarray, ...]], moved: np.ndarray) -> dict[str, np.ndarray]:
        """Funnel severities per level (rows: ``funnel_rows[level]``), adjusted together as one family.

        A row's probabilities depend on that row's roll-ups only, so they are kept between ticks and
        computed again for the rows that ``moved``; the adjustment always takes the whole family.
        """
        c, ev = self.compiled, self.compiled.evidence
        p, valid = {}, {}
        for level, rows in ev.funnel_rows.items():
            if not rows.size:
                continue
            value, _, _, num, den = rolled[level]
            if level not in self._funnel_p:
                self._funnel_p[level] = (np.ones((rows.size, value.shape[1])), np.zeros((rows.size, value.shape[1]),
                                                                                        dtype=bool))
                todo = np.arange(rows.size)
            else:
                todo = np.flatnonzero(moved[rows])
            p[level], valid[level] = self._funnel_p[level]
            if not todo.size:
                continue
            sub = rows[todo]
            rate = np.empty((sub.size, value.shape[1]))
            refs = np.array([ev.funnel_reference[row] for row in sub.tolist()], dtype=object)
            for ref_level in set(refs.tolist()):  # the rows of one reference level at once
                k = np.flatnonzero(refs == ref_level)
                with np.errstate(divide="ignore", invalid="ignore"):
                    ref_rate = rolled[ref_level][3][sub[k]] / rolled[ref_level][4][sub[k]]
                rate[k] = ref_rate[:, self._ancestor(level, ref_level)]
            valid[level][todo] = np.isfinite(value[sub]) & c.judged_at[level][sub]
            p[level][todo] = funnel.p_values(num[sub], den[sub], rate, c.binomial[sub, None], c.higher[sub, None])
        m = int(sum(v.sum() for v in valid.values()))
        self.funnel_cells = m
        out = {}
        for level, pv in p.items():
            rows = ev.funnel_rows[level]
            # only the judged cells are tests: padding the family with p = 1 cells past its size m would cap
            # every q at m / cells and flag whole levels where few indicators have data
            out[level] = funnel.family_severity(pv, valid[level], m, ev.funnel_yellow[rows, None],
                                                ev.funnel_red[rows, None])
        return out

    def _ancestor(self, level: str, ancestor: str) -> np.ndarray:
        """Per area of ``level``, the index of its ancestor at the level ``ancestor`` (above it)."""
        index = np.arange(len(self.tree.ids(level)))
        for child in LEVELS[LEVELS.index(level):LEVELS.index(ancestor):-1]:
            index = self.tree.parent_index(child)[index]
        return index

    def _roll(self, parts: rollup.GridParts, fresh: np.ndarray, redo: np.ndarray) -> dict[str, tuple[np.ndarray, ...]]:
        """(value, ts, coverage) matrices of every level; a grid is its own parent (only staleness applies).

        Only the indicators in ``redo`` (new grid values, or grids that went stale or fresh) are
        rolled again; the matrices are kept from tick to tick, so they are valid until the next one.
        """
        if self._rolled is None:
            n = len(self.ind_ids)
            self._rolled = {level: tuple(np.full((n, len(self.tree.ids(level))), np.nan) for _ in range(5))
                            for level in LEVELS if level != "grid"}
            redo = np.ones(n, dtype=bool)
        out = self._rolled
        # A grid is its own pieces where fresh: no copy at province scale. Rows whose freshness moved
        # are in ``redo``, the others' values and freshness held: the same as a copy refreshed there.
        out["grid"] = (rollup.OnlyFresh(fresh, parts.value), parts.ts, rollup.OnlyFresh(fresh), parts.num, parts.den)
        scale = self.compiled.scale
        by_rule = [(rule, rule_rows[redo[rule_rows]]) for rule, rule_rows in self.compiled.rule_rows.items()]
        if self.chain is not None:  # every rule's rows in one pass per level
            rows = np.concatenate([r for _, r in by_rule])
            if rows.size:
                mix = rollup.Mix.of([(rule, r.size) for rule, r in by_rule])
                partial = rollup.start(mix, parts, rows, fresh[rows], self.population)
                for level, seg in self.chain:
                    partial = rollup.combine(mix, partial, seg)
                    self._put(out[level], rows, rollup.finish(mix, partial, self.grid_total[level], scale[rows]))
            return out
        for rule, rows in by_rule:
            if not rows.size:
                continue
            value = parts.value[rows]  # the numerators and denominators that are values, 1 or residents: no copy
            sub = rollup.GridParts(value, parts.num.take(rows, value), parts.den.take(rows, value), parts.ts[rows])
            for level in LEVELS[:-1]:
                self._put(out[level], rows, rollup.roll(rule, sub, fresh[rows], self.parents[level],
                                                        len(self.tree.ids(level)), self.population, scale[rows]))
        return out

    @staticmethod
    def _put(target: tuple[np.ndarray, ...], rows: np.ndarray, rolled: rollup.Rolled) -> None:
        target[0][rows], target[1][rows], target[2][rows] = rolled.value, rolled.ts, rolled.coverage
        target[3][rows], target[4][rows] = rolled.num, rolled.den

    def _score_level(self, level: str, rolled: tuple[np.ndarray, ...], seen: np.ndarray, lim: classify.Limits,
                     now: float, transitions: list[Transition], redo: np.ndarray,
                     moved_cells: np.ndarray | None = None) -> LevelResult:
        """Judge the indicators whose values moved (``redo``) or wait out a duration; the rest hold.

        With ``moved_cells`` (cells whose inputs can have moved, see :meth:`_inputs_moved`) only those
        cells of the rows are judged, with the cells waiting out a duration and those whose state
        changed when last judged (hysteresis reads the state held): any other cell asked for the
        state it holds when last judged, on the same inputs, and would again.
        """
        area_ids = self.tree.ids(level)
        value, ts, cov, num, den = rolled
        track = self.tracks[level]
        waiting = self._waiting.get(level)
        if waiting is None:
            waiting = self._waiting[level] = (track.pending != classify.NO_PENDING).any(axis=1)
        moved = np.flatnonzero(redo | waiting)
        rows = moved[self._may_change(level, track, moved)]  # the others' records may move, not their states
        moved_sel = _selector(moved, len(self.ind_ids))
        moved_before = (track.state[moved_sel].copy(), track.pending[moved_sel].copy()) if self.records else None
        unsettled = self._unsettled[level]
        if moved_cells is None:
            sel = _Cells(rows, None, len(self.ind_ids))
        else:
            sub_rows, cols = np.nonzero(moved_cells[rows] | unsettled[rows] |
                                        (track.pending[rows] != classify.NO_PENDING))
            sel = _Cells(rows[sub_rows], cols, len(self.ind_ids))
        sub = classify.Track(*(sel.of(getattr(track, name)) for name in _TRACKED), track.last_now)
        before = sub.state.copy()
        # a cell that has held normal, yellow or red before: its changes are news, a first judgement is not
        had_state = (sub.judged != Code.NOT_JUDGED) | (before >= Code.YELLOW)
        want = self._want(level, sel, rolled, seen, sub.state, lim)
        changed = classify.advance(sub, want, now, sel.of(self.compiled.min_duration),
                                   sel.of(self.compiled.clear_after))
        for name in _TRACKED:
            sel.put(getattr(track, name), getattr(sub, name))
        sel.put(unsettled, changed)
        track.last_now = now
        waiting[rows] = (track.pending[rows] != classify.NO_PENDING).any(axis=1)
        # A first judgement, after a (re)start or of a cell whose first data came late, is a change only
        # when it is a warning: no log flood of cells leaving "stale" for "normal" as the feeds come in.
        logged = changed & (had_state | (sub.state >= Code.YELLOW))
        t_rows, t_cols = sel.cells(logged)
        k_at = np.flatnonzero(logged.ravel())
        yellow, red = self.threshold_texts(lim, t_rows, t_cols)
        for r, c, k, y, rd in zip(t_rows.tolist(), t_cols.tolist(), k_at.tolist(), yellow, red, strict=True):
            transitions.append(Transition(
                self.ind_ids[r], level, area_ids[c], State(before.flat[k]).label, State(sub.state.flat[k]).label,
                float(value[r, c]), y, rd, now))
        fresh_start = level not in self.written
        records = (None,) * 5
        if moved_before is not None:
            cleared = np.zeros(value.shape, dtype=bool)
            if not fresh_start:
                sel.put(cleared, (before >= Code.YELLOW) & (sub.state < Code.YELLOW))
            oldest = self._oldest(level, ts, redo)
            records = (*self._dirty(level, value, ts, track, moved_sel, oldest, moved_before), oldest, cleared)
        return LevelResult(level, area_ids, value, ts, cov, num, den, track.state, track.since, track.pending,
                           track.pending_since, lim, *records, track.judged, moved, fresh_start=fresh_start)

    def _may_change(self, level: str, track: classify.Track, rows: np.ndarray) -> np.ndarray:
        """Which of ``rows`` a judgement can change at ``level``.

        An indicator not judged at a level is NOT_JUDGED in all its areas there once judged once, and
        every later judgement leaves it so: only such a row still holding another state, or a pending
        one (a new catalog, restored warnings), needs judging again.
        """
        unjudged = np.flatnonzero(~self.compiled.judged_at[level][rows, 0])
        idle = rows[unjudged]
        settled = ((track.state[idle] == Code.NOT_JUDGED) & (track.pending[idle] == classify.NO_PENDING)).all(axis=1)
        out = np.ones(rows.size, dtype=bool)
        out[unjudged[settled]] = False
        return out

    def _want(self, level: str, sel: _Cells, rolled: tuple[np.ndarray, ...], seen: np.ndarray, prev: np.ndarray,
              lim: classify.Limits) -> np.ndarray:
        """The states the data asks for in the cells ``sel`` judges: thresholds, evidence and funnel limits."""
        value, cov = sel.of(rolled[0]), sel.of(rolled[2])
        fresh = cov > 0  # some grid delivered current data (a 0-of-0 ratio has no value: insufficient)
        delivered = sel.of(seen) | ~sel.of(self._seen_cache[LEVELS[0]].any(axis=1, keepdims=True))  # else: dead feed
        c, ev = self.compiled, self.compiled.evidence
        judged = sel.of(c.judged_at[level]) & delivered & ~(sel.of(c.per_resident) &
                                                             sel.areas(self.no_resident_rate[level]))
        enough, few = np.isfinite(value), np.zeros(value.shape, dtype=bool)
        at = np.flatnonzero(sel.of(ev.has_evidence))  # the rows (cells) with a minimum of evidence: their counts only
        e = sel.take(at)
        with np.errstate(invalid="ignore"):
            enough[at] &= e.of(rolled[4]) >= e.of(ev.min_denominator)
            few[at] = e.of(c.higher[:, None]) & (e.of(rolled[3]) < e.of(ev.min_events))
        limits = self._limits_of(level, lim, sel.rows) if sel.cols is None else \
            classify.Limits(*(sel.of(a) for a in (lim.yellow_low, lim.yellow_high, lim.red_low, lim.red_high,
                                                  lim.source)))
        want = classify.wanted(value, fresh, prev, limits, sel.of(c.hysteresis), judged, enough, few)
        if ev.funnel_rows[level].size and level in self._funnel_state:
            position = self._funnel_position(level)
            at = np.flatnonzero(sel.of(position) >= 0)  # the rows (cells) judged by funnel limits
            f = sel.take(at)
            want[at] = classify.gate(f.of(self._funnel_state[level], position), fresh[at], judged[at])
        return want

    def _funnel_position(self, level: str) -> np.ndarray:
        """(rows, 1): each row's position among the level's funnel rows (-1: none)."""
        position = np.full((len(self.ind_ids), 1), -1, dtype=np.int64)
        f_rows = self.compiled.evidence.funnel_rows[level]
        position[f_rows, 0] = np.arange(f_rows.size)
        return position

    def _limits_of(self, level: str, lim: classify.Limits, rows: np.ndarray) -> classify.Limits:
        """The limits of the ``rows`` judged at ``level``, kept while the same rows are judged under the same limits.

        Where area overrides make limits differ per area, the rows' copy is five (rows x areas)
        matrices; the funnel family is judged with the same rows tick after tick.
        """
        key = rows.tobytes()
        kept = self._limits_rows.get(level)
        if kept is None or kept[0] is not lim or kept[1] != key:
            kept = self._limits_rows[level] = (lim, key, _rows_of(lim, _selector(rows, len(self.ind_ids))))
        return kept[2]

    def _oldest(self, level: str, ts: np.ndarray, moved: np.ndarray) -> np.ndarray:
        """Oldest data time per area: of every indicator (row 0) and of each domain's macro indicators (rows 1..).

        The oldest time of each block of ``OLDEST_BLOCK`` rows of a group is kept: only the blocks
        with data times that may have ``moved`` are reduced again (a minimum of minima is exact).
        """
        blocks = _blocks(self.compiled.oldest_groups)
        by_block = self._oldest_by_block.get(level)
        if by_block is None:
            by_block = self._oldest_by_block[level] = np.full((len(blocks), ts.shape[1]), np.nan)
            moved = np.ones(len(self.ind_ids), dtype=bool)
        for k, (_, rows) in enumerate(blocks):
            if moved[rows].any():
                by_block[k] = np.fmin.reduce(ts[rows], axis=0)
        group_of = np.array([g for g, _ in blocks], dtype=np.int64)
        by_group = np.array([np.fmin.reduce(by_block[group_of == g], axis=0) if (group_of == g).any()
                             else np.full(ts.shape[1], np.nan) for g in range(len(self.compiled.oldest_groups))])
        domains = by_group[: len(DOMAINS)]
        return np.vstack([np.fmin.reduce(by_group, axis=0)[None, :], domains])

    def threshold_texts(self, lim: classify.Limits, rows: np.ndarray, cols: np.ndarray) -> tuple[list[str], list[str]]:
        """Yellow and red thresholds in force at the given cells, as shown (a band as ``[lo, hi]``)."""
        texts = [self.rules[self.ind_ids[r]][k] for r, k in zip(rows.tolist(), cells_of(lim.source, rows, cols),
                                                                strict=True)]
        return [t[1] for t in texts], [t[2] for t in texts]

    def _dirty(self, level: str, value: np.ndarray, ts: np.ndarray, track: classify.Track,
               rows: np.ndarray | slice, oldest: np.ndarray,
               before: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the cells to rewrite, those whose state changed, and the areas whose summary to rewrite.

        Only ``rows`` (indices, or a slice of all) can have moved since the last tick; ``before`` are
        their state and pending state before this tick (what the last tick wrote: every change is
        written). A cell is rewritten when its state or pending state changed or its value or data
        time moved beyond the tolerances; an area summary (states and the area's and its domains'
        oldest data times) when a state changed or one of those oldest times moved beyond the
        tolerance. Without a snapshot (a start) all of them.
        """
        state, pending = track.state, track.pending
        old = self.written.get(level)
        if old is None:
            self.written[level] = Written.of(value, ts, oldest, track.last_now)
            everything = np.ones(value.shape, dtype=bool)
            return everything, everything, np.ones(value.shape[1], dtype=bool)
        v, t = value[rows], ts[rows]
        same_value, same_ts = old.same(rows, v, t)
        with np.errstate(invalid="ignore"):
            same_oldest = ((np.abs(oldest - old.oldest) < TS_TOLERANCE_S) | (np.isnan(oldest) & np.isnan(old.oldest))
                           ).all(axis=0)
        dirty, state_changed = np.zeros(value.shape, dtype=bool), np.zeros(value.shape, dtype=bool)
        state_changed[rows] = before[0] != state[rows]
        dirty[rows] = state_changed[rows] | (before[1] != pending[rows]) | ~same_ts | ~same_value
        summary = state_changed[rows].any(axis=0) | ~same_oldest
        old.keep(rows, dirty[rows], v, t)
        np.copyto(old.oldest, oldest, where=summary[None, :])
        return dirty, state_changed, summary


_TRACKED = ("state", "since", "pending", "pending_since", "judged")  # a Track's arrays, in its order
_TIMES = ("since", "pending_since")  # those kept as classify.UniformRows


@dataclass(frozen=True)
class _Cells:
    """The cells a level's judgement takes: whole rows (matrices of rows x areas), or single cells (vectors).

    Each method gives what indexing the full matrices gives for those cells, so the judgement reads
    the same either way.
    """

    rows: np.ndarray  # whole rows: the rows (sorted); single cells: each cell's row
    cols: np.ndarray | None  # each cell's column (None: whole rows)
    n: int  # rows of the full matrices

    def of(self, matrix: np.ndarray, position: np.ndarray | None = None) -> np.ndarray:
        """The cells of a (rows x areas) matrix, or of a (rows x 1) column (broadcast over areas).

        ``position`` (rows x 1): the matrix holds only some rows, each row's at its position there.
        """
        rows = self.rows if position is None else position[self.rows, 0]
        if self.cols is None:
            return matrix[_selector(rows, self.n) if position is None else rows]
        return matrix[rows, self.cols if matrix.shape[1] > 1 else 0]

    def areas(self, matrix: np.ndarray) -> np.ndarray:
        """The cells of a (1 x areas) matrix, the same for every row."""
        return matrix if self.cols is None else matrix[0, self.cols]

    def put(self, matrix: np.ndarray, cells: np.ndarray) -> None:
        """Set the cells of a (rows x areas) matrix."""
        if self.cols is None:
            matrix[_selector(self.rows, self.n)] = cells
        else:
            matrix[self.rows, self.cols] = cells

    def take(self, at: np.ndarray) -> _Cells:
        """Some of these rows (whole rows) or cells (single cells), by their positions here."""
        return _Cells(self.rows[at], None if self.cols is None else self.cols[at], self.n)

    def cells(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, columns) of the full matrices where ``mask`` (one of this selection's matrices) holds."""
        if self.cols is None:
            sub_rows, cols = np.nonzero(mask)
            return self.rows[sub_rows], cols
        at = np.flatnonzero(mask)
        return self.rows[at], self.cols[at]


@dataclass(frozen=True)
class _Readers:
    """Per metric, the rows reading it (directly or through other indicators), as one sorted index."""

    start: np.ndarray  # per metric, its first entry in ``rows``
    count: np.ndarray  # per metric, how many rows read it
    rows: np.ndarray

    @classmethod
    def of(cls, reads: np.ndarray) -> _Readers:
        """From the (rows x metrics) matrix of what each row reads."""
        metric, rows = np.nonzero(reads.T)
        count = np.bincount(metric, minlength=reads.shape[1])
        return cls(np.cumsum(count) - count, count, rows)

    def rows_of(self, metrics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each of ``metrics`` (one per cell), the rows reading it: (rows, the position of their metric)."""
        count = self.count[metrics]
        at = np.repeat(np.arange(metrics.size), count)
        first = np.cumsum(count) - count
        return self.rows[self.start[metrics][at] + np.arange(at.size) - first[at]], at


@dataclass(frozen=True)
class _PlainRows:
    """Rows read straight from metrics: one metric, or a ratio of two (most of a catalog), computed at once.

    :meth:`fill` computes what :meth:`Engine._source_row` does for them, operation for operation
    (the same values, bit for bit), with one gather per array instead of a formula evaluation per row.
    """

    rows: np.ndarray  # those rows
    num: np.ndarray  # the metric row each reads (a ratio's numerator)
    den: np.ndarray  # a ratio's denominator metric row (-1: the row is the metric's value)
    scale: np.ndarray  # (rows, 1): a ratio's scale
    per_10k: np.ndarray  # per row: a rate per 10,000 residents (divided by the population)
    residents: np.ndarray  # per row: its exposure is the grid's residents (rates and counts)
    formulas: np.ndarray  # the other rows, in catalog order (a formula after the indicators it reads)
    named: np.ndarray  # rows whose id formulas may read (ids that are no metric's name)

    @classmethod
    def of(cls, compiled: CompiledCatalog, metric_pos: dict[str, int]) -> _PlainRows:
        """Sort a catalog's rows by source, with the metric rows of ``metric_pos``."""
        inds = compiled.catalog.indicators
        reads = [_plain_metrics(i, compiled.formulas.parsed[i.id], metric_pos) for i in inds]
        rows = np.array([r for r, m in enumerate(reads) if m is not None], dtype=np.int64)
        plain = [reads[r] for r in rows.tolist()]
        rollups = np.array([inds[r].rollup for r in rows.tolist()], dtype=object)
        return cls(rows, np.array([metric_pos[m[0]] for m in plain], dtype=np.int64),
                   np.array([metric_pos[m[1]] if len(m) > 1 else -1 for m in plain], dtype=np.int64),
                   np.array([[inds[r].source.scale] for r in rows.tolist()], dtype=float).reshape(-1, 1),
                   rollups == "rate_per_10k", np.isin(rollups, ("rate_per_10k", "sum")),
                   np.array([r for r, m in enumerate(reads) if m is None], dtype=np.int64),
                   np.array([r for r, i in enumerate(inds) if i.id not in metric_pos], dtype=np.int64))

    def values(self, values: np.ndarray, n: int) -> rollup.SharedRows:
        """Values of ``n`` rows over grids: a row that is one metric as it is (no rate) is its row of ``values``."""
        return self._viewing(values, n, (self.den < 0) & ~self.per_10k)

    def times(self, ts: np.ndarray, n: int) -> rollup.SharedRows:
        """Data times of ``n`` rows over grids: a row of one metric is that metric's row of ``ts``."""
        return self._viewing(ts, n, self.den < 0)

    def _viewing(self, metric: np.ndarray, n: int, plain: np.ndarray) -> rollup.SharedRows:
        """Rows over grids that are views of ``metric``'s rows where ``plain`` (of :attr:`rows`), else their own.

        Views, so that they move as the metric's values arrive (the rows reading a metric that moved
        are computed again before any is read); a province's grids would otherwise hold a copy of
        8 bytes a cell. The other rows are set by :meth:`fill` and the formulas.
        """
        kind = np.full(n, rollup.OWN, dtype=np.int64)
        kind[self.rows[plain]] = self.num[plain]
        return rollup.SharedRows(kind, np.broadcast_to(np.nan, (n, metric.shape[1])), list(metric))

    def fill(self, parts: rollup.GridParts, todo: np.ndarray, values: np.ndarray, ts: np.ndarray,
             population: np.ndarray) -> None:
        """Set value, numerator, denominator and data time of the rows in ``todo`` from the held values."""
        pick = todo[self.rows]
        rows, num, den, per_10k, residents = (a[pick] for a in (self.rows, self.num, self.den, self.per_10k,
                                                                self.residents))
        ratio = den >= 0
        one, r = rows[~ratio], rows[ratio]
        parts.value[one] = values[num[~ratio]]  # a rate's (divided below): the others are their metric's, as times
        parts.num[one] = parts.value[one]
        n, d = values[num[ratio]], values[den[ratio]]
        parts.ts[r] = np.minimum(ts[num[ratio]], ts[den[ratio]])  # the oldest input decides
        with np.errstate(divide="ignore", invalid="ignore"):
            parts.value[r] = np.where(d != 0, n / np.where(d == 0, 1, d) * self.scale[pick][ratio], np.nan)
        parts.num[r], parts.den[r], parts.den[one] = n, d, 1.0
        rate = rows[per_10k]  # a rate's events are its value: then divided by the residents
        parts.num[rate] = parts.value[rate]
        parts.den[rows[residents]] = population
        parts.value[rate] = parts.value[rate] / np.maximum(population, 1.0) * 1e4


def _plain_metrics(ind, parsed: dict[str, ast.AST], metric_pos: dict[str, int]) -> tuple[str, ...] | None:  # noqa: ANN001
    """The metric a row is (its source, or a formula naming one), or the two of its ratio; None: a formula."""
    if ind.source.metric is not None:
        return (ind.source.metric,)
    names = [parsed["value"]] if "value" in parsed else [parsed["num"], parsed["den"]]
    if all(isinstance(t, ast.Name) and t.id in metric_pos for t in names):  # a name that is a metric means it
        return tuple(t.id for t in names)
    return None


@dataclass
class Written:
    """Of one level's records as last written, what telling a record that moved needs.

    Values as float32 (their rounding, about 6e-8 of the value, is far inside VALUE_TOLERANCE) and
    data times as float32 seconds after ``base`` (within a second for half a year, within 8 s for
    three: far inside TS_TOLERANCE_S); states need no copy, each change being written when it happens.
    """

    value: np.ndarray
    ts: np.ndarray
    oldest: np.ndarray  # per area, the oldest data times (see LevelResult.oldest), exact
    base: float  # the time data times are counted from

    @classmethod
    def of(cls, value: np.ndarray, ts: np.ndarray, oldest: np.ndarray, now: float) -> Written:
        """The snapshot of records all written at ``now`` (data times are kept as seconds from it)."""
        with np.errstate(over="ignore"):  # a value past float32's range is kept as infinite: always moved
            return cls(np.asarray(value, dtype=np.float32), (np.asarray(ts) - now).astype(np.float32), oldest.copy(),
                       now)

    def same(self, rows: np.ndarray | slice, value: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether the ``rows``' values and data times are within the tolerances of what was written."""
        wv, wt = self.value[rows], self.ts[rows]
        t = (ts - self.base).astype(np.float32)
        with np.errstate(invalid="ignore"):
            same_value = (np.abs(value - wv) <= VALUE_TOLERANCE * np.abs(wv)) | (np.isnan(value) & np.isnan(wv))
            same_ts = (np.abs(t - wt) < TS_TOLERANCE_S) | (np.isnan(t) & np.isnan(wt))
        return same_value, same_ts

    def keep(self, rows: np.ndarray | slice, dirty: np.ndarray, value: np.ndarray, ts: np.ndarray) -> None:
        """Take the ``dirty`` cells of ``rows`` as written now."""
        self.value[rows] = np.where(dirty, value, self.value[rows])
        self.ts[rows] = np.where(dirty, ts - self.base, self.ts[rows])


def _blocks(groups: list[np.ndarray]) -> list[tuple[int, np.ndarray]]:
    """The groups' rows in blocks of at most OLDEST_BLOCK rows, each with the index of its group."""
    return [(g, rows[k:k + OLDEST_BLOCK]) for g, rows in enumerate(groups) for k in range(0, rows.size, OLDEST_BLOCK)]


def _rows_differ(old: np.ndarray | None, new: np.ndarray) -> np.ndarray:
    """Per row, whether any cell differs between two matrices (every row when there is no ``old``)."""
    return np.ones(new.shape[0], dtype=bool) if old is None else (old != new).any(axis=1)


def _selector(rows: np.ndarray, n: int) -> np.ndarray | slice:
    """Index some rows: all of them as a slice, so that arrays are viewed rather than copied."""
    return slice(None) if rows.size == n else rows


def _rows_of(lim: classify.Limits, rows: np.ndarray | slice) -> classify.Limits:
    """The limits of some indicators only (a one-column matrix stays one column)."""
    return classify.Limits(*(a[rows] for a in (lim.yellow_low, lim.yellow_high, lim.red_low, lim.red_high,
                                               lim.source)))


def _eval(evaluator: SimpleEval, tree: ast.AST, text: str, call: Call | None) -> np.ndarray:
    """Evaluate a formula over the evaluator's named arrays (the names dict is read at call time).

    Compiled (``formula.compile_formula``), or else its parsed tree through the evaluator.
    """
    with np.errstate(all="ignore"):
        return np.asarray(evaluator.eval(text, previously_parsed=tree) if call is None else call(evaluator.names),
                          dtype=float)


def _narrow(lim: classify.Limits) -> classify.Limits:
    """Keep one column per indicator where no area override makes columns differ (they broadcast).

    At province scale full (indicators x grids) limit matrices would cost more memory than the values.
    """
    arrays = [lim.yellow_low, lim.yellow_high, lim.red_low, lim.red_high, lim.source]
    # NaN limits (rows judged by funnel limits) are the same everywhere too: compare them as equal
    same = (np.array_equal(a, np.broadcast_to(a[:, :1], a.shape), equal_nan=a.dtype.kind == "f") for a in arrays)
    if arrays[0].shape[1] > 1 and all(same):
        arrays = [a[:, :1].copy() for a in arrays]
    return classify.Limits(*arrays)


def cells_at(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Values of ``matrix`` at (rows, cols), also for a one-column matrix that broadcasts."""
    return matrix[rows, cols if matrix.shape[1] > 1 else 0]


def cells_of(matrix: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> list:
    """Values of ``matrix`` at (rows, cols) as a list, also for a one-column matrix that broadcasts."""
    return cells_at(matrix, rows, cols).tolist()
