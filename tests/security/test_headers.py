"""Findings 3 and 12: framing rules per page, a CSP that allows Dash's own inline script, no banner."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
import requests

from tests.security.conftest import serve_with


@pytest.fixture
def wall(redis_client, sqlite_engine, demo_tree, tmp_path):
    with serve_with(redis_client, sqlite_engine, demo_tree, tmp_path) as url:
        yield url


def _csp(resp: requests.Response) -> dict[str, str]:
    return {d.split()[0]: d for d in (p.strip() for p in resp.headers["Content-Security-Policy"].split(";"))}


@pytest.mark.parametrize("path", ["/admin", "/login"])
def test_admin_and_login_may_be_framed_by_nobody(wall, path):
    r = requests.get(f"{wall}{path}", timeout=10)
    assert _csp(r)["frame-ancestors"] == "frame-ancestors 'none'" and r.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("path", ["/", "/area/pukou", "/panel/public_safety?kiosk=1"])
def test_the_wall_may_be_framed_by_this_origin_only(wall, path):
    r = requests.get(f"{wall}{path}", timeout=10)
    assert _csp(r)["frame-ancestors"] == "frame-ancestors 'self'" and r.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_the_wall_may_be_framed_by_a_configured_list(redis_client, sqlite_engine, demo_tree, tmp_path):
    with serve_with(redis_client, sqlite_engine, demo_tree, tmp_path,
                    frame_ancestors="'self' https://portal.city.example") as url:
        wall, admin = requests.get(f"{url}/", timeout=10), requests.get(f"{url}/admin", timeout=10)
    assert _csp(wall)["frame-ancestors"] == "frame-ancestors 'self' https://portal.city.example"
    assert "X-Frame-Options" not in wall.headers  # it cannot name another origin
    assert _csp(admin)["frame-ancestors"] == "frame-ancestors 'none'"


def test_every_inline_script_of_the_page_is_allowed_by_hash_and_no_other_is(wall):
    r = requests.get(f"{wall}/", timeout=10)
    script_src = _csp(r)["script-src"]
    assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
    page = re.sub(r"<!--.*?-->", "", r.text, flags=re.S)  # Dash's note for Internet Explorer is a comment
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>(.*?)</script>", page, re.S)
    assert len(inline) >= 2, "Dash's page has its renderer and the pages' title function inline"
    for body in inline:
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src


def test_no_sniffing_no_referrer_off_site_no_version_banner(wall):
    for path in ("/", "/login", "/healthz", "/_dash-layout"):
        r = requests.get(f"{wall}{path}", timeout=10)
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert r.headers["Server"] == "cityvitals", r.headers["Server"]
