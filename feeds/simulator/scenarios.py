"""Incidents the simulated city can live through: declared as data, started while it runs.

An active scenario bends chosen metrics in the grids under one area with an envelope over its
duration: a ramp (the first fifth, or the scenario's ``ramp``), a plateau, and a recovery (as long
as the ramp); afterwards the city is back to its rhythms. On a gauge ``mul`` multiplies the normal
value, ``add`` adds to it and ``reach`` lifts it towards a level, within the metric's possible
range. On a count the scenario adds events to the count's window, so they stay counted for the
window's length after they happened: ``mul`` raises the rate of its events, ``add`` is how many
events each grid gets (arriving over ``within`` minutes, or the shorter of the window and the
scenario). An effect ``at_site`` happens at one grid of the area (a burst main), not in each.
The work-order metrics come from simulated orders through the pipeline, so effects on them act on
the orders (:data:`ORDER_EFFECTS`): more 12345 calls (``hotline_orders_1h``; ``add`` per grid and
hour) and slower signing of them (``order_sign_minutes``); the backlog follows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass

import numpy as np
import redis

from cityvitals import store
from cityvitals.areas import AreaTree
from cityvitals.scenarios import KINDS, ScenarioKind
from feeds.simulator.events import Events, merge


@dataclass(frozen=True)
class Effect:
    """How one metric moves at the height of a scenario."""

    metric: str
    mul: float = 1.0
    add: float = 0.0
    at_site: bool = False
    reach: float | None = None  # a gauge rises towards this at the height (a flood crest, whatever the season)
    within: float | None = None  # minutes over which a count's added events arrive (a fire's alarms: the first few)


@dataclass(frozen=True)
class Scenario(ScenarioKind):
    """A named incident (``cityvitals.scenarios``) with what it does: its effects and how fast it comes."""

    effects: tuple[Effect, ...] = ()
    ramp: float = 0.2  # share of the length spent rising (and again recovering)


def _plays(kind: str, effects: tuple[Effect, ...], ramp: float = 0.2) -> Scenario:
    """The simulator's version of the incident ``kind``."""
    return Scenario(**asdict(KINDS[kind]), effects=effects, ramp=ramp)


ORDER_EFFECTS = ("hotline_orders_1h", "order_sign_minutes")  # applied by feeds/simulator/orders.py

SCENARIOS: dict[str, Scenario] = {s.id: s for s in (
    _plays("flood", (
        Effect("river_level", reach=9.2), Effect("rainfall_1h", mul=12, add=25),
        Effect("rainfall_24h", mul=8, add=120),
        Effect("waterlogging_cm", add=35), Effect("sewer_level_pct", add=45), Effect("hl_traffic_24h", mul=4),
        Effect("hl_utilities_24h", mul=5), Effect("hotline_orders_1h", mul=3), Effect("congestion_index", mul=1.8),
        Effect("road_speed_kmh", mul=0.45), Effect("power_outage_households", add=400),
        Effect("feeder_trips_24h", add=4),
    )),
    _plays("pollution", (
        Effect("pm25", mul=5, add=60), Effect("pm10", mul=4, add=80), Effect("aqi", mul=3.5, add=80),
        Effect("hl_environment_24h", mul=4), Effect("visibility_km", mul=0.2),
    )),
    _plays("large_event", (
        Effect("crowd_density", mul=4), Effect("foot_traffic_1h", mul=5), Effect("congestion_index", mul=2.2),
        Effect("road_speed_kmh", mul=0.4), Effect("parking_occupied", mul=1.6), Effect("ai_crowd_alerts_1h", add=12),
        Effect("hl_traffic_24h", mul=3),
    )),
    _plays("power_outage", (
        Effect("power_outage_households", add=2500), Effect("feeder_trips_24h", add=6),
        Effect("elevator_entrapments_24h", add=4), Effect("traffic_signals_faulty", add=8),
        Effect("hl_utilities_24h", mul=6), Effect("hotline_orders_1h", mul=2.5),
        Effect("water_outage_households", add=300),
    )),
    _plays("hotline_surge", (
        Effect("hotline_orders_1h", mul=4), Effect("order_sign_minutes", mul=3),  # the backlog follows
        Effect("hl_property_24h", mul=3), Effect("hl_noise_24h", mul=3),
    )),
    _plays("building_fire", (
        # Detectors on several floors go off within minutes, neighbours call 119, cameras see the smoke.
        Effect("fire_alarms_1h", add=8, within=5), Effect("smoke_alarms_24h", add=6, within=10),
        Effect("fire_calls_24h", add=4, within=10), Effect("electrical_fire_alarms_24h", add=2, within=10),
        Effect("ai_smoke_alerts_24h", add=2, within=10), Effect("ambulance_calls_1h", add=3, within=30),
        Effect("power_outage_households", add=60),
        Effect("congestion_index", mul=1.4), Effect("road_speed_kmh", mul=0.6),
    ), ramp=0.05),
    _plays("gas_leak", (
        Effect("gas_leak_alarms_24h", add=5, within=5), Effect("gas_pressure_kpa", mul=0.6),
        Effect("gas_outage_households", add=80), Effect("police_calls_1h", add=3, within=20),
        Effect("hl_utilities_24h", add=4), Effect("hotline_orders_1h", add=2),
    ), ramp=0.05),
    _plays("water_main_burst", (
        Effect("pipe_bursts_24h", add=1, at_site=True, within=2), Effect("water_pressure_mpa", mul=0.4),
        Effect("water_outage_households", add=120), Effect("waterlogging_cm", add=15),
        Effect("hl_utilities_24h", add=3), Effect("hotline_orders_1h", add=1.5),
        Effect("congestion_index", mul=1.4), Effect("road_speed_kmh", mul=0.65),
    ), ramp=0.05),
    _plays("elevator_entrapments", (
        Effect("elevator_entrapments_24h", add=4, within=10), Effect("elevator_faults_24h", add=6, within=10),
        Effect("hl_property_24h", add=4), Effect("hotline_orders_1h", add=1.5),
    ), ramp=0.1),
    _plays("complaint_burst", (
        Effect("hl_noise_24h", add=12, within=20), Effect("hl_environment_24h", add=5, within=30),
        Effect("hotline_orders_1h", add=5),
        Effect("noise_db", add=12), Effect("noise_night_db", add=8),
    ), ramp=0.1),
)}


