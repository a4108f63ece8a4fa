"""Finding 6 (and 14's malformed bodies): a callback body is size-limited before it is read, and a body that
is not a callback request is refused with a reason, not a 500."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import pytest
import requests

from cityvitals.guards import MAX_BODY
from tests.security.conftest import csrf_headers, serve_with


@pytest.fixture
def wall(redis_client, sqlite_engine, demo_tree, tmp_path):
    with serve_with(redis_client, sqlite_engine, demo_tree, tmp_path) as url:
        s = requests.Session()
        s.get(f"{url}/", timeout=10)  # the CSRF cookie, as a browser gets it
        yield url, s


def _raw_request(url: str, head: str) -> str:
    """Send a request head (no body) on a socket and return the status line of the answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode())
        return sock.recv(200).decode().split("\r\n")[0]


def test_a_60_mb_callback_is_refused_before_it_is_read(wall):
    url, s = wall
    head = (f"POST /_dash-update-component HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"X-CSRFToken: {s.cookies['_csrf_token']}\r\nCookie: session={s.cookies.get('session', '')}\r\n"
            f"Content-Length: 60000000\r\n\r\n")
    started = time.monotonic()
    assert " 413 " in _raw_request(url, head)
    assert time.monotonic() - started < 5


def test_a_callback_over_the_limit_sent_in_chunks_is_refused(wall):
    url, s = wall
    chunks = (b'{"output": "' + b"x" * 100_000 for _ in range(MAX_BODY // 100_000 + 2))
    r = s.post(f"{url}/_dash-update-component", data=chunks, timeout=30,
               headers={**csrf_headers(s), "Content-Type": "application/json"})
    # a server that ends chunked bodies itself (gunicorn) reads up to the limit: 413; one that does not
    # (Werkzeug's) hands over an empty body: refused as no callback request. Either way it is never read whole.
    assert (r.status_code, r.json()["error"][:9]) in ((413, "request b"), (400, "malformed")), r.text


@pytest.mark.parametrize("body", [
    [], "text", {"output": "nothing.children"}, {"output": "nothing.children", "inputs": "x"},
    {"output": "..warnings-acked.data...warnings-message.children..", "inputs": [{"id": 1}]},
    {"output": "..warnings-acked.data...warnings-message.children..", "inputs": [], "changedPropIds": [3]},
])
def test_a_body_that_is_no_callback_request_gets_a_reason(wall, body):
    url, s = wall
    r = s.post(f"{url}/_dash-update-component", json=body, headers=csrf_headers(s), timeout=10)
    assert r.status_code == 400 and r.json()["error"].startswith("malformed callback request")
