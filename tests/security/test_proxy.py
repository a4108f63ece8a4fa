"""Finding 11: behind a TLS proxy cookies are Secure, and the login limit counts each client, not the proxy."""

from __future__ import annotations

import pytest
import requests

from tests.security.conftest import PASSWORD, login, serve_with


@pytest.fixture
def proxied(redis_client, sqlite_engine, demo_tree, tmp_path):
    from cityvitals.users import add_user

    add_user(sqlite_engine, "analyst-ma", PASSWORD, "analyst")
    with serve_with(redis_client, sqlite_engine, demo_tree, tmp_path, trusted_proxies=1) as url:
        yield url


def _cookie_flags(resp: requests.Response, name: str) -> str:
    return next(c for c in resp.raw.headers.getlist("Set-Cookie") if c.startswith(f"{name}="))


def test_cookies_are_secure_when_the_proxy_says_https(proxied):
    https = {"X-Forwarded-Proto": "https", "Referer": proxied.replace("http://", "https://") + "/login"}
    form = requests.get(f"{proxied}/login", headers=https, timeout=10)
    assert "Secure" in _cookie_flags(form, "session") and "Secure" in _cookie_flags(form, "_csrf_token")
    # the client is on plain HTTP here, so it would not send Secure cookies back: hand them over as the browser would
    cookie = _cookie_flags(form, "session").split(";")[0]
    csrf = form.text.split('name="csrf_token" value="')[1].split('"')[0]
    r = requests.post(f"{proxied}/login", data={"name": "analyst-ma", "password": PASSWORD, "csrf_token": csrf},
                      headers={**https, "Cookie": cookie}, allow_redirects=False, timeout=10)
    assert r.status_code == 302
    assert "Secure" in _cookie_flags(r, "session") and "HttpOnly" in _cookie_flags(r, "session")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_without_a_trusted_proxy_the_header_is_not_believed(redis_client, sqlite_engine, demo_tree, tmp_path):
    with serve_with(redis_client, sqlite_engine, demo_tree, tmp_path) as url:
        r = requests.get(f"{url}/login", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert "Secure" not in _cookie_flags(r, "_csrf_token")


def test_the_login_limit_counts_each_client_behind_the_proxy(proxied):
    guesser, colleague = requests.Session(), requests.Session()
    guesser.headers["X-Forwarded-For"], colleague.headers["X-Forwarded-For"] = "10.0.0.7", "10.0.0.8"
    codes = [login(guesser, proxied, "analyst-ma", f"guess number {i}").status_code for i in range(11)]
    assert codes == [401] * 10 + [429]
    assert login(colleague, proxied, "analyst-ma").status_code == 302
