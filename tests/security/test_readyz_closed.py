"""Finding 13: with anonymous viewing off, /readyz says only ready or not and /metrics needs a login or the
scrape token; open routes are exact paths; no answer carries an exception's text."""

from __future__ import annotations

import pytest
import requests

from cityvitals.db import make_engine
from tests.security.conftest import csrf_headers, login, serve_with

SCRAPE = "scrape-token-for-prometheus"


@pytest.fixture
def site(redis_client, sqlite_engine, demo_tree, tmp_path):
    from cityvitals.users import add_user
    from tests.security.conftest import PASSWORD

    add_user(sqlite_engine, "viewer-he", PASSWORD, "viewer")
    with serve_with(redis_client, sqlite_engine, demo_tree, tmp_path, anonymous_role="none",
                    metrics_token=SCRAPE) as url:
        yield url


def test_readyz_tells_a_visitor_only_whether_it_is_ready(site):
    r = requests.get(f"{site}/readyz", timeout=10)
    assert r.status_code == 503 and r.json() == {"ready": False}
    s = requests.Session()
    login(s, site, "viewer-he")
    assert "no catalog published" in s.get(f"{site}/readyz", timeout=10).json()["problems"][0]


def test_metrics_need_a_login_or_the_scrape_token(site):
    assert requests.get(f"{site}/metrics", timeout=10).status_code == 401
    assert requests.get(f"{site}/metrics", headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
    scraped = requests.get(f"{site}/metrics", headers={"Authorization": f"Bearer {SCRAPE}"}, timeout=10)
    assert scraped.status_code == 200 and "cityvitals_deadletter_entries" in scraped.text
    s = requests.Session()
    login(s, site, "viewer-he")
    assert s.get(f"{site}/metrics", timeout=10).status_code == 200


@pytest.mark.parametrize("path", ["/loginx", "/metricsfoo", "/healthz/x", "/readyzz", "/api/v1/samplesx",
                                  "/login/../admin"])
def test_open_routes_are_exact_paths(site, path):
    r = requests.get(f"{site}{path}", allow_redirects=False, timeout=10)
    assert r.status_code in (302, 404) and "_dash-config" not in r.text
    if r.status_code == 302:
        assert r.headers["Location"].startswith("/login?next=")


def test_no_answer_carries_an_exception_text(redis_client, demo_tree, tmp_path):
    broken = make_engine("postgresql+psycopg://secret_role@127.0.0.1:1/secret_db")
    with serve_with(redis_client, broken, demo_tree, tmp_path) as url:
        text = requests.get(f"{url}/readyz", timeout=10).text
        s = requests.Session()
        s.get(f"{url}/login", timeout=10)
        failed = s.post(f"{url}/_dash-update-component", headers=csrf_headers(s), timeout=10,
                        json={"output": "..warnings-acked.data...warnings-message.children..", "inputs": []})
    assert "sql: OperationalError" in text
    for leak in ("secret_role", "secret_db", "127.0.0.1", "port 1", "Traceback"):
        assert leak not in text and leak not in failed.text
