"""Finding 14: every admin input and acknowledgement as a stranger might send it, over real HTTP to gunicorn:
a reason on the page, never a 500, nothing stored."""

from __future__ import annotations

import json

import pytest

from cityvitals import store
from cityvitals.acks import read_acks
from cityvitals.tokens import list_tokens
from cityvitals.users import read_audit
from tests.conftest import START, message, post_callback


@pytest.mark.parametrize(("change", "reason"), [
    ({"admin-minutes": "abc"}, "1 to 1440 minutes"), ({"admin-minutes": "1e999"}, "1 to 1440 minutes"),
    ({"admin-minutes": ["x"]}, "1 to 1440 minutes"), ({"admin-minutes": True}, "1 to 1440 minutes"),
    ({"admin-area": ["pukou"]}, "Choose an area"), ({"admin-area": {"a": 1}}, "Choose an area"),
    ({"admin-scenario": ["flood"]}, "Choose a scenario"),
])
def test_bad_scenario_values_get_a_reason(site, redis_client, change, reason):
    url, _, sessions, audited = site
    assert reason in message(post_callback(sessions["admin-zhou"], url, "admin-start", 1, {**START, **change}))
    assert store.read_scenarios(redis_client) == [] and audited() == []


@pytest.mark.parametrize(("trigger", "reason"), [
    ({"type": "admin-profile", "profile": "x" * 200_000, "switch": "on"}, "No such profile"),
    ({"type": "admin-profile", "profile": "Flood Season!", "switch": "on"}, "No such profile"),
    ({"type": "admin-revoke", "token": "abc"}, "No such token"),
    ({"type": "admin-revoke", "token": "9" * 5000}, "No such token"),
    ({"type": "admin-stop", "key": "flood"}, "No such scenario"),
])
def test_bad_buttons_get_a_reason(site, redis_client, trigger, reason):
    url, sql, sessions, audited = site
    tokens = list_tokens(sql)
    r = post_callback(sessions["admin-zhou"], url, trigger, 1)
    assert reason in message(r)
    assert store.profiles_on(redis_client) == set() and list_tokens(sql) == tokens and audited() == []


def test_a_token_source_that_is_no_text_gets_a_reason(site):
    url, _, sessions, _ = site
    answer = message(post_callback(sessions["admin-zhou"], url, "admin-token-create", 1,
                                   {"admin-token-source": ["env"]}))
    assert "must be 1-48 of a-z" in answer


@pytest.mark.parametrize(("selected", "comment", "reason"), [
    (["river_level_max@pukou.jiangpu@1796000000.000"], "", "no such warning"),
    ([f"aqi@pukou@{i}.000" for i in range(2000)], "", "at most 100 at once"),
    (["a@b@c"], "x" * 501, "at most 500"),
    ("river_level_max", "", "select warnings first"),
    ([["nested"]], "", "not a warning key"),
])
def test_acknowledging_what_is_no_warning_stores_nothing(site, selected, comment, reason):
    url, sql, sessions, audited = site
    r = post_callback(sessions["analyst-he"], url, "warnings-ack", 1,
                      {"warnings-active": selected, "warnings-comment": comment, "warnings-acked": 0})
    assert reason in message(r) and "Nothing acknowledged" in message(r)
    assert read_acks(sql, {"river_level_max", "aqi"}) == {} and audited() == []


def test_an_export_of_a_made_up_area_gets_a_reason(site):
    url, _, sessions, _ = site
    r = post_callback(sessions["analyst-he"], url, "warnings-export", 1,
                      {"warnings-states": "red", "warnings-key": {"area": ["pukou"]}})
    assert "Unknown area" in json.dumps(r.json(), ensure_ascii=False)


def test_actions_are_rate_limited_per_user(site):
    url, sql, sessions, _ = site
    switch = {"type": "admin-profile", "profile": "flood_season", "switch": "on"}
    answers = [message(post_callback(sessions["admin-zhou"], url, switch, i + 1)) for i in range(31)]
    assert all("Profile flood_season on" in a for a in answers[:30]) and "Too many actions" in answers[30]
    other = message(post_callback(sessions["analyst-he"], url, "warnings-ack", 1, {
        "warnings-active": ["x"], "warnings-comment": "", "warnings-acked": 0}))
    assert "Too many actions" not in other and "not a warning key" in other  # another user is not held up
    assert read_audit(sql, 1)[0]["action"] == "refused_rate_limit"
