"""The MQTT feed through a Redis outage, against the real broker on 127.0.0.1:1883 and a private
redis-server that is killed and restarted: what fits the buffer arrives, what overflows is counted."""

from __future__ import annotations

import logging
import threading
import time
import uuid

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.mqtt.feed import MqttFeed, MqttSettings
from tests.conftest import _wait_for, stream_samples
from tests.feeds.conftest import _publish, subscribed

GRIDS = ["pukou.jiangpu.c01.g01", "pukou.jiangpu.c01.g02", "pukou.jiangpu.c01.g03"]


def _feed(server, buffer: int, caplog) -> MqttFeed:
    prefix = f"cvout{uuid.uuid4().hex[:10]}"
    feed = MqttFeed(MqttSettings(prefix=prefix, client_id=f"cv-{prefix}", flush_s=0.1, buffer=buffer),
                    Ingestor(server.client(), "mqtt", registry(), set(GRIDS)))
    caplog.set_level(logging.INFO, logger="feeds.mqtt")
    feed.start()
    subscribed(caplog, feed)
    return feed


def _messages(feed: MqttFeed, n: int) -> list[tuple[str, bytes]]:
    """``n`` messages with values 0..n-1, each a second newer than the one before."""
    t0 = time.time() - n
    return [(f"{GRIDS[k % 3]}/aqi", f'{{"value": {k}, "ts": {t0 + k}}}'.encode()) for k in range(n)]


def _watch(feed: MqttFeed, stop: threading.Event, seen: list[int]) -> None:
    """Keep the largest number of messages the feed held at once."""
    while not stop.is_set():
        seen[0] = max(seen[0], feed.pending())
        time.sleep(0.005)  # sampling, not waiting: the high-water mark is the subject


def test_the_buffer_is_bounded_and_what_overflows_is_counted_and_dropped_oldest_first(server, caplog):
    feed = _feed(server, buffer=8, caplog=caplog)
    stop, seen = threading.Event(), [0]
    watcher = threading.Thread(target=_watch, args=(feed, stop, seen))
    watcher.start()
    try:
        with caplog.at_level(logging.WARNING, logger="feeds.mqtt"):
            server.kill()
            _publish(feed.settings.prefix, _messages(feed, 30))  # the broker sends 20 unacknowledged at a time
            _wait_for(lambda: feed.ingestor.health["overflowed"] == 22, "22 messages dropped", timeout=20)
            assert feed.pending() == 8
            server.start()
            client = server.client()
            _wait_for(lambda: feed.pending() == 0 and client.exists(store.SAMPLES), "the buffer written", timeout=40)
    finally:
        stop.set()
        watcher.join(5)
        feed.stop()
    assert seen[0] <= 8  # never more held than the bound
    assert sorted(s.value for s in stream_samples(client)) == [float(k) for k in range(22, 30)]  # the newest
    health = store.read_feed_health(client)["mqtt"]
    assert (health["accepted"], health["overflowed"]) == (8, 22)
    assert health["store_errors"] > 0
    assert caplog.text.count("buffer of 8 messages full") == 1  # once per outage, not per message
    assert "22 messages were dropped while it was away" in caplog.text


def test_nothing_is_lost_while_the_buffer_holds(server, caplog):
    feed = _feed(server, buffer=1000, caplog=caplog)
    try:
        server.kill()
        _publish(feed.settings.prefix, _messages(feed, 30))
        _wait_for(lambda: feed.pending() >= 20, "messages waiting for Redis", timeout=10)
        _wait_for(lambda: feed.ingestor.health["store_errors"] >= 2, "a write failed and was retried", timeout=30)
        server.start()
        client = server.client()
        _wait_for(lambda: len(stream_samples(client)) == 30, "all 30 stored", timeout=40)
    finally:
        feed.stop()
    assert sorted(s.value for s in stream_samples(client)) == [float(k) for k in range(30)]
    health = store.read_feed_health(client)["mqtt"]
    assert (health["accepted"], health["overflowed"], health["refused"]) == (30, 0, 0)
