"""Simulated work orders through the real pipeline and Redis: believable, rhythmic, deterministic."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.simulator.orders import SimulatedOrders, SimulatedOrdersFeed
from feeds.workorders.aggregate import DAY
from feeds.workorders.pipeline import WorkOrderPipeline
from tests.conftest import stream_samples

NOW = datetime(2026, 11, 18, 11, 0, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp()  # a Wednesday morning


def test_events_are_deterministic_and_follow_the_day(demo_tree):
    orders = SimulatedOrders(demo_tree, seed=3)
    window = orders.events(NOW - 3600, NOW, whole=True)
    assert window == SimulatedOrders(demo_tree, seed=3).events(NOW - 3600, NOW, whole=True)
    assert window != SimulatedOrders(demo_tree, seed=4).events(NOW - 3600, NOW, whole=True)
    # Over a week (a district's 12345 takes a few calls an hour): mornings 08-11 against nights 02-05.
    mornings, nights = (sum((_received(orders, NOW - d * DAY - hours * 3600) for d in range(7)), Counter())
                        for hours in (3, 9))
    assert mornings["12345"] > 4 * nights["12345"] > 0


def _received(orders: SimulatedOrders, start: float) -> Counter:
    """Orders received per source in the three hours from ``start``."""
    return Counter(e["source"] for e in orders.events(start, start + 3 * 3600, whole=True) if e["step"] == "received")


def test_orders_per_day_and_closure_are_those_of_the_seed_district(demo_tree):
    # Pukou's joint-duty centre: 34,594 orders in January-May (about 230 a day), 99.87% closed.
    orders = SimulatedOrders(demo_tree).orders(NOW - 28 * DAY, NOW, whole=True)
    orders = orders[orders["received"] > NOW - 28 * DAY]
    assert 200 < len(orders) / 28 < 260
    assert 0.998 < (orders["closed"] < orders["received"] + 8 * DAY).mean() < 0.9995


def test_a_simulated_week_gives_believable_aggregates(redis_client, demo_tree):
    ingestor = Ingestor(redis_client, "workorders", registry(), frozenset(demo_tree.ids("grid")), clock=lambda: NOW)
    feed = SimulatedOrdersFeed(SimulatedOrders(demo_tree), WorkOrderPipeline(ingestor))
    result = feed.run_once(NOW)
    health = store.read_feed_health(redis_client)["workorders"]
    assert result is not None and result.refused == [] and health["refused"] == 0
    assert 8_000 < health["events_accepted"] < 14_000  # a week and a day of ~230 orders, up to six steps each
    total = Counter()
    for s in stream_samples(redis_client):
        total[s.metric] += s.value
    print(dict(total))
    assert 0.9 < total["orders_closed_on_time_24h"] / total["orders_due_24h"] <= 1
    assert 0.68 < total["orders_solved_in_grid_7d"] / total["orders_closed_7d"] < 0.76
    assert 0.94 < total["orders_satisfied_7d"] / total["orders_rated_7d"] < 0.99
    assert total["orders_open"] > total["orders_overdue"] > 0
    assert feed.run_once(NOW + 60).refused == []  # the next round carries on from the state in Redis
