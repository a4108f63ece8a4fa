"""A state waiting out its minimum duration says so, in Redis and on screen, and keeps counting across a restart."""

import json
from pathlib import Path

import pytest

from cityvitals import store
from cityvitals.store import Sample
from indicators.classify import NO_PENDING
from indicators.explain import explain
from indicators.loader import load_catalog
from indicators.service import EngineService
from indicators.states import State
from tests.conftest import tiny_tree

NOW = 1_800_000_000.0
GRID = "d.s.c1.g2"
CATALOG = """
indicators:
  - id: orders
    name: {zh: 工单数, en: Orders}
    tier: macro
    group: public_safety
    unit: orders
    description: Hotline orders in the last hour.
    source: {metric: hotline_orders_1h}
    rollup: sum
    direction: higher_is_worse
    thresholds: {yellow: 10, red: 20}
    hysteresis: 3
    min_duration: 5m
"""


@pytest.fixture
def catalog(tmp_path):
    path = tmp_path / "pending.yaml"
    path.write_text(CATALOG)
    return load_catalog([Path(path)])


def send(client, at: float, value: float) -> None:
    store.append_samples(client, "hotline", [Sample("hotline_orders_1h", GRID, at, value)])


def step(client, catalog, before: float, after: float) -> EngineService:
    """An engine that saw ``before`` (held from NOW - 300, taken at NOW), then ``after`` (scored at NOW + 20)."""
    service = EngineService(client, None, tiny_tree(), catalog, consumer="t")
    send(client, NOW - 310, before)
    service.tick(NOW - 300)  # leaving stale for a warning waits out the minimum duration too
    service.tick(NOW)
    send(client, NOW + 10, after)
    service.tick(NOW + 20)
    return service


def record(client) -> dict:
    return store.read_state_of(client, "orders", [GRID])[GRID]


def warning(client) -> dict | None:
    raw = client.hget(store.WARNINGS, f"orders@{GRID}")
    return None if raw is None else json.loads(raw)


def test_a_warning_on_its_way_down_says_where_it_is_going_and_when(redis_client, catalog):
    service = step(redis_client, catalog, 25.0, 2.0)  # red after its minimum duration, then well under
    held = record(redis_client)
    assert (held["s"], held["v"], held["since"]) == ("red", 2.0, NOW)  # held by the minimum duration
    assert (held["p"], held["ps"]) == ("normal", NOW + 20)
    assert (warning(redis_client)["p"], warning(redis_client)["ps"]) == ("normal", NOW + 20)
    why = explain(redis_client, "orders", GRID, now=NOW + 30)
    assert (why["pending"], why["pending_since"], why["min_duration_s"]) == ("normal", NOW + 20, 300.0)

    service.tick(NOW + 319)
    assert record(redis_client)["s"] == "red"
    service.tick(NOW + 320)
    done = record(redis_client)
    assert (done["s"], done["since"], done["p"], done["ps"]) == ("normal", NOW + 320, None, None)
    assert warning(redis_client) is None


def test_a_restarted_engine_goes_on_counting_the_minimum_duration(redis_client, catalog):
    step(redis_client, catalog, 25.0, 2.0)

    second = EngineService(redis_client, None, tiny_tree(), catalog, consumer="t")  # the first one died
    track = second.engine.tracks["grid"]
    row, col = second.engine.ind_ids.index("orders"), tiny_tree().ids("grid").index(GRID)
    assert (track.pending[row, col], track.pending_since[row, col]) == (State.NORMAL, NOW + 20)
    second.tick(NOW + 200)
    assert (record(redis_client)["s"], record(redis_client)["ps"]) == ("red", NOW + 20)
    second.tick(NOW + 320)  # 300 s after the first engine saw the value drop, not after the restart
    assert record(redis_client)["s"] == "normal"


def test_rising_into_a_warning_waits_too_and_says_so(redis_client, catalog):
    step(redis_client, catalog, 2.0, 12.0)
    rising = record(redis_client)
    assert (rising["s"], rising["p"], rising["ps"]) == ("normal", "yellow", NOW + 20)
    assert warning(redis_client) is None  # not a warning until it is one


def test_state_codes_in_cells_are_the_engines():
    assert store.STATE_NAMES == tuple(State(k).label for k in sorted(State))
    assert store.NO_STATE == NO_PENDING
