"""Incidents the simulated city can live through: declared as data, started while it runs.

An active scenario bends chosen metrics in the grids under one area with an envelope over its
duration: a ramp (the first fifth), a plateau, and a recovery (the last fifth); afterwards the
city is back to its rhythms. ``mul`` multiplies the normal value, ``add`` adds to it; the result
stays within the metric's possible range. The work-order metrics come from simulated orders through
the pipeline, so effects on them act on the orders (:data:`ORDER_EFFECTS`): more 12345 calls
(``hotline_orders_1h``) and slower signing of them (``order_sign_minutes``); the backlog follows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import redis

from cityvitals import store
from cityvitals.areas import AreaTree


@dataclass(frozen=True)
class Effect:
    """How one metric moves at the height of a scenario."""

    metric: str
    mul: float = 1.0
    add: float = 0.0


@dataclass(frozen=True)
class Scenario:
    """A named incident: its effects, the level of area it strikes by default, its usual length."""

    id: str
    name_zh: str
    name_en: str
    effects: tuple[Effect, ...]
    level: str = "street"
    minutes: float = 60.0


ORDER_EFFECTS = ("hotline_orders_1h", "order_sign_minutes")  # applied by feeds/simulator/orders.py

SCENARIOS: dict[str, Scenario] = {s.id: s for s in (
    Scenario("flood", "河道洪水", "River flood", (
        Effect("river_level", add=3.8), Effect("rainfall_1h", mul=12, add=25),
        Effect("rainfall_24h", mul=8, add=120),
        Effect("waterlogging_cm", add=35), Effect("sewer_level_pct", add=45), Effect("hl_traffic_24h", mul=4),
        Effect("hl_utilities_24h", mul=5), Effect("hotline_orders_1h", mul=3), Effect("congestion_index", mul=1.8),
        Effect("road_speed_kmh", mul=0.45), Effect("power_outage_households", add=400),
        Effect("feeder_trips_24h", add=4),
    )),
    Scenario("pollution", "重污染天气", "Heavy pollution episode", (
        Effect("pm25", mul=5, add=60), Effect("pm10", mul=4, add=80), Effect("aqi", mul=3.5, add=80),
        Effect("hl_environment_24h", mul=4), Effect("visibility_km", mul=0.2),
    ), level="district", minutes=240),
    Scenario("large_event", "大型活动", "Large event", (
        Effect("crowd_density", mul=4), Effect("foot_traffic_1h", mul=5), Effect("congestion_index", mul=2.2),
        Effect("road_speed_kmh", mul=0.4), Effect("parking_occupied", mul=1.6), Effect("ai_crowd_alerts_1h", add=12),
        Effect("hl_traffic_24h", mul=3),
    ), minutes=180),
    Scenario("power_outage", "大面积停电", "Power outage", (
        Effect("power_outage_households", add=2500), Effect("feeder_trips_24h", add=6),
        Effect("elevator_entrapments_24h", add=4), Effect("traffic_signals_faulty", add=8),
        Effect("hl_utilities_24h", mul=6), Effect("hotline_orders_1h", mul=2.5),
        Effect("water_outage_households", add=300),
    ), minutes=90),
    Scenario("hotline_surge", "12345诉求激增", "Hotline surge", (
        Effect("hotline_orders_1h", mul=4), Effect("order_sign_minutes", mul=3),  # the backlog follows
        Effect("hl_property_24h", mul=3), Effect("hl_noise_24h", mul=3),
    ), level="district", minutes=120),
)}


@dataclass(frozen=True)
class ActiveScenario:
    """A scenario running in one area from ``start`` for ``minutes``."""

    scenario: str
    area: str
    start: float
    minutes: float

    def intensity(self, now: float) -> float:
        """0 before and after; ramps to 1 over the first fifth, holds, ramps down over the last fifth."""
        span = self.minutes * 60.0
        x = (now - self.start) / span
        if not 0.0 <= x <= 1.0:
            return 0.0
        return float(min(1.0, x / 0.2, (1.0 - x) / 0.2))

    def ended(self, now: float) -> bool:
        """Whether the scenario is over."""
        return now > self.start + self.minutes * 60.0


def apply(values: dict[str, np.ndarray], active: ActiveScenario, grid_mask: np.ndarray, now: float,
          bounds: dict[str, tuple[float, float]]) -> None:
    """Bend ``values`` (metric -> value per grid) in place where ``grid_mask`` is set."""
    k = active.intensity(now)
    if k <= 0.0:
        return
    for e in SCENARIOS[active.scenario].effects:
        if e.metric in values:
            v = values[e.metric]
            lo, hi = bounds[e.metric]
            v[grid_mask] = np.clip(v[grid_mask] * (1 + (e.mul - 1) * k) + e.add * k, lo, hi)


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
