"""Finding 7: guessing ingest tokens is rate-limited per client address; a good token elsewhere still works."""

from __future__ import annotations

import secrets
import time

import requests

from cityvitals.tokens import create_token
from feeds.http_push.body import PushLimits
from tests.security.conftest import serve_with

GRID = "pukou.jiangpu.c01.g01"


def _push(url: str, token: str, address: str = "10.1.1.1") -> int:
    return requests.post(f"{url}/api/v1/samples", timeout=10, json=[{"metric": "aqi", "area": GRID,
                                                                     "ts": time.time() - 5, "value": 40}],
                         headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": address}).status_code


def test_unknown_tokens_are_limited_per_address(redis_client, sqlite_engine, demo_tree, tmp_path):
    good = create_token(sqlite_engine, "env-bureau")
    allowed = int(PushLimits().unknown_token_rate.split()[0])
    with serve_with(redis_client, sqlite_engine, demo_tree, tmp_path, trusted_proxies=1) as url:
        codes = [_push(url, "cv_" + secrets.token_urlsafe(32)) for _ in range(allowed + 5)]
        assert codes == [401] * allowed + [429] * 5
        assert _push(url, good, address="10.2.2.2") == 200  # another client (behind the same proxy) goes on
