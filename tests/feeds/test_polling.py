"""The polled JSON API feed against a real HTTP server on loopback, storing into the real Redis."""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.polling.air_quality import AirQualityFeed
from feeds.polling.base import HttpSettings
from tests.conftest import stream_samples

NOW = 1_767_000_000.0
INTERVAL = 60.0


class Script:
    """What the server answers, one (status, body, delay) per request, the last repeated; and when it was asked."""

    def __init__(self, *answers: tuple[int, object, float]) -> None:
        self.answers, self.asked = list(answers), []

    def next(self) -> tuple[int, object, float]:
        self.asked.append(time.monotonic())
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@contextmanager
def api_server(script: Script):
    """A real HTTP server on a free loopback port answering from ``script``; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            status, body, delay = script.next()
            time.sleep(delay)
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/stations"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def station(grid: str, pm02=31, aqi=44, **extra) -> dict:
    return {"grid": grid, "time": NOW - 30, "pm02": pm02, "pm10": 58, "aqi": aqi, "o3": 80, "no2": 20, **extra}


def _feed(client, tree, url: str, **http) -> AirQualityFeed:
    ingestor = Ingestor(client, "env-bureau", registry(), frozenset(tree.ids("grid")), clock=lambda: NOW)
    return AirQualityFeed("env-bureau", HttpSettings(url, **{"timeout_s": 2.0, "retries": 0, **http}), ingestor,
                          interval_s=INTERVAL)


@pytest.fixture
def grids(demo_tree):
    return sorted(demo_tree.ids("grid"))


def test_good_payload_is_stored(redis_client, demo_tree, grids):
    script = Script((200, {"stations": [station(grids[0]), station(grids[1], pm02=75.5)]}, 0))
    with api_server(script) as url:
        result = _feed(redis_client, demo_tree, url).run_once(NOW)
    assert result.accepted == 10 and result.refused == []
    got = {(s.metric, s.area): (s.value, s.ts) for s in stream_samples(redis_client)}
    assert got[("pm25", grids[1])] == (75.5, NOW - 30) and got[("aqi", grids[0])] == (44, NOW - 30)
    health = store.read_feed_health(redis_client)["env-bureau"]
    assert (health["accepted"], health["stale"], health["failing"]) == (10, False, False)


def test_server_errors_are_retried_with_backoff_then_recovered(redis_client, demo_tree, grids, caplog):
    script = Script((503, "busy", 0), (502, "gateway", 0), (200, {"stations": [station(grids[0])]}, 0))
    with api_server(script) as url:
        result = _feed(redis_client, demo_tree, url, retries=3, backoff_s=0.2).run_once(NOW)
    assert result is not None and result.accepted == 5
    assert len(script.asked) == 3
    assert script.asked[2] - script.asked[1] >= 0.35  # urllib3's backoff: 0.2 * 2 before the second retry
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_failing_feed_logs_once_and_once_more_when_it_recovers(redis_client, demo_tree, grids, caplog):
    script = Script((500, "down", 0), (500, "down", 0), (500, "down", 0), (500, "down", 0),
                    (200, {"stations": [station(grids[0])]}, 0))
    caplog.set_level(logging.INFO, logger="feeds.coordinator")
    with api_server(script) as url:
        feed = _feed(redis_client, demo_tree, url, retries=1, backoff_s=0)
        assert feed.run_once(NOW) is None and feed.run_once(NOW + INTERVAL) is None
        assert store.read_feed_health(redis_client)["env-bureau"]["failing"] is True
        assert feed.run_once(NOW + 2 * INTERVAL).accepted == 5
    messages = [r.getMessage() for r in caplog.records if r.name == "feeds.coordinator"]
    assert len(messages) == 2 and "failing" in messages[0] and "500" in messages[0]
    assert messages[1] == "feed env-bureau recovered"


def test_a_server_that_does_not_answer_in_time_fails_the_round(redis_client, demo_tree, grids, caplog):
    script = Script((200, {"stations": [station(grids[0])]}, 1.5))
    with api_server(script) as url:
        started = time.monotonic()
        feed = _feed(redis_client, demo_tree, url, timeout_s=0.3)
        assert feed.run_once(NOW) is None
        assert time.monotonic() - started < 1.4
    assert feed.failing and "no answer within 0.3 s" in caplog.text
    assert stream_samples(redis_client) == []


def test_bad_payload_fields_are_refused_and_counted(redis_client, demo_tree, grids):
    no_aqi = station(grids[1])
    del no_aqi["aqi"]
    stations = [station(grids[0], pm02="n/a"), no_aqi, station("nowhere"), "not a station", station(grids[2])]
    with api_server(Script((200, {"stations": stations}, 0))) as url:
        result = _feed(redis_client, demo_tree, url).run_once(NOW)
    reasons = [r.reason for r in result.refused]
    assert result.accepted == 4 + 4 + 5 and len(reasons) == 1 + 1 + 5 + 1
    assert "value must be a number, got 'n/a'" in reasons[0]
    assert "unreadable: KeyError 'aqi'" in reasons[1]
    assert reasons.count("unknown area 'nowhere'") == 5
    assert "expected an object" in reasons[-1]
    assert store.read_feed_health(redis_client)["env-bureau"]["refused"] == 8
    assert redis_client.xlen(store.DEADLETTER) == 8


def test_a_silent_feed_becomes_stale(redis_client, demo_tree, grids):
    script = Script((200, {"stations": [station(grids[0])]}, 0), (500, "down", 0))
    with api_server(script) as url:
        feed = _feed(redis_client, demo_tree, url)
        feed.run_once(NOW)
        assert store.read_feed_health(redis_client)["env-bureau"]["stale"] is False
        feed.run_once(NOW + 2 * INTERVAL)  # failing, but within three intervals of the last success
        assert store.read_feed_health(redis_client)["env-bureau"]["stale"] is False
        feed.run_once(NOW + 3 * INTERVAL + 1)
    health = store.read_feed_health(redis_client)["env-bureau"]
    assert (health["stale"], health["failing"], health["last_ok"]) == (True, True, NOW)
