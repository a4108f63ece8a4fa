"""Login, roles, CSRF and the audit log on the real web server over real HTTP, with real Redis and SQL."""

from __future__ import annotations

import io
import time

import pytest
import requests

from cityvitals.tokens import create_token
from cityvitals.users import add_user, read_audit, role_at_least
from tests.conftest import PASSWORD, _login, serve


@pytest.fixture
def closed_site(redis_client, sqlite_engine, demo_tree, tmp_path):
    """A server where nothing is readable without logging in."""
    with serve(redis_client, sqlite_engine, demo_tree, tmp_path, "none") as url:
        yield url, sqlite_engine


@pytest.fixture
def wall_site(redis_client, sqlite_engine, demo_tree, tmp_path):
    """A server the wall display may read anonymously."""
    with serve(redis_client, sqlite_engine, demo_tree, tmp_path, "viewer") as url:
        yield url, sqlite_engine



def test_roles_are_ordered():
    assert role_at_least("admin", "analyst") and role_at_least("analyst", "analyst")
    assert not role_at_least("viewer", "analyst") and not role_at_least(None, "viewer")
    assert not role_at_least("root", "viewer")


def test_closed_site_sends_visitors_to_the_login(closed_site):
    url, sql = closed_site
    r = requests.get(f"{url}/area/district?x=1", allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/area/district?x=1"
    r = requests.post(f"{url}/_dash-update-component", json={}, timeout=10)
    assert r.status_code == 401 and r.json()["error"] == "log in first"


def test_login_with_a_hashed_password_then_the_pages_open(closed_site):
    url, sql = closed_site
    add_user(sql, "li.analyst", PASSWORD, "analyst")
    with sql.connect() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash FROM app_user").scalar_one()
    assert PASSWORD not in stored and stored.startswith("scrypt:")
    s = requests.Session()
    bad = _login(s, url, "li.analyst", "wrong password!")
    assert bad.status_code == 401 and "Wrong user name or password" in bad.text
    good = _login(s, url, "li.analyst", PASSWORD)
    assert good.status_code == 302 and good.headers["Location"] == "/warnings"
    assert s.get(f"{url}/", allow_redirects=False, timeout=10).status_code == 200
    actions = [(a["user"], a["action"]) for a in read_audit(sql)]
    assert actions[:2] == [("li.analyst", "login"), ("li.analyst", "login_failed")]


def test_login_does_not_redirect_off_site(closed_site):
    url, sql = closed_site
    add_user(sql, "wang", PASSWORD, "viewer")
    s = requests.Session()
    form = s.get(f"{url}/login", timeout=10).text
    csrf = form.split('name="csrf_token" value="')[1].split('"')[0]
    r = s.post(f"{url}/login", data={"name": "wang", "password": PASSWORD, "csrf_token": csrf,
                                     "next": "https://evil.example/"}, allow_redirects=False, timeout=10)
    assert r.headers["Location"] == "/"


def test_login_is_rate_limited(closed_site):
    url, sql = closed_site
    s = requests.Session()
    codes = [_login(s, url, "nobody", f"guess-{i}-xxxx").status_code for i in range(12)]
    assert codes == [401] * 10 + [429] * 2


def test_login_form_without_csrf_token_is_refused(closed_site):
    url, sql = closed_site
    add_user(sql, "zhao", PASSWORD, "admin")
    r = requests.post(f"{url}/login", data={"name": "zhao", "password": PASSWORD}, timeout=10)
    assert r.status_code == 400 and "CSRF token is missing" in r.json()["error"]


def test_dash_callbacks_need_the_csrf_header(wall_site):
    url, _ = wall_site
    s = requests.Session()
    page = s.get(f"{url}/", timeout=10)
    assert page.status_code == 200 and s.cookies.get("_csrf_token")
    r = s.post(f"{url}/_dash-update-component", json={"output": "x.children", "inputs": []}, timeout=10)
    assert r.status_code == 400 and "CSRF" in r.json()["error"]
    r = s.post(f"{url}/_dash-update-component", json={"output": "x.children", "inputs": []}, timeout=10,
               headers={"X-CSRFToken": s.cookies["_csrf_token"]})
    assert r.status_code != 400 or "CSRF" not in r.text


def test_push_api_needs_no_session_or_csrf(wall_site, redis_client, demo_tree):
    url, sql = wall_site
    token = create_token(sql, "iot")
    grid = sorted(demo_tree.ids("grid"))[0]
    r = requests.post(f"{url}/api/v1/samples", timeout=10, headers={"Authorization": f"Bearer {token}"},
                      json=[{"metric": "aqi", "area": grid, "ts": time.time() - 1, "value": 42}])
    assert r.status_code == 200 and r.json()["accepted"] == 1


def test_user_commands(tmp_path, monkeypatch, capsys):
    from wiring.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cv.sqlite'}")
    monkeypatch.setenv("CITYVITALS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["user", "add", "chen", "--role", "admin"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["user", "add", "chen", "--role", "admin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["user", "add", "chen", "--role", "viewer"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert main(["user", "list"]) == 0
    assert "chen" in capsys.readouterr().out
    assert main(["user", "remove", "chen"]) == 0
    assert main(["user", "remove", "chen"]) == 1
