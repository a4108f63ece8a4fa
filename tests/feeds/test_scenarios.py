"""Scenarios bend the simulated city where they are asked for, through the real feed and engine path."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from cityvitals import store
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.simulator.city import SimulatedCity
from feeds.simulator.feed import SimulatorFeed
from feeds.simulator.orders import simulated_orders_feed
from feeds.simulator.scenarios import ORDER_EFFECTS, SCENARIOS, ActiveScenario
from feeds.simulator.stations import station_grids
from indicators.loader import load_catalog
from indicators.service import EngineService
from tests.conftest import stream_samples

T0 = 1_795_000_000.0  # 2026-11-18, outside the flood season: default river limits 7.5 / 8.5 m
MORNING = datetime(2026, 11, 18, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()  # a Wednesday


def test_envelope_ramps_holds_and_ends():
    s = ActiveScenario("flood", "x", start=1000.0, minutes=100)
    times = (999, 1000, 1600, 2200, 4000, 6400, 7000, 7001)
    assert [round(s.intensity(t), 6) for t in times] == [0, 0, 0.5, 1, 1, 0.5, 0, 0]
    assert not s.ended(7000) and s.ended(7001)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_effect_names_a_simulated_metric(name, demo_tree):
    modelled = set(SimulatedCity(demo_tree, registry()).by_id)  # what values() gives, without drawing a year
    assert {e.metric for e in SCENARIOS[name].effects} <= modelled | set(ORDER_EFFECTS)  # the orders act on these
    assert not set(ORDER_EFFECTS) & modelled


def _river(client, area_ids):
    return {a: r["s"] for a, r in store.read_state_of(client, "river_level_max", area_ids).items()}


def _gauged_streets(tree) -> list[str]:
    """Streets with a river gauge (the others have no river level to judge)."""
    gauged = np.array(tree.ids("grid"))[station_grids(tree)["river_level"]]
    return sorted({tree.ancestors(g)[1].id for g in gauged})


def test_a_flood_turns_its_street_red_and_the_city_recovers(redis_client, demo_tree):
    streets = _gauged_streets(demo_tree)
    assert len(streets) == 3  # Qiaolin and Jiangpu on the Yangtze, Yongning on both rivers
    flooded = "pukou.qiaolin"
    feed = SimulatorFeed(SimulatedCity(demo_tree, registry()),
                         Ingestor(redis_client, "simulator", registry(), set(demo_tree.ids("grid")),
                                  clock=lambda: T0 + 7200, simulated=True))
    service = EngineService(redis_client, None, demo_tree, load_catalog([DEFAULT_CATALOG]))

    def minute(t: float) -> dict[str, str]:
        feed.run_once(t)
        service.tick(t + 5)
        return _river(redis_client, streets)

    assert set(minute(T0).values()) == {"normal"}
    store.start_scenario(redis_client, "flood", flooded, T0 + 60, minutes=60)
    during = minute(T0 + 60 + 30 * 60)
    assert during[flooded] == "red"
    assert all(s == "normal" for a, s in during.items() if a != flooded)
    assert _river(redis_client, ["pukou"]) == {"pukou": "red"}

    after = minute(T0 + 60 + 61 * 60)
    assert set(after.values()) == {"normal"}
    assert store.read_scenarios(redis_client) == []  # the finished scenario is cleared


def test_simulate_command_starts_lists_and_stops(redis_client, redis_url, tmp_path, monkeypatch, capsys):
    from wiring.cli import main

    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cv.sqlite'}")
    monkeypatch.setenv("CITYVITALS_DATA_DIR", str(tmp_path))
    assert main(["simulate", "--scenario", "volcano"]) == 2
    assert "unknown scenario 'volcano'" in capsys.readouterr().err
    assert main(["simulate", "--scenario", "flood", "--area", "pukou.qiaolin", "--minutes", "30"]) == 0
    [running] = store.read_scenarios(redis_client)
    assert (running["scenario"], running["area"], running["minutes"]) == ("flood", "pukou.qiaolin", 30)
    assert main(["simulate", "--list"]) == 0
    assert "running: flood in pukou.qiaolin" in capsys.readouterr().out
    assert main(["simulate", "--scenario", "flood", "--area", "pukou.qiaolin", "--stop"]) == 0
    assert store.read_scenarios(redis_client) == []


def test_a_hotline_surge_raises_the_hotline_through_the_work_order_pipeline_and_the_city_recovers(
        redis_client, demo_tree):
    clock = [MORNING]
    city = SimulatorFeed(SimulatedCity(demo_tree, registry()),
                         Ingestor(redis_client, "simulator", registry(), set(demo_tree.ids("grid")),
                                  clock=lambda: clock[0], simulated=True))
    orders = simulated_orders_feed(redis_client, demo_tree, "simulator-orders")
    orders.ingestor.clock = lambda: clock[0]
    service = EngineService(redis_client, None, demo_tree, load_catalog([DEFAULT_CATALOG]))

    def at(t: float) -> dict[str, dict]:
        clock[0] = t
        for feed in (city, orders):
            assert feed.run_once(t).refused == []
        service.tick(t + 5)
        return store.read_state_of(redis_client, "hotline_orders_per_10k", ["pukou", *demo_tree.ids("street")])

    start = MORNING + 3600
    quiet = at(MORNING)  # the first round backfills a week of orders
    # a quiet street at nine may have fewer calls in the hour than the rate's minimum evidence (3)
    assert quiet["pukou"]["s"] == "normal" and {r["s"] for r in quiet.values()} <= {"normal", "insufficient"}
    before = sum(s.value for s in stream_samples(redis_client) if s.metric == "hotline_orders_1h" and s.ts == MORNING)
    store.start_scenario(redis_client, "hotline_surge", "pukou", start, minutes=180)
    for minutes in (30, 80, 95):
        at(start + minutes * 60)
    during = at(start + 110 * 60)
    # The district's rate through the engine is several times the quiet one, past the red limit set from
    # the seed district's volumes (the Poisson 99.9% quantile of a quiet morning hour: 0.43 per 10k)
    assert during["pukou"]["v"] > 2.5 * quiet["pukou"]["v"] > 0
    assert during["pukou"]["s"] == "red"
    calls = sum(s.value for s in stream_samples(redis_client)
                if s.metric == "hotline_orders_1h" and s.ts == start + 110 * 60)
    assert calls > 3 * before  # four times the calls at the height of it
    assert "hotline_orders_1h" not in city.city.values(start)  # one source only: the orders

    at(start + 181 * 60)
    assert store.read_scenarios(redis_client) == []  # over, and cleared
    at(start + 245 * 60)
    after = at(start + 260 * 60)
    assert after["pukou"]["s"] == "normal" and {r["s"] for r in after.values()} <= {"normal", "insufficient"}, after
    assert after["pukou"]["v"] < 2 * quiet["pukou"]["v"]


def test_the_simulator_plays_every_scenario_the_admin_page_and_the_cli_offer():
    from cityvitals.scenarios import KINDS

    assert set(SCENARIOS) == set(KINDS)
