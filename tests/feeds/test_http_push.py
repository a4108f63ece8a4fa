"""The HTTP push API over real HTTP, storing into the real Redis, tokens in real SQL."""

from __future__ import annotations

import json
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityvitals import store
from cityvitals.tokens import create_token, list_tokens, revoke_token
from feeds.http_push.body import PushLimits
from tests.conftest import stream_samples
from tests.feeds.conftest import json_values, serve_push


def _sample(area: str, value: float = 12.0, metric: str = "aqi") -> dict:
    return {"metric": metric, "area": area, "ts": time.time() - 5, "value": value}


def test_good_and_bad_items_in_one_array(push_api, redis_client):
    url, sql, grids = push_api
    token = create_token(sql, "env-bureau")
    body = [_sample(grids[0], 40), {"metric": "aqi", "area": "nowhere", "ts": time.time(), "value": 1},
            _sample(grids[1], float("nan")) | {"value": "NaN"}, _sample(grids[2], 55)]
    r = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 207
    out = r.json()
    assert out["accepted"] == 2 and out["feed"] == "push:env-bureau"
    assert [x["index"] for x in out["refused"]] == [1, 2]
    assert "unknown area 'nowhere'" in out["refused"][0]["reason"]
    assert "value must be a number" in out["refused"][1]["reason"]
    stored = stream_samples(redis_client)
    assert sorted((s.area, s.value) for s in stored) == sorted([(grids[0], 40.0), (grids[2], 55.0)])
    assert redis_client.xlen(store.DEADLETTER) == 2
    health = store.read_feed_health(redis_client)["push:env-bureau"]
    assert (health["accepted"], health["refused"]) == (2, 2)


def test_points_are_assigned_to_the_grid_containing_them(push_api, redis_client, demo_tree):
    url, sql, grids = push_api
    token = create_token(sql, "gps-bureau")
    inside = [demo_tree[g].geometry.representative_point() for g in (grids[3], grids[40])]
    now = time.time() - 5
    body = [{"metric": "aqi", "lon": p.x, "lat": p.y, "ts": now, "value": 20 + k} for k, p in enumerate(inside)]
    body.insert(1, {"metric": "aqi", "lon": 0.0, "lat": 0.0, "ts": now, "value": 1})  # the Gulf of Guinea
    body.append({"metric": "aqi", "lon": "east", "lat": 32.0, "ts": now, "value": 1})
    resp = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert resp.status_code == 207
    assert [(r["index"], r["reason"]) for r in resp.json()["refused"]] == [
        (1, "point (0.0, 0.0) lies in no grid"), (3, "lon and lat must be finite numbers, got 'east', 32.0")]
    assert sorted((s.area, s.value) for s in stream_samples(redis_client)) == [(grids[3], 20.0), (grids[40], 21.0)]
    health = store.read_feed_health(redis_client)["push:gps-bureau"]
    assert (health["accepted"], health["refused"], health["outside"]) == (2, 2, 1)


