"""Finding 5, property-based over real HTTP: batches on both push APIs with arbitrary unicode (lone surrogates
and NUL included) and numbers (past what Python converts) anywhere never get a 500, and every good item in
them is stored."""

from __future__ import annotations

import itertools
import json
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityvitals import store
from cityvitals.tokens import create_token
from feeds.http_push.api import EVENTS_ROUTE, ROUTE
from feeds.http_push.body import PushLimits
from tests.conftest import stream_samples
from tests.feeds.conftest import serve_push

GRID = "pukou.jiangpu.c01.g01"
ANSWERS = (200, 207, 422)
serial = itertools.count()


class Raw(str):
    """JSON text put in the body as it is (an integer Python would not print)."""


def encode(value: object) -> str:
    """JSON for ``value``, with Raw kept as it is and strings ASCII-escaped (so lone surrogates survive)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(encode(v) for v in value) + "]"
    return json.dumps(value)


any_text = st.text(st.characters(exclude_categories=()), max_size=30)  # every code point, surrogates too
numbers = st.integers() | st.floats() | st.integers(4301, 6000).map(lambda n: Raw("-" * (n % 2) + "9" * n))
scalars = st.none() | st.booleans() | numbers | any_text
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
                      max_leaves=6)
sample_fields = ["metric", "area", "ts", "value", "lon", "lat", "x"]
event_fields = ["order", "source", "area", "step", "ts", "satisfied", "resolved", "x"]


@pytest.fixture
def api(redis_client, sqlite_engine, demo_tree):
    limits = PushLimits(max_bytes=400_000, max_items=500, rate="100000/minute")
    with serve_push(redis_client, sqlite_engine, demo_tree, limits) as url:
        yield url.removesuffix(ROUTE), create_token(sqlite_engine, "fuzz")


def _post(base: str, route: str, token: str, items: list) -> dict:
    r = requests.post(f"{base}{route}", data=encode(items).encode("ascii"), timeout=30,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert r.status_code in ANSWERS, (r.status_code, r.text[:300])
    out = r.json()
    assert out["accepted"] + len(out["refused"]) == len(items)
    assert all(x["reason"] for x in out["refused"])
    return out


def _good_sample() -> dict:
    return {"metric": "aqi", "area": GRID, "ts": time.time() - 3000 + next(serial) / 1000, "value": 60.0}


def _good_event() -> dict:
    return {"order": f"G-{next(serial)}", "source": "12345", "area": GRID, "step": "received", "ts": time.time() - 60}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.lists(st.dictionaries(st.sampled_from(sample_fields), values, max_size=3), min_size=1, max_size=6),
       good_first=st.booleans())
def test_samples_with_any_unicode_and_numbers(api, redis_client, bad, good_first):
    base, token = api
    good = [_good_sample() for _ in range(3)]
    items = [{**_good_sample(), **change} for change in bad]
    items = good + items if good_first else items + good
    _post(base, ROUTE, token, items)
    stored = {s.ts for s in stream_samples(redis_client)}
    assert all(g["ts"] in stored for g in good)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.lists(st.dictionaries(st.sampled_from(event_fields), values, max_size=3), min_size=1, max_size=6))
def test_events_with_any_unicode_and_numbers(api, redis_client, bad):
    base, token = api
    good = [_good_event() for _ in range(3)]
    items = [{**_good_event(), **change} for change in bad]
    _post(base, EVENTS_ROUTE, token, items[:1] + good + items[1:])
    assert {g["order"] for g in good} <= set(store.all_orders(redis_client))
