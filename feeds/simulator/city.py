"""A believable simulated city, deterministic for a seed: every metric where it is measured.

Gauges follow their rhythm, the season and what drives them (rain, the river), with sensor noise
that wanders slowly rather than jumping each minute; their sensors report every five minutes.
Counts are events in rolling windows (``feeds/simulator/events.py``): a count moves only when an
event enters or leaves its window.
Station metrics exist only in the grids that have the station (``feeds/simulator/stations.py``);
elsewhere their value is NaN and no sample is sent. Scenarios bend gauges while they run and add
events to counts, which stay counted for the window's length after the scenario is over.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from cityvitals.areas import AreaTree
from cityvitals.metrics import Metric
from cityvitals.store import Sample
from feeds.simulator import scenarios
from feeds.simulator.events import HOUR, Events, Window, poisson_events
from feeds.simulator.models import MODELS, MetricModel, rhythm_at
from feeds.simulator.scenarios import SCENARIOS, ActiveScenario
from feeds.simulator.seasons import RIVER_M, TEMPERATURE_C, monthly, seasonal
from feeds.simulator.stations import station_grids
from feeds.simulator.weather import Weather

KNOT_S = 1800.0  # sensor noise wanders between independent draws this far apart
REPORT_S, REPORT_GROUPS = 300.0, 5  # a gauge reports every 5 minutes; its grids in 5 groups a minute apart
WHITE = 0.45  # share (in standard deviations) of the noise that is new each minute
DAY_SLOT_H = 24  # windows longer than a week are drawn a day at a time
RARE = 0.05  # a share of an inventory below this is a count of events (entrapments among elevators)


@dataclass(frozen=True)
class Incident:
    """A scenario seen running, and the events it adds to each count."""

    running: ActiveScenario
    events: dict[str, Events]
    forget_at: float  # once its last events have left their windows


def _temperature(city: SimulatedCity, mean: np.ndarray, now: float, local: datetime) -> np.ndarray:
    # Nanjing's normal for the day, the day's swing (about ±4 °C), a little cooler in rain.
    swing = 18.0 * (rhythm_at("temp", local) - 1.0)
    return mean + monthly(TEMPERATURE_C, local) + swing - 0.3 * np.minimum(city.weather.rate(now), 10.0)


def _wet_roads(city: SimulatedCity, now: float) -> np.ndarray:
    """How much rain and ponding slow traffic, as a factor per grid (1 when dry)."""
    return 1.0 + 0.01 * np.minimum(city.weather.rate(now), 30.0) + 0.02 * np.minimum(city.weather.ponding(now), 30.0)


# What else moves a gauge: each takes the usual mean and gives the mean at ``now``.
DRIVERS: dict[str, Callable[[SimulatedCity, np.ndarray, float, datetime], np.ndarray]] = {
    "river": lambda city, mean, now, local: mean * monthly(RIVER_M, local),
    "rain_1h": lambda city, mean, now, local: np.round(city.weather.rainfall(now, 1.0), 1),
    "rain_24h": lambda city, mean, now, local: np.round(city.weather.rainfall(now, 24.0), 1),
    "ponding": lambda city, mean, now, local: np.round(mean * city.weather.ponding(now)),
    "sewer": lambda city, mean, now, local: mean + 1.5 * city.weather.rainfall(now, 2.0),
    "temperature": _temperature,
    "wet_roads": lambda city, mean, now, local: mean * _wet_roads(city, now),
    "slow_roads": lambda city, mean, now, local: mean / _wet_roads(city, now),
}


class SimulatedCity:
    """Generate samples of all modelled metrics for all grids at a given time."""

    def __init__(self, tree: AreaTree, metrics: dict[str, Metric], seed: int = 7, tz: str = "Asia/Shanghai",
                 models: tuple[MetricModel, ...] = MODELS) -> None:
        self.tree = tree
        self.grid_ids = tree.ids("grid")
        self.metrics, self.seed, self.tz, self.models = metrics, seed, ZoneInfo(tz), models
        self.by_id = {m.metric: m for m in models}
        self.categories = np.array([tree[g].category or "residential" for g in self.grid_ids])
        self.population_k = tree.population("grid") / 1000.0
        rng = np.random.default_rng(seed)
        # Each grid keeps its own character per metric (a busy crossroads, a quiet lane).
        self.character = {m.metric: rng.lognormal(0.0, m.spread, len(self.grid_ids)) for m in models}
        self.phase = rng.uniform(0.0, HOUR, len(self.grid_ids))  # when in the hour each grid's statuses refresh
        group = (self.phase // 60).astype(int) % REPORT_GROUPS
        self.report_groups = [group == g for g in range(REPORT_GROUPS)]
        self.stations = station_grids(tree, seed)
        self.weather = Weather(tree, seed, tz)
        self.counts = {m.metric for m in models if self._counted(m)}
        self._windows: dict[str, Window] = {}
        self._means: dict[str, np.ndarray] = {}
        self._reports: dict[str, dict[float, np.ndarray]] = {}  # metric -> report time -> values then
        self._draws: dict[tuple[str, int], np.ndarray] = {}  # (metric, knot or hour) -> a seeded draw per grid
        self._incidents: dict[tuple[str, str, float], Incident] = {}

    def values(self, now: float, active: Sequence[ActiveScenario] = ()) -> dict[str, np.ndarray]:
        """Values of every modelled metric for every grid at ``now`` (NaN where it is not measured)."""
        local = datetime.fromtimestamp(now, self.tz)
        self._remember(active, now)
        out: dict[str, np.ndarray] = {}
        for model in self.models:
            out[model.metric] = self._one(model, now, local, out)
        bounds = {m: (self.metrics[m].min, self.metrics[m].max) for m in out}
        for scenario in active:
            scenarios.apply(out, scenario, self.grids_under(scenario.area), now, bounds, self.counts)
        for metric, mask in self.stations.items():
            if metric in out:
                out[metric] = np.where(mask, out[metric], np.nan)
        return out

    def grids_under(self, area_id: str) -> np.ndarray:
        """Mask of the grids in ``area_id`` (the grid itself for a grid)."""
        return scenarios.grids_under(self.tree, self.grid_ids, area_id)

    def samples(self, now: float, active: Sequence[ActiveScenario] = ()) -> list[Sample]:
        """All samples for ``now``, as the feed sends them (none where a metric is not measured)."""
        return [
            Sample(metric, grid, now, v)
            for metric, values in self.values(now, active).items()
            for grid, v in zip(self.grid_ids, values.tolist(), strict=True) if v == v
        ]

    def rate(self, model: MetricModel, t: float) -> np.ndarray:
        """Usual events per grid and hour of a count at ``t``: its rhythm, rest days and season."""
        local = datetime.fromtimestamp(t, self.tz)
        factor = rhythm_at(model.rhythm, local, smooth=False) * seasonal(model.metric, local)
        return self._mean(model) * factor / model.window_h

    def _counted(self, model: MetricModel) -> bool:
        """Whether a metric is a count of events in a window (not a gauge, an inventory or a status)."""
        if model.kind == "count":
            return not model.fixed
        if model.kind != "share":
            return False
        parent = self.by_id[model.of]
        return self._counted(parent) or model.p < RARE

    def _one(self, model: MetricModel, now: float, local: datetime, done: dict[str, np.ndarray]) -> np.ndarray:
        if model.fixed:
            return np.round(self._mean(model))
        if model.metric in self.counts:
            value = self._window(model).count(now) + self._incident_count(model, now)
            return np.minimum(value, done[model.of]) if model.kind == "share" else value.astype(float)
        if model.kind == "share":
            return self._status(model, done[model.of], now)
        return self._reported(model, now)

    def _mean(self, model: MetricModel) -> np.ndarray:
        """The metric's typical value per grid (its category, its character, its residents)."""
        if model.metric not in self._means:
            mean = model.typical(self.categories) * self.character[model.metric]
            self._means[model.metric] = mean * self.population_k if model.per_1k else mean
        return self._means[model.metric]

    def _reported(self, model: MetricModel, now: float) -> np.ndarray:
        """A gauge as its sensors last reported: each group of grids at its own minute of every ``REPORT_S``."""
        reports = self._reports.setdefault(model.metric, {})
        value = np.empty(len(self.grid_ids))
        for group, mask in enumerate(self.report_groups):
            t = (now - group * 60.0) // REPORT_S * REPORT_S + group * 60.0
            if t not in reports:
                reports[t] = self._gauge(model, t, datetime.fromtimestamp(t, self.tz))
            value[mask] = reports[t][mask]
        for old in [t for t in reports if t <= now - 2 * REPORT_S]:
            del reports[old]
        return value

    def _gauge(self, model: MetricModel, now: float, local: datetime) -> np.ndarray:
        mean = self._mean(model) * rhythm_at(model.rhythm, local) * seasonal(model.metric, local)
        if model.driver:
            mean = DRIVERS[model.driver](self, mean, now, local)
        white = self._normal(model.metric, int(now // 60))
        noise = model.wander(KNOT_S / 3600.0)
        value = mean * (1 + noise * self._wander(model.metric, now)) + model.extra.get("sd", 0.0) * white
        m = self.metrics[model.metric]
        return np.clip(value, m.min, m.max)

    def _wander(self, metric: str, now: float) -> np.ndarray:
        """Unit sensor noise per grid: slow (between knots ``KNOT_S`` apart) plus a little new each minute."""
        knot, f = divmod(now / KNOT_S, 1.0)
        slow = (1 - f) * self._normal(metric, -int(knot)) + f * self._normal(metric, -int(knot) - 1)
        slow /= np.hypot(1 - f, f)
        return np.sqrt(1 - WHITE**2) * slow + WHITE * self._normal(metric, int(now // 60))

    def _normal(self, metric: str, key: int) -> np.ndarray:
        """One standard normal draw per grid for ``(metric, key)``, the same whenever asked."""
        if (metric, key) not in self._draws:
            if len(self._draws) > 4 * len(self.models) * 8:  # keep the recent ones only
                self._draws.clear()
            rng = np.random.default_rng([self.seed, zlib.crc32(metric.encode()), key & 0xFFFFFFFF, key >> 32 & 0xFFFF])
            self._draws[metric, key] = rng.standard_normal(len(self.grid_ids))
        return self._draws[metric, key]

    def _status(self, model: MetricModel, of: np.ndarray, now: float) -> np.ndarray:
        """A status share (cameras online): drawn once an hour per grid, each grid at its own minute."""
        hour = np.floor((now + self.phase) / HOUR).astype(np.int64)
        first = int(hour.min())
        draws = {h: np.random.default_rng([self.seed, zlib.crc32(model.metric.encode()), h]).binomial(
            of.astype(np.int64), model.p) for h in (first, first + 1)}
        return np.where(hour == first, draws[first], draws[first + 1]).astype(float)

    def _window(self, model: MetricModel) -> Window:
        if model.metric not in self._windows:
            slot_h = DAY_SLOT_H if model.window_h > 168 else 1  # a month of hourly slots costs a second to draw
            draw = self._drawer(model, slot_h)
            self._windows[model.metric] = Window(model.window_h, len(self.grid_ids), draw, slot_h)
        return self._windows[model.metric]

    def _drawer(self, model: MetricModel, slot_h: int) -> Callable[[int], Events]:
        """How one slot's events of a count are drawn: its own Poisson events, or a share of another's."""
        key, span = zlib.crc32(model.metric.encode()), slot_h * HOUR
        if model.kind == "count":  # the rate at the slot's middle hour stands for the slot
            return lambda k: poisson_events(self.rate(model, k * span + span / 2) * slot_h, k * span, span,
                                            np.random.default_rng([self.seed, key, k]))
        parent = self.by_id[model.of]
        if parent.metric in self.counts:  # a share has its parent's window, so its slots
            return lambda k: self._window(parent).slot(k)[0].thin(model.p, np.random.default_rng([self.seed, key, k]))
        rate = np.round(self._mean(parent)) * model.p / model.window_h * slot_h
        return lambda k: poisson_events(rate, k * span, span, np.random.default_rng([self.seed, key, k]))

    def _incident_count(self, model: MetricModel, now: float) -> np.ndarray | int:
        start = now - model.window_h * HOUR
        return sum((i.events[model.metric].count(start, now, len(self.grid_ids))
                    for i in self._incidents.values() if model.metric in i.events), 0)

    def _remember(self, active: Sequence[ActiveScenario], now: float) -> None:
        """Keep the scenarios seen running until their events have left their windows (cut short if stopped)."""
        running = {(a.scenario, a.area, a.start): a for a in active}
        for key, a in running.items():
            if key not in self._incidents:
                self._incidents[key] = self._incident(a)
        for key, inc in list(self._incidents.items()):
            if now > inc.forget_at:
                del self._incidents[key]
            elif key not in running and now < inc.running.end:  # stopped early: what was to come never happens
                cut = {m: Events(e.ts[e.ts <= now], e.grid[e.ts <= now]) for m, e in inc.events.items()}
                self._incidents[key] = replace(inc, running=replace(inc.running, minutes=(now - key[2]) / 60.0),
                                               events=cut)

    def _incident(self, running: ActiveScenario) -> Incident:
        """The events a scenario adds to counts over its run, drawn once from the seed and the scenario."""
        rng = np.random.default_rng([self.seed, *running.scenario.encode(), *running.area.encode(), int(running.start)])
        grids = np.flatnonzero(self.grids_under(running.area))
        events = {e.metric: scenarios.incident_events(running, e, lambda t, m=self.by_id[e.metric]: self.rate(m, t),
                                                      self.by_id[e.metric].window_h, grids, rng)
                  for e in SCENARIOS[running.scenario].effects if e.metric in self.counts}
        longest = max((self.by_id[m].window_h for m in events), default=0)
        return Incident(running, events, running.end + longest * HOUR)
