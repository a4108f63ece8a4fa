"""Role-guarded actions over real HTTP on the whole web server, as the browser posts them: the admin page's,
acknowledging and exporting warnings; roles, audit log, CSRF."""

from __future__ import annotations

import json
import re

import pytest

from cityvitals import store
from cityvitals.acks import read_acks
from cityvitals.tokens import TokenVerifier, list_tokens
from indicators.history import log_transitions, utc
from tests.conftest import START, message, post_callback


def _actions(entries: list[dict]) -> list[tuple[str, str]]:
    return [(a["user"], a["action"]) for a in entries]


@pytest.mark.parametrize("who", [None, "viewer-wu"])
def test_a_viewer_is_refused_every_action_and_nothing_changes(site, redis_client, who):
    url, sql, sessions, audited = site
    s, tokens = sessions[who], list_tokens(sql)
    assert "admin role" in message(post_callback(s, url, "admin-start", 1, START))
    assert "admin role" in message(post_callback(s, url, "admin-token-create", 1, {"admin-token-source": "x"}))
    assert "admin role" in message(post_callback(s, url, {"type": "admin-profile", "profile": "flood_season",
                                                          "switch": "on"}, 1))
    assert "admin role" in message(post_callback(s, url, {"type": "admin-revoke", "token": "1"}, 1))
    assert "admin role" in message(post_callback(s, url, "admin-catalog-check", 1))
    assert store.read_scenarios(redis_client) == [] and store.profiles_on(redis_client) == set()
    assert list_tokens(sql) == tokens and audited() == []
    assert message(post_callback(s, url, "admin-changed", 1)) == "{}"  # nor may it read the lists


def test_an_admin_starts_and_stops_a_scenario_and_both_are_audited(site, redis_client):
    url, sql, sessions, audited = site
    s = sessions["admin-zhou"]
    assert "Started flood in pukou.jiangpu for 30 min" in message(post_callback(s, url, "admin-start", 1, START))
    (running,) = store.read_scenarios(redis_client)
    assert (running["scenario"], running["area"], running["minutes"]) == ("flood", "pukou.jiangpu", 30)
    assert "flood" in message(post_callback(s, url, "admin-changed", 1))  # listed as running
    stop = {"type": "admin-stop", "key": "flood@pukou.jiangpu"}
    assert "Stopped flood in pukou.jiangpu" in message(post_callback(s, url, stop, 1))
    assert store.read_scenarios(redis_client) == []
    entries = audited()
    assert _actions(entries) == [("admin-zhou", "scenario_stop"), ("admin-zhou", "scenario_start")]
    assert json.loads(entries[1]["detail"]) == {"area": "pukou.jiangpu", "minutes": 30.0, "scenario": "flood"}


def test_bad_scenario_requests_are_refused_with_the_reason(site, redis_client):
    url, _, sessions, audited = site
    s = sessions["admin-zhou"]
    assert "Choose an area" in message(post_callback(s, url, "admin-start", 1, {**START, "admin-area": "nowhere"}))
    assert "1 to 1440 minutes" in message(post_callback(s, url, "admin-start", 1, {**START, "admin-minutes": 5000}))
    assert store.read_scenarios(redis_client) == [] and audited() == []


def test_a_redrawn_button_does_nothing_only_a_click_does(site, redis_client):
    url, _, sessions, audited = site
    body = post_callback(sessions["admin-zhou"], url, {"type": "admin-profile", "profile": "flood_season",
                                                        "switch": "on"}, None)
    assert message(body) == "{}"  # Dash's answer when nothing is updated
    assert store.profiles_on(redis_client) == set() and audited() == []


def test_profiles_switch_on_and_off_for_the_engines(site, redis_client):
    url, _, sessions, audited = site
    s = sessions["admin-zhou"]
    on = {"type": "admin-profile", "profile": "flood_season", "switch": "on"}
    assert "Profile flood_season on" in message(post_callback(s, url, on, 1))
    assert store.profiles_on(redis_client) == {"flood_season"}
    assert "(it already was)" in message(post_callback(s, url, on, 2))
    assert "Profile flood_season off" in message(post_callback(s, url, {**on, "switch": "off"}, 1))
    assert store.profiles_on(redis_client) == set()
    assert [a for _, a in _actions(audited())] == ["profile_off", "profile_on", "profile_on"]


