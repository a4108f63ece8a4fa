"""The task API over real HTTP on the whole web server: the same commands, session logins, roles, photos."""

from __future__ import annotations

import io
import json
import os
import time

import pytest
import redis
import requests
from PIL import Image

from cityvitals import store
from cityvitals.db import create_schema, make_engine
from cityvitals.dispatch.tasks import bind_units, read_events, read_task
from cityvitals.dispatch.webhook import SIGNATURE_HEADER, pending, sign
from cityvitals.tokens import create_token
from cityvitals.users import add_user, read_audit
from tests.conftest import PASSWORD
from tests.dispatch.conftest import COMMITTEE, GRID, HEAD, SUBCENTRE, png
from tests.security.conftest import csrf_headers, login, serve_with

API = "/api/v1/tasks"
SECRET = "the hotline platform's secret"


@pytest.fixture(scope="module")
def server(redis_url, demo_tree, tmp_path_factory):
    """One server for the module with an analyst, a viewer and three responders; (url, sql)."""
    tmp = tmp_path_factory.mktemp("api")
    sql = make_engine(f"sqlite:///{tmp / 'api.sqlite'}")
    create_schema(sql)
    for name, role in (("lin", "analyst"), ("sun", "viewer"), ("wang", "responder"), ("zhao", "responder"),
                       ("chen", "responder")):
        add_user(sql, name, PASSWORD, role)
    for uid, unit in ((3, HEAD), (4, SUBCENTRE), (5, COMMITTEE)):
        bind_units(sql, uid, [unit])
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    with serve_with(client, sql, demo_tree, tmp, webhook_url="http://127.0.0.1:9/hotline",
                    webhook_secret=SECRET) as url:
        yield url, sql
    client.flushdb()


def session_of(url: str, name: str) -> requests.Session:
    s = requests.Session()
    assert login(s, url, name).status_code == 302
    s.get(f"{url}/login", timeout=10)  # a page response sets the CSRF cookie
    return s


def post(s: requests.Session, url: str, path: str, body=None, **kw) -> requests.Response:
    return s.post(f"{url}{path}", json=body, headers=csrf_headers(s), timeout=10, **kw)


def test_dispatch_sign_handle_with_photo_verify_close(server):
    url, sql = server
    lin, wang = session_of(url, "lin"), session_of(url, "wang")
    made = post(lin, url, API, {"area": GRID, "instruction": "核查 check", "indicator": "elevator_entrapments",
                                "value": 3, "threshold": 2, "priority": "high"})
    assert made.status_code == 201, made.text
    task = made.json()
    assert (task["unit"], task["status"], [e["step"] for e in task["events"]]) == (HEAD, "dispatched", ["dispatched"])
    listed = wang.get(f"{url}{API}?open=1", timeout=10).json()["tasks"]
    assert [t["id"] for t in listed] == [task["id"]]
    assert post(wang, url, f"{API}/{task['id']}/sign").json()["status"] == "signed"
    photo = wang.post(f"{url}{API}/{task['id']}/photo", data=png(), timeout=10,
                      headers={**csrf_headers(wang), "Content-Type": "image/png"})
    assert photo.status_code == 201, photo.text
    name = photo.json()["photo"]
    handled = post(wang, url, f"{API}/{task['id']}/handle", {"note": "修好了 fixed", "photo": name})
    assert handled.json()["status"] == "handled", handled.text
    shown = lin.get(f"{url}{API}/{task['id']}/photo/{name}", timeout=10)
    assert shown.status_code == 200 and shown.content == png()
    assert post(lin, url, f"{API}/{task['id']}/verify").json()["status"] == "verified"
    assert post(lin, url, f"{API}/{task['id']}/close").json()["status"] == "closed"
    assert [e.actor for e in read_events(sql, [task["id"]])[task["id"]]] == ["lin", "wang", "wang", "lin", "lin"]
    assert {"task_dispatched", "task_signed", "task_handled", "task_verified", "task_closed"} <= {
        a["action"] for a in read_audit(sql)}


def test_refusals_carry_every_reason(server):
    url, _ = server
    lin, sun, zhao = session_of(url, "lin"), session_of(url, "sun"), session_of(url, "zhao")
    bad = post(lin, url, API, {"area": "nowhere", "instruction": "", "due": 1.0})
    assert bad.status_code == 422
    assert bad.json()["reasons"][0] == "unknown area 'nowhere'" and len(bad.json()["reasons"]) == 3
    assert post(lin, url, API, {"area": GRID, "instruction": "x", "colour": "red"}).status_code == 422
    assert post(sun, url, API, {"area": GRID, "instruction": "x"}).status_code == 403  # a viewer may not dispatch
    task = post(lin, url, API, {"area": GRID, "instruction": "x"}).json()
    assert zhao.get(f"{url}{API}/{task['id']}", timeout=10).status_code == 404  # not the street's task
    assert post(zhao, url, f"{API}/{task['id']}/sign").status_code == 403
    early = post(lin, url, f"{API}/{task['id']}/close")
    assert early.status_code == 409 and "closed needs it verified" in early.json()["error"]
    assert post(lin, url, f"{API}/{task['id']}/launch").status_code == 404
    no_csrf = lin.post(f"{url}{API}/{task['id']}/verify", json={}, timeout=10)
    assert no_csrf.status_code == 400 and "CSRF" in no_csrf.json()["error"]
    anonymous = requests.post(f"{url}{API}", json={"area": GRID, "instruction": "x"}, timeout=10)
    assert anonymous.status_code == 400  # no CSRF token, no session: refused before any command


