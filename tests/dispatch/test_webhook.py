"""Task events out by webhook to a real HTTP endpoint: signed, keyed, retried with backoff, in order."""

from __future__ import annotations

import json
import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from cityvitals.config import ConfigError, load_settings
from cityvitals.dispatch.commands import DispatchContext, SignTask
from cityvitals.dispatch.webhook import SIGNATURE_HEADER, Deliverer, outbox_listener, pending, verify
from tests.dispatch.conftest import HEAD_PERSON
from tests.dispatch.test_lifecycle import dispatch

SECRET = "shared secret of the hotline platform"


class Endpoint:
    """A real HTTP server answering with the statuses it is told, recording what it received."""

    def __init__(self) -> None:
        self.answers: list[int] = []
        self.received: list[tuple[str, bytes, str]] = []
        self.server = make_server("127.0.0.1", 0, self.app)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"

    def app(self, environ, start_response):  # noqa: ANN001, ANN201
        request = Request(environ)
        self.received.append((request.headers["Idempotency-Key"], request.get_data(),
                              request.headers[SIGNATURE_HEADER]))
        return Response(status=self.answers.pop(0) if self.answers else 200)(environ, start_response)


@pytest.fixture
def endpoint():
    e = Endpoint()
    yield e
    e.server.shutdown()


def test_events_are_signed_retried_and_delivered_once(sqlite_engine, routing, clock, endpoint):
    ctx = DispatchContext(sqlite_engine, routing, clock, [outbox_listener(sqlite_engine)])
    task = dispatch(ctx)
    SignTask(ctx, HEAD_PERSON, task.id).run()
    deliverer = Deliverer(sqlite_engine, endpoint.url, SECRET)
    endpoint.answers = [503]
    assert deliverer.deliver(clock.now) == 0  # refused: the sign waits behind the dispatch, in order
    assert [k for k, _, _ in endpoint.received] == [f"task-{task.id}-dispatched-{clock.now:.3f}"]
    assert deliverer.deliver(clock.now + 4) == 0 and len(endpoint.received) == 1  # backing off: 5 s
    assert deliverer.deliver(clock.now + 5) == 2 and pending(sqlite_engine) == 0
    keys = [k for k, _, _ in endpoint.received]
    assert keys[0] == keys[1] and keys[2].startswith(f"task-{task.id}-signed-")  # a retry keeps its key
    for _, body, signature in endpoint.received:
        assert verify(SECRET, body, signature) and not verify("another secret", body, signature)
    assert json.loads(endpoint.received[2][1])["event"]["actor"] == "wang"
    assert deliverer.deliver(clock.now + 100) == 0 and len(endpoint.received) == 3  # delivered once


def test_a_dead_endpoint_loses_nothing_and_blocks_no_step(sqlite_engine, routing, clock):
    ctx = DispatchContext(sqlite_engine, routing, clock, [outbox_listener(sqlite_engine)])
    task = dispatch(ctx)
    dead = Deliverer(sqlite_engine, "http://127.0.0.1:9/nobody", SECRET)
    for attempt in range(4):
        assert dead.deliver(clock.now + 10_000 * attempt) == 0
    assert SignTask(ctx, HEAD_PERSON, task.id).run().status == "signed"
    assert pending(sqlite_engine) == 2


def test_the_webhook_needs_its_secret(tmp_path):
    with pytest.raises(ConfigError, match="go together"):
        load_settings(tmp_path, env={"CITYVITALS_WEBHOOK_URL": "https://hotline.example/hook"})
    with pytest.raises(ConfigError, match="http"):
        load_settings(tmp_path, env={"CITYVITALS_WEBHOOK_URL": "ftp://x", "CITYVITALS_WEBHOOK_SECRET": "s"})