def test_ndjson_with_a_broken_line_keeps_the_rest(push_api, redis_client):
    url, sql, grids = push_api
    token = create_token(sql, "sensors")
    lines = [json.dumps(_sample(grids[0], 30)), '{"metric": "aqi", "area":', "", json.dumps(_sample(grids[3], 31))]
    r = requests.post(url, data="\n".join(lines).encode(), timeout=5,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"})
    assert r.status_code == 207
    out = r.json()
    assert out["accepted"] == 2
    assert out["refused"] == [{"index": 1, "reason": out["refused"][0]["reason"]}]
    assert out["refused"][0]["reason"].startswith("line 2: not valid JSON")
    dead = redis_client.xrange(store.DEADLETTER)
    assert [f["item"] for _, f in dead] == ['{"metric": "aqi", "area":']
    assert len(stream_samples(redis_client)) == 2


def test_all_refused_is_422_and_nothing_stored(push_api, redis_client):
    url, sql, grids = push_api
    token = create_token(sql, "bad-source")
    r = requests.post(url, json=[{"metric": "no_such_metric", "area": grids[0], "ts": time.time(), "value": 1}],
                      headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 422
    assert "unknown metric 'no_such_metric'" in r.json()["refused"][0]["reason"]
    assert redis_client.exists(store.SAMPLES) == 0


def test_tokens_are_required_stored_hashed_and_revocable(push_api, redis_client):
    url, sql, grids = push_api
    r = requests.post(url, json=[_sample(grids[0])], timeout=5)
    assert r.status_code == 401 and "Bearer" in r.headers["WWW-Authenticate"]
    r = requests.post(url, json=[_sample(grids[0])], headers={"Authorization": "Bearer cv_wrong"}, timeout=5)
    assert r.status_code == 401 and "unknown or revoked" in r.json()["error"]
    token = create_token(sql, "hotline")
    with sql.connect() as conn:
        stored = conn.exec_driver_sql("SELECT token_hash FROM ingest_token").scalars().all()
    assert token not in stored and len(stored[0]) == 64
    assert requests.post(url, json=[_sample(grids[0])], headers={"Authorization": f"Bearer {token}"},
                         timeout=5).status_code == 200
    assert revoke_token(sql, list_tokens(sql)[0].id)
    r = requests.post(url, json=[_sample(grids[0])], headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert r.status_code == 401
    assert len(stream_samples(redis_client)) == 1


@pytest.mark.parametrize(("data", "ctype", "status", "words"), [
    (b"x" * 20_001, "application/json", 413, "exceeds the limit of 20000"),
    (json.dumps([{"metric": "aqi"}] * 101).encode(), "application/json", 413, "101 items exceed"),
    (b"[1, 2", "application/json", 400, "not valid JSON: line 1"),
    (b"\xff\xfe", "application/json", 400, "not UTF-8"),
    (b"1,2,3", "text/csv", 415, "'text/csv' is not one of"),
])
def test_unreadable_requests_are_refused_whole(push_api, redis_client, data, ctype, status, words):
    url, sql, _ = push_api
    token = create_token(sql, "any")
    r = requests.post(url, data=data, headers={"Authorization": f"Bearer {token}", "Content-Type": ctype},
                      timeout=5)
    assert r.status_code == status
    assert words in r.json()["error"]
    assert redis_client.exists(store.SAMPLES) == 0


def test_rate_limit_per_token(push_api, redis_client):
    url, sql, grids = push_api
    noisy, quiet = create_token(sql, "noisy"), create_token(sql, "quiet")
    replies = [requests.post(url, json=[_sample(grids[0])], headers={"Authorization": f"Bearer {noisy}"},
                             timeout=5) for _ in range(7)]
    assert [r.status_code for r in replies] == [200] * 5 + [429] * 2
    assert "rate limit exceeded: 5 per 1 minute" in replies[-1].json()["error"]
    assert requests.post(url, json=[_sample(grids[1])], headers={"Authorization": f"Bearer {quiet}"},
                         timeout=5).status_code == 200
    assert len(stream_samples(redis_client)) == 6


def test_token_commands(tmp_path, capsys, monkeypatch):
    from wiring.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cv.sqlite'}")
    monkeypatch.setenv("CITYVITALS_DATA_DIR", str(tmp_path))
    assert main(["token", "create", "Bad Name"]) == 2
    assert "must be 1-48 of a-z" in capsys.readouterr().err
    assert main(["token", "create", "water-utility"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("cv_") and len(token) > 40
    assert main(["token", "list"]) == 0
    listing = capsys.readouterr().out
    assert "water-utility" in listing and "live" in listing and token not in listing
    assert main(["token", "revoke", "1"]) == 0
    assert main(["token", "revoke", "1"]) == 1
    assert main(["token", "list"]) == 0
    assert "revoked" in capsys.readouterr().out



@pytest.fixture
def fuzz_api(redis_client, sqlite_engine, demo_tree):
    """The push API without a practical rate limit, and a token for it."""
    with serve_push(redis_client, sqlite_engine, demo_tree, PushLimits(max_bytes=2000, rate="100000/minute")) as url:
        yield url, create_token(sqlite_engine, "fuzz")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode()),
                      st.lists(json_values.map(json.dumps), max_size=5).map(lambda ls: "\n".join(ls).encode())),
       ctype=st.sampled_from(["application/json", "application/x-ndjson", "text/plain"]))
def test_any_body_gets_a_reasoned_answer_never_a_500(fuzz_api, body, ctype):
    url, token = fuzz_api
    r = requests.post(url, data=body, headers={"Authorization": f"Bearer {token}", "Content-Type": ctype},
                      timeout=5)
    assert r.status_code in (200, 207, 400, 413, 415, 422), r.text
    out = r.json()
    assert out.get("error") or all(x["reason"] for x in out["refused"])
