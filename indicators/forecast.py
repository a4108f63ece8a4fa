"""Early warning: forecast an area's value and say when it is expected past a limit (``forecast:`` rules).

An early warning is an annotation of its own on a cell: "rising toward red, expected in ~40 min". It
never changes the cell's normal/yellow/red state, and it ends when the cell reaches the state it
warned of (``reached``) or when a later forecast no longer passes the limit (``cleared``).

:func:`outlook` is the pure part: a series in, the time until the limit out (statsmodels fits the
forecast and its prediction interval). :class:`EarlyWarnings` keeps a value every ``step`` per cell
of each forecast rule, off the engine's tick results, and holds the early warnings standing.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.regression.linear_model import OLS

from indicators.engine import Engine, TickResult, cells_at
from indicators.schema import MIN_FORECAST_POINTS, Forecast
from indicators.states import Code, State

EVENTS = ("raised", "reached", "cleared")  # the early-warning log's events
LOG_COLUMNS = ["at", "indicator", "level", "area", "event", "expected_at", "value", "limit"]


def outlook(values: np.ndarray, rule: Forecast, limit: float, higher: bool) -> float | None:
    """Seconds after the last of ``values`` (one every ``rule.step``) until the forecast mean reaches ``limit``.

    Only when, within ``rule.horizon``, the one-sided ``rule.confidence`` prediction bound passes the
    limit (the value is past it with that probability); None otherwise, and for a series too short
    (fewer than MIN_FORECAST_POINTS), flat, or not moving toward the limit over its span.
    """
    y = np.asarray(values, dtype=float)
    toward = y[-1] - y[0] if higher else y[0] - y[-1]
    if y.size < MIN_FORECAST_POINTS or not toward > 0:
        return None
    steps = int(rule.horizon // rule.step)
    alpha = 2 * (1 - rule.confidence)  # a two-sided interval at 1 - alpha has the one-sided bound wanted
    if rule.method == "linear":
        fit = OLS(y, np.column_stack([np.ones(y.size), np.arange(y.size)])).fit()
        ahead = np.column_stack([np.ones(steps), np.arange(y.size, y.size + steps)])
        frame = fit.get_prediction(ahead).summary_frame(alpha=alpha)
        low, high = frame["obs_ci_lower"].to_numpy(), frame["obs_ci_upper"].to_numpy()
    else:
        # imported here: a second at every engine start, for the few catalogs that use it
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        with warnings.catch_warnings():  # a short series often ends the optimiser early: its fit still stands
            warnings.simplefilter("ignore")
            fit = ETSModel(pd.Series(y), error="add", trend="add", damped_trend=True).fit(disp=False)
            frame = fit.get_prediction(start=y.size, end=y.size + steps - 1).summary_frame(alpha=alpha)
        low, high = frame["pi_lower"].to_numpy(), frame["pi_upper"].to_numpy()
    mean = frame["mean"].to_numpy()
    past = low >= limit if higher else high <= limit
    if not past.any():
        return None
    reach = mean >= limit if higher else mean <= limit  # the bound past the limit means the mean is past it too
    return float((np.argmax(reach) + 1) * rule.step)


def outlooks(series: np.ndarray, rule: Forecast, limits: np.ndarray, higher: bool) -> list[float | None]:
    """:func:`outlook` of each row's values since its last gap (NaN) against its limit in ``limits``.

    A linear trend has a closed form (slope and intercept, residual variance, Student's t prediction
    interval: what statsmodels' OLS computes), so rows of one run length are fitted all at once: a
    province has thousands of streets, and a model per cell costs about 4 ms.
    """
    points = series.shape[1]
    gap = ~np.isfinite(series)
    run = np.where(gap.any(axis=1), np.argmax(gap[:, ::-1], axis=1), points)  # values after the last gap
    if rule.method != "linear":
        return [outlook(series[k, points - n:], rule, float(limits[k]), higher) for k, n in enumerate(run.tolist())]
    out: list[float | None] = [None] * series.shape[0]
    for n in np.unique(run[run >= MIN_FORECAST_POINTS]).tolist():
        rows = np.flatnonzero(run == n)
        y = series[rows, points - n:]
        toward = y[:, -1] - y[:, 0] if higher else y[:, 0] - y[:, -1]
        rows, y = rows[toward > 0], y[toward > 0]
        for k, eta in zip(rows.tolist(), _linear_etas(y, rule, limits[rows], higher), strict=True):
            out[k] = eta
    return out


def _linear_etas(y: np.ndarray, rule: Forecast, limits: np.ndarray, higher: bool) -> list[float | None]:
    """For series of one length (rows), the seconds until a fitted line's mean reaches the limit (see outlook)."""
    n, steps = y.shape[1], int(rule.horizon // rule.step)
    x = np.arange(n, dtype=float)
    x_mean, sxx = x.mean(), ((x - x.mean()) ** 2).sum()
    y_mean = y.mean(axis=1, keepdims=True)
    slope = ((x - x_mean) * (y - y_mean)).sum(axis=1, keepdims=True) / sxx
    intercept = y_mean - slope * x_mean
    scale = ((y - intercept - slope * x) ** 2).sum(axis=1, keepdims=True) / (n - 2)
    ahead = np.arange(n, n + steps, dtype=float)
    mean = intercept + slope * ahead
    alpha = 2 * (1 - rule.confidence)  # as outlook asks statsmodels: the one-sided bound of a two-sided interval
    half = stats.t.ppf(1 - alpha / 2, n - 2) * np.sqrt(scale * (1 + 1 / n + (ahead - x_mean) ** 2 / sxx))
    limit = limits[:, None]
    past = (mean - half >= limit) if higher else (mean + half <= limit)
    reach = (mean >= limit) if higher else (mean <= limit)
    first = (np.argmax(reach, axis=1) + 1) * rule.step
    return [float(t) if p else None for t, p in zip(first.tolist(), past.any(axis=1).tolist(), strict=True)]


@dataclass
class Early:
    """One early warning standing: where, since when, when the limit is expected, the value and the limit."""

    indicator: str
    level: str
    area: str
    since: float
    expected_at: float
    value: float
    limit: float
    toward: str
    column: int  # the area's position in its level

    def as_record(self) -> dict:
        """The record the store keeps and the dashboard shows."""
        return {"i": self.indicator, "l": self.level, "a": self.area, "since": self.since,
                "at": self.expected_at, "v": self.value, "lim": self.limit, "to": self.toward}


class EarlyWarnings:
    """The early warnings of every forecast rule of the engine's catalog, updated after each tick.

    Per rule and judged level it keeps the area values of the last ``window`` (one per ``step``, the
    value at the first tick of each step; a tick without data breaks the series). ``log`` (if kept)
    lists every event: raised, reached (the cell took the state it warned of), cleared.
    """

    def __init__(self, engine: Engine, keep_log: bool = False) -> None:
        self.engine = engine
        self.rules = [(row, ind) for row, ind in enumerate(engine.catalog.indicators) if ind.forecast is not None]
        self._series: dict[tuple[str, str], np.ndarray] = {}  # (indicator, level) -> areas x points
        self._next: dict[str, float] = {}  # per indicator, the time its next value is taken
        self.active: dict[tuple[str, str, str], Early] = {}
        self.log: list[tuple] | None = [] if keep_log else None
        self._unwritten = True  # what the store holds is unknown until written once

    def records(self) -> list[dict]:
        """The early warnings standing, as the store keeps them."""
        return [e.as_record() for e in self.active.values()]

    def update(self, result: TickResult) -> bool:
        """Take this tick's values where a step is due, forecast there, end what was reached.

        True if an early warning was raised or ended (or nothing was written yet).
        """
        now, changed, self._unwritten = result.now, self._unwritten, False
        for row, ind in self.rules:
            rule = ind.forecast
            assert rule is not None
            target = State.RED if rule.toward == "red" else State.YELLOW
            due = now >= self._next.get(ind.id, -math.inf)
            if due:
                self._next[ind.id] = (math.floor(now / rule.step) + 1) * rule.step
            for level in ind.levels:
                state = self.engine.tracks[level].state[row]
                changed |= self._reached(ind.id, level, state, target, now)
                if due:
                    changed |= self._forecast(row, ind, level, result, state, target)
        return changed

    def _reached(self, ind_id: str, level: str, state: np.ndarray, target: State, now: float) -> bool:
        """End the early warnings of cells that took the state they warned of (or a worse one)."""
        done = [k for k, e in self.active.items() if k[:2] == (ind_id, level) and state[e.column] >= target]
        for key in done:
            self._end(key, "reached", now)
        return bool(done)

    def _forecast(self, row: int, ind, level: str, result: TickResult, state: np.ndarray,  # noqa: ANN001
                  target: State) -> bool:
        """Add this step's values to the series of (indicator, level) and forecast each cell that may warn."""
        rule, lv = ind.forecast, result.levels[level]
        points = int(rule.window // rule.step)
        series = self._series.setdefault((ind.id, level), np.full((len(lv.area_ids), points), np.nan))
        series[:, :-1] = series[:, 1:]
        series[:, -1] = lv.value[row]
        higher = ind.direction == "higher_is_worse"
        lim = self.engine.limits(result.now)[level]
        bound = (lim.red_high if target == State.RED else lim.yellow_high) if higher else \
            (lim.red_low if target == State.RED else lim.yellow_low)
        may_warn = ((state == Code.NORMAL) | (state == Code.YELLOW)) & (state < np.int8(target)) & \
            np.isfinite(series[:, -1])
        standing = [e.column for k, e in self.active.items() if k[:2] == (ind.id, level)]
        changed = False
        warn = np.flatnonzero(may_warn)
        limits = cells_at(bound, np.full(warn.size, row), warn)
        etas = dict(zip(warn.tolist(), outlooks(series[warn], rule, limits, higher), strict=True))
        for col in sorted(set(warn.tolist()) | set(standing)):
            key = (ind.id, level, lv.area_ids[col])
            eta, limit = etas.get(col), float(cells_at(bound, np.array([row]), np.array([col]))[0])
            if eta is None:
                if key in self.active:
                    self._end(key, "cleared", result.now)
                    changed = True
                continue
            early = self.active.get(key)
            if early is None:
                early = self.active[key] = Early(*key, result.now, result.now + eta, float(series[col, -1]), limit,
                                                 target.label, col)
                self._note(early, "raised", result.now)
                changed = True
            else:
                early.expected_at, early.value, early.limit = result.now + eta, float(series[col, -1]), limit
        return changed

    def _end(self, key: tuple[str, str, str], event: str, now: float) -> None:
        self._note(self.active.pop(key), event, now)

    def _note(self, early: Early, event: str, now: float) -> None:
        if self.log is not None:
            self.log.append((now, early.indicator, early.level, early.area, event, early.expected_at,
                             early.value, early.limit))

    def frame(self) -> pd.DataFrame:
        """The log so far (empty if not kept): at, indicator, level, area, event, expected_at, value, limit."""
        return pd.DataFrame(self.log or [], columns=LOG_COLUMNS)
