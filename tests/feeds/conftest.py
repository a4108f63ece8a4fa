"""Fixtures and helpers of the feed tests: MQTT publishing, `cityvitals feeds run` workers, the push API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from flask import Flask
from hypothesis import strategies as st
from werkzeug.serving import make_server

from cityvitals.tokens import TokenVerifier
from feeds.http_push.api import ROUTE, install_push_api
from feeds.http_push.body import PushLimits
from feeds.http_push.sinks import SourceSinks
from feeds.mqtt.feed import MqttFeed
from tests.conftest import REPO, _wait_for
from wiring.web import redis_limiter

# --- MQTT, on the real broker at 127.0.0.1:1883

def _publish(prefix: str, messages: list[tuple[str, bytes]], port: int = 1883) -> None:
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:8]}")
    pub.connect("127.0.0.1", port)  # no broker: the test fails here, loudly
    pub.loop_start()
    for topic, payload in messages:
        pub.publish(f"{prefix}/{topic}", payload, qos=1).wait_for_publish(5)
    pub.loop_stop()
    pub.disconnect()


def subscribed(caplog, feed: MqttFeed, times: int = 1) -> None:
    """Wait until the broker confirmed the feed's subscription (SUBACK), ``times`` over (once per connection).

    Before that, a message published under the prefix matches no subscription and is lost.
    """
    _wait_for(lambda: caplog.text.count(f"mqtt {feed.name}: subscribed to") >= times, "the subscription",
              timeout=30)


# --- `cityvitals feeds run` as real processes

def start_worker(tmp_path: Path, redis_url: str, config: Path, log) -> subprocess.Popen:
    """`cityvitals feeds run --config <config>` as a real process on the test's Redis and a fresh SQLite."""
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'cv.sqlite'}",
           "CITYVITALS_DATA_DIR": str(tmp_path)}
    return subprocess.Popen([sys.executable, "-m", "wiring.cli", "feeds", "run", "--config", str(config)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_worker(worker: subprocess.Popen) -> None:
    """SIGTERM the worker and expect a clean exit (after the round in progress, if any); kill it if it hangs."""
    try:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()


def forget_session(client_id: str) -> None:
    """End an MQTT feed's persistent session on the shared broker (a clean connect under its client id)."""
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    sub.connect("127.0.0.1", 1883)
    sub.disconnect()


# --- the HTTP push API

LIMITS = PushLimits(max_bytes=20_000, max_items=100, rate="5 per minute")


@contextmanager
def serve_push(client, sql, tree, limits: PushLimits):
    """A real HTTP server with the push API over the real Redis and a SQL token table; yields its URL."""
    server = Flask("push-test")
    sinks = SourceSinks(client, tree)
    limiter = redis_limiter(server, "redis://", client)
    install_push_api(server, TokenVerifier(sql, cache_seconds=0), sinks.samples, limiter, limits,
                     lambda source, _body: sinks.orders(source))
    http = make_server("127.0.0.1", 0, server, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{http.server_port}{ROUTE}"  # the events route sits next to it
    http.shutdown()


@pytest.fixture
def push_api(redis_client, sqlite_engine, demo_tree):
    """The push API with small limits; yields its URL, the token database and the grid ids."""
    with serve_push(redis_client, sqlite_engine, demo_tree, LIMITS) as url:
        yield url, sqlite_engine, sorted(demo_tree.ids("grid"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["metric", "area", "ts", "value",
                                                                                   "x"]), inner, max_size=5),
    max_leaves=12)
