"""Finding 1 (High): a removed user's cookie must never become the next new user's session."""

from __future__ import annotations

import requests

from cityvitals import migrate
from cityvitals.users import add_user, list_users, remove_user
from tests.security.conftest import PASSWORD, csrf_headers, login


def test_ids_of_removed_users_are_never_handed_out_again(sql_engine):
    add_user(sql_engine, "first", PASSWORD, "viewer")
    gone = add_user(sql_engine, "second", PASSWORD, "viewer")
    assert remove_user(sql_engine, "second")
    newcomer = add_user(sql_engine, "third", PASSWORD, "admin")
    assert newcomer.id > gone.id


def test_a_database_migrated_from_before_keeps_its_ids_and_never_reuses_them(empty_sql_engine):
    migrate.upgrade(empty_sql_engine, "0002")  # the schema without AUTOINCREMENT
    for name in ("ann", "bob"):
        add_user(empty_sql_engine, name, PASSWORD, "viewer")
    migrate.upgrade(empty_sql_engine)
    assert [u.id for u, _ in list_users(empty_sql_engine)] == [1, 2]
    remove_user(empty_sql_engine, "bob")
    assert add_user(empty_sql_engine, "cai", PASSWORD, "viewer").id == 3


def test_the_cookie_of_a_removed_viewer_opens_nothing_for_the_next_admin(closed):
    url, sql = closed
    viewer = requests.Session()
    assert login(viewer, url, "viewer-sun").status_code == 302
    saved = viewer.cookies.copy()
    assert remove_user(sql, "viewer-sun")
    add_user(sql, "new-admin", PASSWORD, "admin")

    replay = requests.Session()
    replay.cookies.update(saved)
    r = replay.get(f"{url}/admin", allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    r = replay.post(f"{url}/_dash-update-component", json={}, headers=csrf_headers(replay), timeout=10)
    assert r.status_code == 401
