"""Finding 9: a login name too long for its column, or with a NUL, is refused and audited, never a 500."""

from __future__ import annotations

import pytest
import requests

from cityvitals.users import read_audit
from tests.security.conftest import serve_with


@pytest.fixture
def site(redis_client, sql_engine, demo_tree, tmp_path):
    """A closed site on SQLite and on the real PostgreSQL."""
    with serve_with(redis_client, sql_engine, demo_tree, tmp_path, anonymous_role="none") as url:
        yield url, sql_engine


def _post_login(url: str, name: str) -> requests.Response:
    """Post the login form with ``name`` as it stands in the body (already URL-encoded)."""
    s = requests.Session()
    form = s.get(f"{url}/login", timeout=10).text
    csrf = form.split('name="csrf_token" value="')[1].split('"')[0]
    return s.post(f"{url}/login", data=f"name={name}&password=whatever+it+is&csrf_token={csrf}",
                  headers={"Content-Type": "application/x-www-form-urlencoded"}, allow_redirects=False, timeout=30)


# 65 characters; half a megabyte; a NUL; a lone surrogate's bytes (not UTF-8); 65 Chinese characters
@pytest.mark.parametrize("name", ["x" * 65, "x" * 500_000, "ad%00min", "%ED%A0%80", "%E5%90%8D" * 65])
def test_a_name_no_column_takes_is_refused_and_audited_clipped(site, name):
    url, sql = site
    r = _post_login(url, name)
    assert r.status_code == 401 and "Wrong user name or password" in r.text
    entry = read_audit(sql, 1)[0]
    assert entry["action"] == "login_failed" and 0 < len(entry["user"]) <= 64 and "\x00" not in entry["user"]


def test_a_body_over_the_limit_is_refused_before_it_is_read(site):
    url, _ = site
    assert _post_login(url, "x" * 3_000_000).status_code == 413