@dataclass(frozen=True)
class ActiveScenario:
    """A scenario running in one area from ``start`` for ``minutes``."""

    scenario: str
    area: str
    start: float
    minutes: float

    @property
    def end(self) -> float:
        """When the scenario is over (Unix seconds)."""
        return self.start + self.minutes * 60.0

    def intensity(self, now: float) -> float:
        """0 before and after; ramps to 1 over the ramp, holds, ramps down over the last as long."""
        x = (now - self.start) / (self.minutes * 60.0)
        if not 0.0 <= x <= 1.0:
            return 0.0
        ramp = SCENARIOS[self.scenario].ramp if self.scenario in SCENARIOS else 0.2
        return float(min(1.0, x / ramp, (1.0 - x) / ramp))

    def ended(self, now: float) -> bool:
        """Whether the scenario is over."""
        return now > self.end


def apply(values: dict[str, np.ndarray], active: ActiveScenario, grid_mask: np.ndarray, now: float,
          bounds: dict[str, tuple[float, float]], counts: Collection[str] = ()) -> None:
    """Bend the gauges of ``values`` (metric -> value per grid) in place where ``grid_mask`` is set."""
    k = active.intensity(now)
    if k <= 0.0:
        return
    for e in SCENARIOS[active.scenario].effects:
        if e.metric in values and e.metric not in counts:
            v = values[e.metric]
            lo, hi = bounds[e.metric]
            bent = v[grid_mask] * (1 + (e.mul - 1) * k) + e.add * k
            if e.reach is not None:
                bent = bent + np.maximum(e.reach - bent, 0.0) * k
            v[grid_mask] = np.clip(bent, lo, hi)


def incident_events(active: ActiveScenario, effect: Effect, rate: Callable[[float], np.ndarray], window_h: float,
                    grids: np.ndarray, rng: np.random.Generator) -> Events:
    """The events a scenario adds to a count over its whole run, in ``grids`` (indices) of the count's grids.

    ``add`` events per grid (Poisson) arrive evenly over the first ``within`` minutes (by default the
    shorter of the window and the run); ``mul`` raises the usual rate ``rate(t)`` (events per grid
    and hour, all grids) along the scenario's envelope.
    """
    span = 60.0 * (effect.within or min(60.0 * window_h, active.minutes))
    if effect.at_site:  # one incident at one place: exactly ``add`` events there
        grids = rng.choice(grids, size=1)
        added = np.repeat(grids, round(effect.add))
    else:
        added = np.repeat(grids, rng.poisson(effect.add, grids.size))
    parts = [Events(active.start + rng.uniform(0.0, span, added.size), added)]
    if effect.mul != 1.0:
        minutes = active.start + 60.0 * np.arange(int(np.ceil(active.minutes)))
        k = np.array([active.intensity(t + 30.0) for t in minutes])
        usual = np.array([rate(t)[grids] for t in minutes])
        n = rng.poisson(np.maximum((effect.mul - 1.0) * k[:, None] * usual / 60.0, 0.0))
        which = np.repeat(np.arange(n.size), n.ravel())
        parts.append(Events(minutes[which // grids.size] + rng.uniform(0.0, 60.0, which.size),
                            grids[which % grids.size]))
    return merge(parts)


def grids_under(tree: AreaTree, grid_ids: np.ndarray | list[str], area_id: str) -> np.ndarray:
    """Mask of the grids in ``area_id`` (the grid itself for a grid)."""
    return np.array([g == area_id or any(a.id == area_id for a in tree.ancestors(g)) for g in grid_ids])


def active_scenarios(client: redis.Redis, tree: AreaTree, now: float) -> list[ActiveScenario]:
    """Scenarios asked for in Redis and running now; finished ones are removed, unknown ones ignored."""
    active = []
    for raw in store.read_scenarios(client):
        running = ActiveScenario(raw["scenario"], raw["area"], float(raw["start"]), float(raw["minutes"]))
        if running.ended(now):
            store.stop_scenario(client, running.scenario, running.area)
        elif running.scenario in SCENARIOS and running.area in tree:
            active.append(running)
    return active
