"""The whole web server of a dashboard process over real HTTP, with settings a security test chooses."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import replace

import pytest
import requests

from cityvitals.config import load_settings
from cityvitals.users import add_user
from indicators.loader import load_catalog
from tests.conftest import PASSWORD, _login
from wiring.runtime import Runtime
from wiring.web import build_server, http_server

__all__ = ["PASSWORD", "csrf_headers", "login", "serve_with"]


@contextmanager
def serve_with(redis_client, sql, tree, tmp_path, **settings):
    """Serve ``build_server`` (as ``cityvitals run`` does) with ``settings`` over the defaults; yield its URL."""
    base = replace(load_settings(tmp_path, env={}), **settings)
    rt = Runtime(base, "redis://test", redis_client, sql, tree, load_catalog([base.catalog_path]))
    http = http_server(build_server(rt), "127.0.0.1", 0)
    http.prepare()
    threading.Thread(target=http.serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{http.bind_addr[1]}"
    finally:
        http.stop()


def login(session: requests.Session, url: str, name: str, password: str = PASSWORD) -> requests.Response:
    """Log ``session`` in through the form, as a browser does."""
    return _login(session, url, name, password)


def csrf_headers(session: requests.Session) -> dict[str, str]:
    """The header Dash's renderer sends: the CSRF cookie's token."""
    return {"X-CSRFToken": session.cookies.get("_csrf_token", "")}


@pytest.fixture
def closed(redis_client, sqlite_engine, demo_tree, tmp_path):
    """A server where nothing is readable without a login, with an admin and a viewer; (url, sql)."""
    add_user(sqlite_engine, "admin-qian", PASSWORD, "admin")
    add_user(sqlite_engine, "viewer-sun", PASSWORD, "viewer")
    with serve_with(redis_client, sqlite_engine, demo_tree, tmp_path, anonymous_role="none") as url:
        yield url, sqlite_engine
