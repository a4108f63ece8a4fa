"""The simulated city: deterministic for a seed, with daily and weekly rhythms and grids that differ by kind."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from cityvitals.metrics import registry
from feeds.simulator.city import SimulatedCity

TZ = ZoneInfo("Asia/Shanghai")
RUSH = datetime(2026, 11, 18, 8, 0, tzinfo=TZ).timestamp()  # a Wednesday
NIGHT = datetime(2026, 11, 18, 3, 0, tzinfo=TZ).timestamp()
SATURDAY = datetime(2026, 11, 21, 8, 0, tzinfo=TZ).timestamp()


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[m], b[m], equal_nan=True) for m in a)


def test_the_city_is_deterministic_for_a_seed(demo_tree):
    city = SimulatedCity(demo_tree, registry(), seed=3)
    assert _same(city.values(RUSH), SimulatedCity(demo_tree, registry(), seed=3).values(RUSH))
    assert not _same(city.values(RUSH), SimulatedCity(demo_tree, registry(), seed=4).values(RUSH))
    assert not _same(city.values(RUSH), city.values(RUSH + 60))  # noise moves minute by minute
    assert len(city.samples(RUSH)) == sum(int(np.isfinite(v).sum()) for v in city.values(RUSH).values())


def test_rush_hour_night_weekend_and_kinds_of_grid(demo_tree):
    city = SimulatedCity(demo_tree, registry())
    congestion = {t: city.values(t)["congestion_index"].mean() for t in (RUSH, NIGHT, SATURDAY)}
    assert congestion[RUSH] > 3 * congestion[NIGHT]
    assert congestion[RUSH] > 1.2 * congestion[SATURDAY]
    health = city.values(RUSH)["hl_health_24h"] / (demo_tree.population("grid") / 1000.0)
    hospital = city.categories == "hospital"
    assert health[hospital].mean() > 10 * health[city.categories == "residential"].mean()