def test_photos_that_are_not_images_or_too_large_are_refused(server):
    url, _ = server
    lin, wang = session_of(url, "lin"), session_of(url, "wang")
    task = post(lin, url, API, {"area": GRID, "instruction": "x"}).json()
    post(wang, url, f"{API}/{task['id']}/sign")

    def upload(data: bytes, kind: str = "image/jpeg") -> requests.Response:
        return wang.post(f"{url}{API}/{task['id']}/photo", data=data, timeout=30,
                         headers={**csrf_headers(wang), "Content-Type": kind})

    fake = upload(b"\xff\xd8\xff\xe0 not really a jpeg" * 10)
    assert fake.status_code == 422 and "not an image" in fake.json()["error"]
    assert upload(b"").status_code == 422
    big = upload(b"\0" * 9_000_000)
    assert big.status_code == 413
    noise = io.BytesIO()
    Image.frombytes("RGB", (1000, 700), os.urandom(2_100_000)).save(noise, "PNG")
    assert len(noise.getvalue()) > 2_000_000  # over the server's 1 MB for other requests, under the photo's 8 MB
    assert upload(noise.getvalue(), "image/png").status_code == 201
    forged = post(wang, url, f"{API}/{task['id']}/handle", {"note": "ok", "photo": "../../secret_key"})
    assert forged.status_code == 422 and "is not a photo uploaded for task" in forged.json()["reasons"][0]
    assert post(wang, url, f"{API}/{task['id']}/handle", {"note": "ok"}).json()["status"] == "handled"


def test_another_system_answers_on_the_events_api(server, redis_client):
    url, sql = server
    lin, token = session_of(url, "lin"), create_token(sql, "12345")
    task = post(lin, url, API, {"area": GRID, "instruction": "sent to the hotline platform"}).json()

    def events(items: list[dict], secret: str | None = SECRET, bearer: str = token) -> requests.Response:
        raw = "\n".join(json.dumps(i) for i in items).encode()
        headers = {"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {bearer}"}
        if secret is not None:
            headers[SIGNATURE_HEADER] = sign(secret, raw)
        return requests.post(f"{url}/api/v1/events", data=raw, timeout=10, headers=headers)

    def answer(step: str, key: str, **more) -> dict:
        return {"task": task["id"], "step": step, "key": key, "by": "12345-agent-7", **more}

    order = {"order": "HL-1", "source": "12345", "area": GRID, "step": "received", "ts": time.time() - 60}
    assert events([answer("signed", "k-sign")], bearer="a guessed token").status_code == 401
    forged = events([order, answer("signed", "k-sign")], secret="guessed")
    assert forged.status_code == 207  # the order beside it is taken; the answer is refused, with its index
    assert forged.json()["refused"] == [{"index": 1, "reason": f"task answer: bad or missing {SIGNATURE_HEADER} "
                                                               "(HMAC-SHA256 of the body with the webhook's secret)"}]
    assert events([answer("signed", "k-sign")], secret=None).status_code == 422
    assert redis_client.hget(store.WORKORDERS, "HL-1") is not None
    too_soon = events([answer("closed", "k-close")]).json()["refused"][0]["reason"]
    assert too_soon == f"task answer: task {task['id']} is dispatched; closed needs it verified"
    assert events([answer("signed", "k-sign"), answer("signed", "k-sign")]).json()["accepted"] == 2
    assert read_task(sql, task["id"]).status == "signed"  # the same answer twice made one step
    assert events([answer("signed", "k-sign-2")]).status_code == 422  # a new answer out of order is refused
    assert events([answer("handled", "k-sign", note="fixed")]).status_code == 200  # its key made a step already
    assert read_task(sql, task["id"]).status == "signed"
    other = events([answer("handled", "k-handle")])
    assert other.status_code == 422 and "note must be text" in other.json()["refused"][0]["reason"]
    assert events([answer("handled", "k-handle", note="fixed")]).status_code == 200
    assert post(lin, url, f"{API}/{task['id']}/verify").json()["status"] == "verified"
    assert events([answer("closed", "k-close")]).status_code == 200
    steps = [(e.step, e.actor, e.answer_key) for e in read_events(sql, [task["id"]])[task["id"]]]
    assert steps == [("dispatched", "lin", None), ("signed", "webhook:12345-agent-7", "k-sign"),
                     ("handled", "webhook:12345-agent-7", "k-handle"), ("verified", "lin", None),
                     ("closed", "webhook:12345-agent-7", "k-close")]
    reasons = [e["reason"] for _, e in redis_client.xrange(store.DEADLETTER)]
    assert sum(r.startswith("task answer: ") for r in reasons) == 5  # every refused answer is dead-lettered
    assert pending(sql) >= 5  # and every step waits in the outbox for the (dead) endpoint, none lost
    assert requests.post(f"{url}{API}/answers", json={}, timeout=10).status_code == 405  # one door only: gone
