"""Finding 5 (and 15's absurd times): a bad byte costs its own item, never the batch, on both push APIs."""

from __future__ import annotations

import json
import time

import pytest
import requests

from cityvitals import store
from cityvitals.tokens import create_token
from feeds.http_push.api import EVENTS_ROUTE, ROUTE
from tests.conftest import stream_samples
from tests.feeds.conftest import LIMITS, serve_push

GRID = "pukou.jiangpu.c01.g01"
HUGE = "9" * 5000  # more digits than Python converts to an int (the test server takes 20 kB bodies)


@pytest.fixture
def api(redis_client, sqlite_engine, demo_tree):
    with serve_push(redis_client, sqlite_engine, demo_tree, LIMITS) as url:
        yield url.removesuffix(ROUTE), {"Authorization": f"Bearer {create_token(sqlite_engine, 'iot')}",
                                        "Content-Type": "application/json"}


def _sample(**change) -> dict:
    return {"metric": "aqi", "area": GRID, "ts": time.time() - 10, "value": 50.0, **change}


def _post(base: str, route: str, headers: dict, body: str) -> requests.Response:
    r = requests.post(f"{base}{route}", data=body.encode(), headers=headers, timeout=30)
    assert r.status_code in (200, 207, 422), (r.status_code, r.text[:300])
    return r


@pytest.mark.parametrize("bad", [
    json.dumps(_sample(metric="\ud800")),           # a lone surrogate (JSON escapes carry it)
    json.dumps(_sample(area="pukou\ud800")),
    json.dumps(_sample(value="no", x="\udfff")),    # in any field of a refused item
    json.dumps(_sample(metric="aqi\u0000")),        # NUL
    json.dumps(_sample(area="g" * 10_000)),         # a name no column takes
    json.dumps(_sample(value="HUGE")).replace('"HUGE"', HUGE),
    json.dumps(_sample(ts="HUGE")).replace('"HUGE"', "-" + HUGE),
    json.dumps(_sample(value=["list"])),
    json.dumps(_sample(ts=-1e12)),                  # before 2000
    json.dumps(_sample(ts=1.0)),
])
def test_a_bad_sample_is_refused_and_the_good_ones_around_it_are_stored(api, redis_client, bad):
    base, headers = api
    good = [json.dumps(_sample(ts=time.time() - 20 + k)) for k in range(2)]
    r = _post(base, ROUTE, headers, f"[{good[0]}, {bad}, {good[1]}]")
    out = r.json()
    assert r.status_code == 207 and out["accepted"] == 2
    assert [x["index"] for x in out["refused"]] == [1] and out["refused"][0]["reason"]
    assert len(out["refused"][0]["reason"]) < 300  # a reason quotes the input, clipped
    assert len(stream_samples(redis_client)) == 2 and redis_client.xlen(store.DEADLETTER) == 1


def test_the_same_in_ndjson(api, redis_client):
    base, headers = api
    lines = [json.dumps(_sample()), json.dumps(_sample(metric="\ud800")),
             json.dumps(_sample(value="HUGE")).replace('"HUGE"', HUGE), json.dumps(_sample(ts=time.time() - 5))]
    r = _post(base, ROUTE, {**headers, "Content-Type": "application/x-ndjson"}, "\n".join(lines))
    assert r.status_code == 207 and r.json()["accepted"] == 2 and len(stream_samples(redis_client)) == 2


def _event(order: str, **change) -> dict:
    return {"order": order, "source": "12345", "area": GRID, "step": "received", "ts": time.time() - 60, **change}


@pytest.mark.parametrize("bad", [
    _event("HL-\ud800"), _event("HL-\x00"), _event("HL-" + "9" * 100), _event("HL-x", source=["12345"]),
    _event("HL-y", step={"a": 1}), _event("HL-z", ts="0001-01-01T00:00:00+00:00"), _event("HL-w", ts=-1e12),
    _event("HL-v", ts=10 ** 400), _event("HL-u", resolved=["grid"]),
])
def test_a_bad_event_is_refused_and_the_good_ones_around_it_are_kept(api, redis_client, bad):
    base, headers = api
    body = json.dumps([_event("HL-1"), bad, _event("HL-2")])
    out = _post(base, EVENTS_ROUTE, headers, body).json()
    assert out["accepted"] == 2 and [x["index"] for x in out["refused"]] == [1]
    assert set(store.all_orders(redis_client)) == {"HL-1", "HL-2"}


def test_an_event_with_a_huge_integer_time(api, redis_client):
    base, headers = api
    body = "[" + json.dumps(_event("HL-1")) + ", " + json.dumps(_event("HL-2", ts="HUGE")).replace('"HUGE"', HUGE) + "]"
    out = _post(base, EVENTS_ROUTE, headers, body).json()
    assert out["accepted"] == 1 and "ts must be a number" in out["refused"][0]["reason"]
