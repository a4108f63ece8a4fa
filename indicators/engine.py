"""The in-memory indicator engine: latest metric values in, states at every level out.

It knows nothing of Redis or SQL (see ``indicators/service.py``): samples go in through
:meth:`Engine.ingest`, and :meth:`Engine.tick` returns what changed.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from simpleeval import SimpleEval

from cityvitals.areas import LEVELS, AreaTree
from cityvitals.store import Sample
from indicators import classify, rollup, thresholds
from indicators.formula import FUNCTIONS, OPERATORS
from indicators.loader import Catalog
from indicators.states import State


@dataclass
class IngestStats:
    """What happened to a batch of samples."""

    accepted: int = 0
    old: int = 0  # duplicate or older than the value already held (out-of-order policy: newest wins)
    unknown: int = 0  # metric or area the engine does not know (feeds should have refused them)


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
    state: np.ndarray
    since: np.ndarray
    limits: classify.Limits
    dirty: np.ndarray  # cells whose record changed since the last tick
    dirty_areas: np.ndarray  # areas with at least one dirty cell
    cleared: np.ndarray  # cells that left yellow or red this tick


@dataclass
class TickResult:
    """Everything a tick produced."""

    now: float
    levels: dict[str, LevelResult]
    transitions: list[Transition] = field(default_factory=list)


class Engine:
    """Hold metric values per grid and indicator states per level; score on each tick."""

    def __init__(self, tree: AreaTree, catalog: Catalog, tz: str = "Asia/Shanghai") -> None:
        self.tree = tree
        self.tz = ZoneInfo(tz)
        self.grid_ids = tree.ids("grid")
        self.grid_pos = {a: i for i, a in enumerate(self.grid_ids)}
        self.population = tree.population("grid")
        self.parents = {
            level: (tree.grid_ancestor_index(level) if level != "grid" else np.arange(len(self.grid_ids)))
            for level in LEVELS
        }
        self.metric_ids: list[str] = []
        self.values = np.empty((0, len(self.grid_ids)))
        self.ts = np.empty((0, len(self.grid_ids)))
        self.feed = np.empty((0, len(self.grid_ids)), dtype=np.int16)
        self.feeds: list[str] = ["?"]
        self.switched_on: set[str] = set()
        self.labels: list[str] = []
        self._limits_cache: dict[tuple, dict[str, classify.Limits]] = {}
        self.tracks: dict[str, classify.Track] = {}
        self.written: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.set_catalog(catalog)

    # -- configuration -------------------------------------------------------------
    def set_catalog(self, catalog: Catalog, now: float | None = None) -> None:
        """Swap in a validated catalog, keeping the states of indicators that stay."""
        old_ids = [i.id for i in getattr(self, "catalog", Catalog((), {}, (), "")).indicators]
        self.catalog = catalog
        self.ind_ids = [i.id for i in catalog.indicators]
        self._parsed = {
            i.id: {k: ast.parse(f, mode="eval").body for k, f in self._formulas(i).items()} for i in catalog.indicators
        }
        self._ensure_metrics(sorted({m for i in catalog.indicators for m in catalog.metric_inputs(i)}))
        col = lambda attr: np.array([[float(getattr(i, attr))] for i in catalog.indicators]).reshape(-1, 1)  # noqa: E731
        self.stale_after, self.hysteresis, self.min_duration = col("stale_after"), col("hysteresis"), col("min_duration")
        self.scale = np.array([[1e4 if i.rollup == "rate_per_10k" else i.source.scale] for i in catalog.indicators])
        self.rule_rows = {r: np.array([k for k, i in enumerate(catalog.indicators) if i.rollup == r], dtype=int)
                          for r in rollup.RULES}
        self._limits_cache.clear()
        now = now if now is not None else (max(self.ts.max(initial=0), 0.0) or 0.0)
        keep = [old_ids.index(i) if i in old_ids else -1 for i in self.ind_ids]
        for level in LEVELS:
            n = len(self.tree.ids(level))
            fresh_track = classify.Track.new((len(self.ind_ids), n), now)
            old = self.tracks.get(level)
            if old is not None:
                for row, k in enumerate(keep):
                    if k >= 0:
                        for name in ("state", "since", "pending", "pending_since", "seen"):
                            getattr(fresh_track, name)[row] = getattr(old, name)[k]
            self.tracks[level] = fresh_track
            self.written.pop(level, None)

    @staticmethod
    def _formulas(ind) -> dict[str, str]:
        s = ind.source
        if s.formula is not None:
            return {"value": s.formula}
        if s.numerator is not None:
            return {"num": s.numerator, "den": s.denominator}
        return {}

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

    # -- input ---------------------------------------------------------------------
    def ingest(self, samples: list[Sample], feed: str = "?") -> IngestStats:
        """Apply samples; for each (metric, grid) only a newer timestamp replaces the value held."""
        stats = IngestStats()
        if not samples:
            return stats
        df = pd.DataFrame(samples, columns=["metric", "area", "ts", "value"])
        rows = df["metric"].map(self.metric_pos)
        cols = df["area"].map(self.grid_pos)
        known = rows.notna() & cols.notna() & np.isfinite(df["value"]) & np.isfinite(df["ts"])
        stats.unknown = int((~known).sum())
        df = df[known].assign(r=rows[known].astype(int), c=cols[known].astype(int))
        df = df.sort_values("ts").drop_duplicates(["r", "c"], keep="last")
        r, c = df["r"].to_numpy(), df["c"].to_numpy()
        held = self.ts[r, c]
        newer = ~(df["ts"].to_numpy() <= held)  # NaN held (never seen) counts as newer
        stats.old = int(len(samples) - stats.unknown - newer.sum())
        stats.accepted = int(newer.sum())
        r, c = r[newer], c[newer]
        self.values[r, c] = df["value"].to_numpy()[newer]
        self.ts[r, c] = df["ts"].to_numpy()[newer]
        self.feed[r, c] = self._feed_code(feed)
        return stats

    def load_metric(self, metric: str, grid_ids: list[str], values: np.ndarray, ts: np.ndarray, feeds: list[str]) -> int:
        """Set held values of one metric for many grids at once (a restart restoring the latest values)."""
        if metric not in self.metric_pos:
            return 0
        cols = np.array([self.grid_pos.get(g, -1) for g in grid_ids], dtype=np.int64)
        ok = (cols >= 0) & np.isfinite(values) & np.isfinite(ts)
        row = self.metric_pos[metric]
        self.values[row, cols[ok]] = values[ok]
        self.ts[row, cols[ok]] = ts[ok]
        self.feed[row, cols[ok]] = [self._feed_code(f) for f, keep in zip(feeds, ok.tolist(), strict=True) if keep]
        return int(ok.sum())

    def _feed_code(self, feed: str) -> int:
        if feed not in self.feeds:
            self.feeds.append(feed)
        return self.feeds.index(feed)

    def latest(self, metric: str, grid_ids: Iterable[str]) -> dict[str, tuple[float, float, str]]:
        """Latest values of one metric at the given grids: grid -> (value, ts, feed); for persisting to the store."""
        row = self.metric_pos[metric]
        cols = [self.grid_pos[g] for g in grid_ids if g in self.grid_pos]
        values, ts, feeds = self.values[row, cols].tolist(), self.ts[row, cols].tolist(), self.feed[row, cols].tolist()
        return {self.grid_ids[c]: (v, t, self.feeds[f]) for c, v, t, f in zip(cols, values, ts, feeds, strict=True)
                if math.isfinite(t)}

    # -- scoring -------------------------------------------------------------------
    def grid_parts(self) -> rollup.GridParts:
        """Compute every indicator's grid-level value (formulas in dependency order)."""
        n_ind, g = len(self.ind_ids), len(self.grid_ids)
        value, num, den, ts = (np.full((n_ind, g), np.nan) for _ in range(4))
        by_name_value: dict[str, np.ndarray] = {m: self.values[k] for m, k in self.metric_pos.items()}
        by_name_ts: dict[str, np.ndarray] = {m: self.ts[k] for m, k in self.metric_pos.items()}
        for row, ind in enumerate(self.catalog.indicators):
            s, parsed = ind.source, self._parsed[ind.id]
            if s.metric is not None:
                x, t = by_name_value[s.metric], by_name_ts[s.metric]
                n, d = x, np.ones(g)
            else:
                names = self._names(parsed)
                t = np.full(g, np.inf)
                for name in names:
                    t = np.minimum(t, by_name_ts[name])  # oldest input decides; a missing one (NaN) makes it stale
                if "value" in parsed:
                    x = self._eval(parsed["value"], by_name_value, ind.source.formula)
                    n, d = x, np.ones(g)
                else:
                    n = self._eval(parsed["num"], by_name_value, s.numerator)
                    d = self._eval(parsed["den"], by_name_value, s.denominator)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        x = np.where(d != 0, n / np.where(d == 0, 1, d) * s.scale, np.nan)
            if ind.rollup == "rate_per_10k":
                n, d = x, self.population
                x = x / np.maximum(self.population, 1.0) * 1e4
            value[row], num[row], den[row], ts[row] = x, n, d, t
            if ind.id not in self.metric_pos:  # a name that is a metric keeps meaning the metric
                by_name_value[ind.id], by_name_ts[ind.id] = x, t
        return rollup.GridParts(value, num, den, ts)

    @staticmethod
    def _names(parsed: dict[str, ast.AST]) -> set[str]:
        return {n.id for tree in parsed.values() for n in ast.walk(tree) if isinstance(n, ast.Name)} - FUNCTIONS.keys()

    @staticmethod
    def _eval(tree: ast.AST, names: dict[str, np.ndarray], text: str) -> np.ndarray:
        evaluator = SimpleEval(operators=OPERATORS, functions=FUNCTIONS, names=names)
        with np.errstate(all="ignore"):
            return np.asarray(evaluator.eval(text, previously_parsed=tree), dtype=float)

    def limits(self, now: float) -> dict[str, classify.Limits]:
        """Thresholds in force now at every level (rebuilt only when schedules or profiles change)."""
        local = datetime.fromtimestamp(now, self.tz)
        key = thresholds.active_key(self.catalog, local, self.switched_on)
        if key not in self._limits_cache:
            self._limits_cache.clear()
            self._limits_cache[key] = {
                level: thresholds.resolve(self.catalog, level, self.tree.ids(level), local, self.switched_on, self.labels)
                for level in LEVELS
            }
        return self._limits_cache[key]

    def tick(self, now: float) -> TickResult:
        """Score every indicator at every level; return states and what changed."""
        parts = self.grid_parts()
        fresh = np.isfinite(parts.value) & (now - parts.ts <= self.stale_after)
        limits = self.limits(now)
        result = TickResult(now=now, levels={})
        for level in LEVELS:
            result.levels[level] = self._score_level(level, parts, fresh, limits[level], now, result.transitions)
        return result

    def _score_level(self, level: str, parts: rollup.GridParts, fresh: np.ndarray, lim: classify.Limits,
                     now: float, transitions: list[Transition]) -> LevelResult:
        area_ids = self.tree.ids(level)
        n, n_ind = len(area_ids), len(self.ind_ids)
        value, ts, cov = (np.full((n_ind, n), np.nan) for _ in range(3))
        for rule, rows in self.rule_rows.items():
            if rows.size:
                sub = rollup.GridParts(parts.value[rows], parts.num[rows], parts.den[rows], parts.ts[rows])
                rolled = rollup.roll(rule, sub, fresh[rows], self.parents[level], n, self.population, self.scale[rows])
                value[rows], ts[rows], cov[rows] = rolled.value, rolled.ts, rolled.coverage
        level_fresh = np.isfinite(value)
        track = self.tracks[level]
        before = track.state.copy()
        want = classify.wanted(value, level_fresh, track.state, lim, self.hysteresis)
        changed = classify.advance(track, want, now, self.min_duration)
        # a cell's first data is where its history starts, not a change worth a line in the warnings log:
        # without this every start-up would log one "stale -> normal" per indicator and area
        logged = changed & track.seen
        track.seen |= level_fresh
        for r, c in zip(*np.nonzero(logged), strict=True):
            transitions.append(Transition(
                self.ind_ids[r], level, area_ids[c], State(before[r, c]).label, State(track.state[r, c]).label,
                float(value[r, c]), *self._threshold_text(lim, r, c), now))
        dirty = self._dirty(level, value, ts, track.state)
        cleared = (before >= State.YELLOW) & (track.state < State.YELLOW)
        return LevelResult(level, area_ids, value, ts, cov, track.state, track.since, lim, dirty, dirty.any(axis=0),
                           cleared)

    def limit_texts(self, lim: classify.Limits, rows: np.ndarray, cols: np.ndarray) -> list[str]:
        """Each cell's ``yellow|red|rule`` text, formatted once per indicator and rule, not once per cell."""
        keys = rows.astype(np.int64) * (len(self.labels) + 1) + lim.source[rows, cols]
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        texts = []
        for k in first:
            r, c = rows[k], cols[k]
            texts.append("|".join((*self._threshold_text(lim, r, c), self.labels[lim.source[r, c]])))
        return [texts[i] for i in inverse.tolist()]

    def _threshold_text(self, lim: classify.Limits, r: int, c: int) -> tuple[str, str]:
        ind = self.catalog.indicators[r]
        pick = {"higher_is_worse": lambda lo, hi: f"{hi:g}", "lower_is_worse": lambda lo, hi: f"{lo:g}",
                "band": lambda lo, hi: f"[{lo:g}, {hi:g}]"}[ind.direction]
        return pick(lim.yellow_low[r, c], lim.yellow_high[r, c]), pick(lim.red_low[r, c], lim.red_high[r, c])

    def _dirty(self, level: str, value: np.ndarray, ts: np.ndarray, state: np.ndarray) -> np.ndarray:
        """Cells whose state, value or data time differs from what was last handed out for writing."""
        old = self.written.get(level)
        now = (np.round(value, 6), ts, state.copy())
        if old is None:
            dirty = np.ones(value.shape, dtype=bool)
        else:
            dirty = old[2] != state
            for before, after in zip(old[:2], now[:2]):
                dirty |= ~((before == after) | (np.isnan(before) & np.isnan(after)))
        self.written[level] = now
        return dirty