def test_a_token_is_shown_once_stored_hashed_works_and_can_be_revoked(site):
    url, sql, sessions, audited = site
    s = sessions["admin-zhou"]
    answer = message(post_callback(s, url, "admin-token-create", 1, {"admin-token-source": "env-bureau"}))
    token = answer.split('"children": "')[-1].split('"')[0]
    assert token.startswith("cv_") and "shown this once" in answer
    info = list_tokens(sql)[-1]
    assert info.source == "env-bureau" and info.revoked_at is None
    with sql.connect() as conn:
        assert token not in str(conn.exec_driver_sql("SELECT * FROM ingest_token").all())
    assert TokenVerifier(sql).source_of(token) == "env-bureau"
    listed = message(post_callback(s, url, "admin-changed", 1))
    assert f"#{info.id}" in listed and token not in listed  # listed by id and source, never by value
    assert "must be 1-48 of a-z" in message(post_callback(s, url, "admin-token-create", 1,
                                                          {"admin-token-source": "Bad Name!"}))
    revoke = {"type": "admin-revoke", "token": str(info.id)}
    assert f"Revoked token #{info.id}" in message(post_callback(s, url, revoke, 1))
    assert TokenVerifier(sql).source_of(token) is None
    assert [(a["action"], json.loads(a["detail"])) for a in audited()] == [
        ("token_revoke", {"id": info.id}), ("token_create", {"source": "env-bureau"})]


def test_the_catalog_check_reports_every_error_with_file_and_line(site, catalog_dir):
    catalog = catalog_dir
    url, _, sessions, audited = site
    s = sessions["admin-zhou"]
    ok = message(post_callback(s, url, "admin-catalog-check", 1))
    assert f"✓ {catalog}" in ok and "indicators, version" in ok
    eco = catalog / "macro_eco_environment.yaml"
    good = eco.read_text()
    try:
        eco.write_text(good.replace("rollup: mean", "rollup: median", 1))
        bad = message(post_callback(s, url, "admin-catalog-check", 2))
    finally:
        eco.write_text(good)
    assert "✗" in bad and "the engines keep the last good catalog" in bad
    assert re.search(r'macro_eco_environment.yaml:\d+:\d+: indicator \\"pm25\\": rollup: Input should be', bad), bad
    assert [a for _, a in _actions(audited())] == ["catalog_check", "catalog_check"]


def test_admin_callbacks_need_the_csrf_header(site, redis_client):
    url, _, sessions, audited = site
    r = post_callback(sessions["admin-zhou"], url, "admin-start", 1, START, csrf=False)
    assert r.status_code == 400 and "CSRF" in r.json()["error"]
    assert store.read_scenarios(redis_client) == [] and audited() == []


EPISODE = "river_level_max@pukou.jiangpu@1796000000.000"
ACK = {"warnings-active": [EPISODE], "warnings-comment": "水务已处置 handled", "warnings-acked": 0}
EXPORT = {"warnings-states": ["red", "yellow"], "warnings-key": {"area": "pukou"}}


@pytest.mark.parametrize("who", [None, "viewer-wu"])
def test_a_viewer_may_neither_acknowledge_nor_export(site, who):
    url, sql, sessions, audited = site
    s = sessions[who]
    assert "Acknowledging needs the analyst role" in message(post_callback(s, url, "warnings-ack", 1, ACK))
    assert "Export needs the analyst role" in message(post_callback(s, url, "warnings-export", 1, EXPORT))
    assert read_acks(sql, {"river_level_max"}) == {} and audited() == []


def test_an_analyst_acknowledges_and_exports_and_both_are_audited(site):
    url, sql, sessions, audited = site
    log_transitions(sql, [{"at": utc(1796000000.0), "indicator": "river_level_max", "level": "street",
                           "area": "pukou.jiangpu", "from_state": "normal", "to_state": "red", "value": 9.1,
                           "yellow": "7.5", "red": "8.5"}])  # only a warning that was (or is) can be acknowledged
    s = sessions["analyst-he"]
    assert "Acknowledged 1 warning(s)" in message(post_callback(s, url, "warnings-ack", 1, ACK))
    ack = read_acks(sql, {"river_level_max"})[("river_level_max", "pukou.jiangpu", 1796000000.0)]
    assert (ack["user"], ack["comment"]) == ("analyst-he", "水务已处置 handled")
    download = json.loads(message(post_callback(s, url, "warnings-export", 1, EXPORT)))["warnings-download"]["data"]
    assert download["filename"].startswith("warnings-pukou-") and download["content"].startswith("indicator,name,")
    assert _actions(audited()) == [("analyst-he", "warnings_export"), ("analyst-he", "warning_ack")]
    assert "admin role" in message(post_callback(s, url, "admin-start", 1, START))  # an analyst is no admin
