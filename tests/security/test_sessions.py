"""Finding 2: logout, a new password, a new role and the lifetimes end a session for good; the header logs out."""

from __future__ import annotations

import time

import requests

from cityvitals.sessions import Lifetimes, find_session, open_session
from cityvitals.users import set_password, set_role
from tests.security.conftest import PASSWORD, csrf_headers, login, serve_with


def _replay(url: str, saved) -> int:
    """The status of /admin for a fresh client holding a copy of ``saved`` cookies."""
    s = requests.Session()
    s.cookies.update(saved)
    return s.get(f"{url}/admin", allow_redirects=False, timeout=10).status_code


def test_a_cookie_saved_before_logout_opens_nothing_after_it(closed):
    url, _ = closed
    s = requests.Session()
    assert login(s, url, "admin-qian").status_code == 302
    saved = s.cookies.copy()
    assert _replay(url, saved) == 200
    r = s.post(f"{url}/logout", headers=csrf_headers(s), allow_redirects=False, timeout=10)
    assert r.status_code == 302
    assert _replay(url, saved) == 302  # to the login page


def test_logout_ends_every_session_of_the_user(closed):
    url, _ = closed
    office, wall = requests.Session(), requests.Session()
    for s in (office, wall):
        assert login(s, url, "admin-qian").status_code == 302
    office.post(f"{url}/logout", headers=csrf_headers(office), timeout=10)
    assert wall.get(f"{url}/admin", allow_redirects=False, timeout=10).status_code == 302


def test_a_new_password_or_role_ends_the_sessions(closed):
    url, sql = closed
    s = requests.Session()
    assert login(s, url, "admin-qian").status_code == 302
    set_password(sql, "admin-qian", PASSWORD + " 2")
    assert s.get(f"{url}/admin", allow_redirects=False, timeout=10).status_code == 302
    assert login(s, url, "admin-qian", PASSWORD + " 2").status_code == 302
    set_role(sql, "admin-qian", "viewer")
    assert s.get(f"{url}/admin", allow_redirects=False, timeout=10).status_code == 302


def test_sessions_end_when_idle_and_when_too_old(sqlite_engine):
    short = Lifetimes(idle_s=1, absolute_s=3600)
    token = open_session(sqlite_engine, 1, "analyst", "analyst")
    assert find_session(sqlite_engine, token, short).name == "analyst"
    time.sleep(1.5)
    assert find_session(sqlite_engine, token, short) is None
    assert find_session(sqlite_engine, token, Lifetimes()) is None  # ended, not only hidden
    token = open_session(sqlite_engine, 1, "analyst", "analyst")
    time.sleep(1.2)
    assert find_session(sqlite_engine, token, Lifetimes(idle_s=3600, absolute_s=1)) is None


def test_the_wall_viewer_is_exempt_from_idle_expiry_only_while_anonymous_viewing_is_on(sqlite_engine):
    wall = Lifetimes(idle_s=1, absolute_s=3600, no_idle=frozenset({"viewer"}))
    viewer, analyst = (open_session(sqlite_engine, i, n, n) for i, n in ((1, "viewer"), (2, "analyst")))
    time.sleep(1.5)
    assert find_session(sqlite_engine, viewer, wall) is not None
    assert find_session(sqlite_engine, analyst, wall) is None


def test_the_server_applies_the_configured_idle_lifetime(redis_client, sqlite_engine, demo_tree, tmp_path):
    from cityvitals.users import add_user

    add_user(sqlite_engine, "li-analyst", PASSWORD, "analyst")
    with serve_with(redis_client, sqlite_engine, demo_tree, tmp_path, anonymous_role="none",
                    session_idle_s=1.0) as url:
        s = requests.Session()
        assert login(s, url, "li-analyst").status_code == 302
        assert s.get(f"{url}/warnings", allow_redirects=False, timeout=10).status_code == 200
        time.sleep(1.5)
        assert s.get(f"{url}/warnings", allow_redirects=False, timeout=10).status_code == 302


def test_every_page_loads_the_log_out_control(closed):
    url, _ = closed
    s = requests.Session()
    login(s, url, "viewer-sun")
    page = s.get(f"{url}/", timeout=10).text
    assert "56_logout.js" in page
    script = s.get(f"{url}/assets/56_logout.js", timeout=10)
    assert script.status_code == 200 and '"/logout"' in script.text
