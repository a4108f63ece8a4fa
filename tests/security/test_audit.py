"""Finding 15: refused attempts (role, CSRF, rate limit) and CLI actions are audited; the CSRF token is
replaced at login."""

from __future__ import annotations

import requests

from cityvitals.users import read_audit
from tests.conftest import START, message, post_callback
from tests.security.conftest import PASSWORD, login


def _refusals(sql) -> list[tuple[str, str]]:
    return [(a["user"], a["action"]) for a in read_audit(sql) if a["action"].startswith("refused_")]


def test_refused_roles_and_csrf_are_audited_once_a_minute_per_address(site):
    url, sql, sessions, _ = site
    before = len(_refusals(sql))
    for _ in range(3):
        assert "admin role" in message(post_callback(sessions["viewer-wu"], url, "admin-start", 1, START))
    r = post_callback(sessions["admin-zhou"], url, "admin-start", 1, START, csrf=False)
    assert r.status_code == 400
    new = _refusals(sql)[: len(_refusals(sql)) - before]
    assert new == [("admin-zhou", "refused_csrf"), ("viewer-wu", "refused_role")]  # newest first, each once


def test_rate_limited_logins_are_audited(closed):
    url, sql = closed
    s = requests.Session()
    codes = [login(s, url, "admin-qian", f"guess number {i}").status_code for i in range(12)]
    assert codes[-1] == 429
    assert [a["action"] for a in read_audit(sql)].count("refused_rate_limit") == 1


def test_the_csrf_token_of_before_login_is_refused_after_it(closed):
    url, _ = closed
    s = requests.Session()
    s.get(f"{url}/login", timeout=10)
    before = s.cookies["_csrf_token"]
    assert login(s, url, "admin-qian", PASSWORD).status_code == 302
    r = s.post(f"{url}/_dash-update-component", json={}, headers={"X-CSRFToken": before}, timeout=10)
    assert r.status_code == 400 and "CSRF" in r.json()["error"]


def test_cli_actions_are_audited(tmp_path, monkeypatch, redis_url, capsys):
    from cityvitals.db import make_engine
    from wiring.cli import main

    db = f"sqlite:///{tmp_path / 'cv.sqlite'}"
    for name, value in (("DATABASE_URL", db), ("REDIS_URL", redis_url), ("CITYVITALS_DATA_DIR", str(tmp_path))):
        monkeypatch.setenv(name, value)
    assert main(["simulate", "--scenario", "flood", "--area", "pukou.jiangpu", "--minutes", "5"]) == 0
    assert main(["simulate", "--scenario", "flood", "--area", "pukou.jiangpu", "--stop"]) == 0
    assert main(["simulate", "--scenario", "flood", "--minutes", "-3"]) == 2
    assert main(["db", "upgrade"]) == 0
    actions = [(a["user"], a["action"]) for a in read_audit(make_engine(db))]
    assert actions[:3] == [("cli", "db_upgrade"), ("cli", "scenario_stop"), ("cli", "scenario_start")]
