"""Indicator history in SQL: one row per indicator and area per minute, however often the engine ticks;
rows past the retention are dropped. Runs on SQLite and the real PostgreSQL."""

from __future__ import annotations

import calendar

import pytest

from cityvitals import store
from cityvitals.config import ConfigError, load_settings
from cityvitals.store import Sample
from indicators.history import read_domain_history, read_history, read_values_at_step
from indicators.loader import load_catalog
from indicators.service import EngineService
from tests.conftest import GRIDS, tiny_tree
from tests.indicators.conftest import CATALOG, ORDERS, T0, send


def test_history_has_one_row_a_minute_and_keeps_only_the_retention(redis_client, sql_engine):
    service = EngineService(redis_client, sql_engine, tiny_tree(), load_catalog([CATALOG]), consumer="h",
                            retention_s=150)
    for minute in range(5):
        send(redis_client, minute)
        for second in (5, 25, 45):  # three ticks a minute, one history row
            service.tick(T0 + 60 * minute + second)
    rows = read_history(sql_engine, "orders", "d.s", since=0)
    # at T0 + 245 s everything before T0 + 95 s is gone: minutes 2, 3 and 4 stay, street sums of the grids
    got = [(calendar.timegm(r[0].utctimetuple()), r[1]) for r in rows]
    assert got == [(int(T0) + 60 * m + 5, float(sum(ORDERS[m]))) for m in (2, 3, 4)]
    assert {r[2] for r in rows} == {"red"}  # 19-22 orders against red at 20 (hysteresis 3 holds red)


def test_history_retention_is_a_setting(tmp_path):
    assert load_settings(tmp_path, env={}).history_days == 7
    assert load_settings(tmp_path, env={"CITYVITALS_HISTORY_DAYS": "30"}).history_days == 30
    with pytest.raises(ConfigError, match="CITYVITALS_HISTORY_DAYS must be positive"):
        load_settings(tmp_path, env={"CITYVITALS_HISTORY_DAYS": "0"})


def test_values_an_hour_ago_come_from_the_first_step_after_the_time_asked(redis_client, sql_engine):
    service = EngineService(redis_client, sql_engine, tiny_tree(), load_catalog([CATALOG]), consumer="h")
    for minute in range(4):
        send(redis_client, minute)
        service.tick(T0 + 60 * minute + 5)
    at_minute_2 = read_values_at_step(sql_engine, "d.s", T0 + 61)  # steps at T0+5, +65, +125, +185
    assert at_minute_2["orders"] == float(sum(ORDERS[1]))
    for indicator, value in at_minute_2.items():  # every indicator of the street, as logged at that step
        logged = {calendar.timegm(r[0].utctimetuple()): r[1] for r in read_history(sql_engine, indicator, "d.s", 0)}
        assert logged[int(T0) + 65] == value and len(logged) == 4
    assert read_values_at_step(sql_engine, "d.s", T0 + 1000) == {}  # no step yet: no trend, not a made-up one


def test_each_domain_has_its_data_time_and_a_score_history_for_the_tiles(redis_client, sql_engine):
    service = EngineService(redis_client, sql_engine, tiny_tree(), load_catalog([CATALOG]), consumer="h")
    for minute in range(3):
        send(redis_client, minute)
        service.tick(T0 + 60 * minute + 5)
    late = T0 + 180  # only the hotline reports in the fourth minute: the river gauges' data grows old
    store.append_samples(redis_client, "hotline", [Sample("hotline_orders_1h", g, late, 3.0) for g in GRIDS])
    service.tick(late + 5)

    summary = store.read_summaries(redis_client, "street", ["d.s"])["d.s"]
    records = store.read_states(redis_client, "d.s", ["orders", "level"])
    safety = summary["domains"]["public_safety"]
    assert records["orders"]["ts"] == late and safety["data_ts"] == min(r["ts"] for r in records.values()) < late
    assert summary["domains"]["eco_environment"]["data_ts"] is None  # no indicator there: no data, no age

    scores = read_domain_history(sql_engine, "d.s", since=0)
    assert len(scores["public_safety"]) == 4 and scores["public_safety"][-1] == safety["score"]
    assert scores["health"] == scores["public_safety"]  # the catalog's only domain
    assert scores["eco_environment"] == [None] * 4  # no indicator: no score, never a healthy 100


TWO_DOMAINS = """
indicators:
  - {id: orders, name: {zh: 工单数, en: Orders}, tier: macro, group: public_safety, description: Orders.,
     source: {metric: hotline_orders_1h}, rollup: sum, direction: higher_is_worse,
     thresholds: {yellow: 100, red: 200}, stale_after: 1h}
  - {id: level, name: {zh: 水位, en: Level}, tier: macro, group: eco_environment, description: Level.,
     source: {metric: river_level}, rollup: mean, direction: higher_is_worse,
     thresholds: {yellow: 4.5, red: 9}, stale_after: 1h}
"""


def test_a_domain_tile_follows_its_own_data_while_another_domain_holds_the_area_oldest(redis_client, tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(TWO_DOMAINS)
    service = EngineService(redis_client, None, tiny_tree(), load_catalog([path]), consumer="h")
    store.append_samples(redis_client, "gauges", [Sample("river_level", g, T0, 2.0) for g in GRIDS])
    for minute in range(0, 10, 2):  # the hotline reports every two minutes; the gauges never again
        store.append_samples(redis_client, "hotline", [Sample("hotline_orders_1h", g, T0 + 60 * minute, 3.0)
                                                       for g in GRIDS])
        service.tick(T0 + 60 * minute + 5)

    summary = store.read_summaries(redis_client, "street", ["d.s"])["d.s"]
    assert summary["data_ts"] == T0  # the gauges' data is the area's oldest
    assert summary["domains"]["eco_environment"]["data_ts"] == T0
    assert summary["domains"]["public_safety"]["data_ts"] == T0 + 480  # not held back at the area's oldest
