"""Simulated work orders through the real pipeline and Redis: believable, rhythmic, deterministic."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.simulator.orders import SimulatedOrders, SimulatedOrdersFeed
from feeds.workorders.pipeline import WorkOrderPipeline
from tests.conftest import stream_samples

NOW = datetime(2026, 11, 18, 11, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()  # a Wednesday morning


def test_events_are_deterministic_and_follow_the_day(demo_tree):
    orders = SimulatedOrders(demo_tree, seed=3)
    window = orders.events(NOW - 3600, NOW, whole=True)
    assert window == SimulatedOrders(demo_tree, seed=3).events(NOW - 3600, NOW, whole=True)
    assert window != SimulatedOrders(demo_tree, seed=4).events(NOW - 3600, NOW, whole=True)
    night = orders.events(NOW - 8 * 3600, NOW - 7 * 3600, whole=True)  # 03:00-04:00
    received = [Counter(e["source"] for e in w if e["step"] == "received") for w in (window, night)]
    assert received[0]["12345"] > 4 * received[1]["12345"] > 0


def test_a_simulated_week_gives_believable_aggregates(redis_client, demo_tree):
    ingestor = Ingestor(redis_client, "workorders", registry(), frozenset(demo_tree.ids("grid")), clock=lambda: NOW)
    feed = SimulatedOrdersFeed(SimulatedOrders(demo_tree), WorkOrderPipeline(ingestor))
    result = feed.run_once(NOW)
    health = store.read_feed_health(redis_client)["workorders"]
    assert result is not None and result.refused == [] and health["refused"] == 0
    assert health["events_accepted"] > 50_000
    total = Counter()
    for s in stream_samples(redis_client):
        total[s.metric] += s.value
    print(dict(total))
    assert 0.9 < total["orders_closed_on_time_24h"] / total["orders_due_24h"] <= 1
    assert 0.68 < total["orders_solved_in_grid_7d"] / total["orders_closed_7d"] < 0.76
    assert 0.94 < total["orders_satisfied_7d"] / total["orders_rated_7d"] < 0.99
    assert total["orders_open"] > total["orders_overdue"] > 0
    assert feed.run_once(NOW + 60).refused == []  # the next round carries on from the state in Redis
