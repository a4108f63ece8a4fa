"""Finding 8: only warnings that are or were can be acknowledged, at most 100 at once, each key answered;
nothing a client sends turns into a 500, on SQLite or PostgreSQL."""

from __future__ import annotations

import json

import pytest

from cityvitals import store
from cityvitals.acks import read_acks
from dashboard.acknowledging import MAX_PER_REQUEST, acknowledge_episodes
from dashboard.context import DashboardContext
from indicators.history import log_transitions, utc

PAST = ("river_level_max", "pukou.jiangpu", 1_796_000_000.0)
NOW_SINCE = 1_796_100_000.5


@pytest.fixture
def ctx(redis_client, sql_engine, demo_tree):
    """A dashboard context with one warning in the log (past) and one in force now (in Redis)."""
    indicator, area, at = PAST
    log_transitions(sql_engine, [{"at": utc(at), "indicator": indicator, "level": "street", "area": area,
                                  "from_state": "normal", "to_state": "red", "value": 9.0, "yellow": "7.5",
                                  "red": "8.5"}])
    redis_client.hset(store.WARNINGS, "aqi@pukou.qiaolin", json.dumps({"s": "yellow", "since": NOW_SINCE}))
    return DashboardContext(redis_client, sql_engine, demo_tree, 5.0)


def _key(indicator: str, area: str, since: float) -> str:
    return f"{indicator}@{area}@{since:.3f}"


def test_real_warnings_are_acknowledged_made_up_ones_refused_each_with_its_reason(ctx):
    keys = [_key(*PAST), _key("aqi", "pukou.qiaolin", NOW_SINCE), _key("aqi", "pukou.jiangpu", NOW_SINCE),
            "no-at-signs", _key("x" * 65, "pukou", 1.0), _key("aqi", "g" * 65, 1.0), 42, None, ["list"]]
    outcome = acknowledge_episodes(ctx, "analyst-he", keys, "handled")
    assert outcome.done == 2 and len(outcome.refused) == len(keys) - 2
    assert "no such warning" in outcome.refused[0] and all(len(r) < 200 for r in outcome.refused)
    acked = read_acks(ctx.sql, {"river_level_max", "aqi"})
    assert set(acked) == {PAST, ("aqi", "pukou.qiaolin", NOW_SINCE)}


@pytest.mark.parametrize(("selected", "comment", "reason"), [
    ([_key(*PAST)] * (MAX_PER_REQUEST + 1), "", f"at most {MAX_PER_REQUEST} at once"),
    ([_key(*PAST)], "x" * 501, "at most 500"),
    ([_key(*PAST)], "bad\ud800", "surrogate"),
    ([_key(*PAST)], "bad\x00", "control character"),
    ([_key(*PAST)], ["not", "text"], "must be text"),
    ("not a list", "", "select warnings first"),
    ({"a": 1}, None, "select warnings first"),
])
def test_a_bad_request_is_refused_whole_with_the_reason(ctx, selected, comment, reason):
    outcome = acknowledge_episodes(ctx, "analyst-he", selected, comment)
    assert outcome.done == 0 and reason in outcome.refused[0]
    assert read_acks(ctx.sql, {"river_level_max"}) == {}
