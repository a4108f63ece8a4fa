"""Property-based, over real HTTP: any request to the push APIs (samples and work-order events) gets a 2xx or
4xx answer with a reason within the timeout, never a 500; the good items of a batch are stored and counted."""

from __future__ import annotations

import json
import time

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cityvitals import store
from cityvitals.tokens import create_token
from feeds.http_push.api import EVENTS_ROUTE, ROUTE
from feeds.http_push.body import PushLimits
from tests.conftest import stream_samples
from tests.feeds.conftest import json_values, serve_push

MAX_BYTES = 200_000
GRID = "pukou.jiangpu.c01.g01"
ANSWERS = (200, 207, 400, 401, 413, 415, 422)

nested = st.integers(1, MAX_BYTES // 5).map(lambda n: b"[" * n) | st.integers(1, MAX_BYTES // 6).map(
    lambda n: b'{"a":' * n)  # deep enough to exhaust a recursive JSON decoder
bodies = st.one_of(st.binary(max_size=600), json_values.map(lambda v: json.dumps(v).encode()), nested,
                   st.lists(json_values.map(json.dumps), max_size=5).map(lambda ls: "\n".join(ls).encode()))
content_types = st.sampled_from(["application/json", "application/x-ndjson", "application/json; charset=utf-8",
                                 "text/plain", "", "multipart/form-data; boundary=x"]) | st.text(
    st.characters(min_codepoint=33, max_codepoint=126), max_size=20)  # what an HTTP client can send as a header


@pytest.fixture
def api(redis_client, sqlite_engine, demo_tree):
    """Both push routes with a large size limit and no practical rate limit; a live token for them."""
    limits = PushLimits(max_bytes=MAX_BYTES, max_items=500, rate="100000/minute")
    with serve_push(redis_client, sqlite_engine, demo_tree, limits) as url:
        yield url.removesuffix(ROUTE), create_token(sqlite_engine, "fuzz")


def _post(base: str, route: str, body: bytes, ctype: str, auth: str | None) -> requests.Response:
    headers = {"Content-Type": ctype} if ctype else {}
    if auth is not None:
        headers["Authorization"] = auth
    return requests.post(f"{base}{route}", data=body, headers=headers, timeout=10)


def _reasoned(r: requests.Response) -> dict:
    assert r.status_code in ANSWERS, (r.status_code, r.text[:300])
    out = r.json()
    assert out.get("error") or all(x["reason"] and isinstance(x["index"], int) for x in out["refused"])
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(route=st.sampled_from([ROUTE, EVENTS_ROUTE]), body=bodies, ctype=content_types)
@example(route=ROUTE, body=b"[" * 100_000, ctype="application/json")
@example(route=EVENTS_ROUTE, body=b'{"a":' * 30_000, ctype="application/json")
@example(route=ROUTE, body=b"[" * 100_000, ctype="application/x-ndjson")
def test_any_body_on_either_route_gets_a_reasoned_answer(api, route, body, ctype):
    base, token = api
    _reasoned(_post(base, route, body, ctype, f"Bearer {token}"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(auth=st.one_of(st.none(), st.text(max_size=40), st.text(max_size=30).map(lambda t: f"Bearer {t}")))
def test_any_authorization_header_is_refused_with_a_reason(api, auth):
    base, _ = api
    try:
        r = _post(base, ROUTE, b"[]", "application/json", auth)
    except (ValueError, requests.exceptions.InvalidHeader):
        return  # requests will not send this header at all
    assert r.status_code == 401 and r.json()["error"]


good = {"metric": "aqi", "area": GRID, "value": 63.0}
field_values = st.one_of(json_values, st.sampled_from(["aqi", "river_level", GRID, "nowhere", 1e308, -1, 0]))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.dictionaries(st.sampled_from(["metric", "area", "ts", "value", "lon", "lat", "x"]),
                                        field_values, max_size=2), min_size=1, max_size=8))
def test_a_batch_of_mutated_samples_stores_exactly_the_good_ones(api, redis_client, changes):
    base, token = api
    now = time.time()
    items = [{**good, "ts": now - 60 + k, **change} for k, change in enumerate(changes)]
    stored, dead = len(stream_samples(redis_client)), redis_client.xlen(store.DEADLETTER)
    out = _reasoned(_post(base, ROUTE, json.dumps(items).encode(), "application/json", f"Bearer {token}"))
    refused = {x["index"] for x in out["refused"]}
    assert refused <= set(range(len(items))) and len(refused) == len(out["refused"])
    assert out["accepted"] + len(refused) == len(items)
    assert len(stream_samples(redis_client)) - stored == out["accepted"]  # the good ones, each once
    assert redis_client.xlen(store.DEADLETTER) - dead == len(refused)  # the bad ones, each kept with its reason
