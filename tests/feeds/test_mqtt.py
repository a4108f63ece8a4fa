"""The MQTT adapter against the real Mosquitto broker on 127.0.0.1:1883 and the real Redis."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import time
import uuid

import pytest
import redis

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.mqtt.feed import MqttFeed, MqttSettings, parse_message
from tests.conftest import free_port, listening, stream_samples
from tests.feeds.conftest import _publish, subscribed


def _wait(check, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_parse_message_forms_and_refusals():
    assert parse_message("city/g1/aqi", b"42.5", "city", 100.0) == {"metric": "aqi", "area": "g1", "ts": 100.0,
                                                                   "value": 42.5}
    assert parse_message("city/g1/aqi", b'{"v": 7, "ts": 90}', "city", 100.0)["ts"] == 90
    assert "is not city/<area>/<metric>" in parse_message("town/g1/aqi", b"1", "city", 0)
    assert "neither a number nor JSON" in parse_message("city/g1/aqi", b"high", "city", 0)
    assert "exceeds" in parse_message("city/g1/aqi", b"1" * 5000, "city", 0)


@pytest.fixture
def prefix(caplog) -> str:
    caplog.set_level(logging.INFO, logger="feeds.mqtt")  # for :func:`subscribed`
    return f"cvtest{uuid.uuid4().hex[:10]}"


def test_good_messages_stored_bad_ones_dead_lettered(redis_client, demo_tree, prefix, caplog):
    grids = demo_tree.ids("grid")
    feed = MqttFeed(MqttSettings(prefix=prefix, client_id=f"cv-{prefix}", flush_s=0.2),
                    Ingestor(redis_client, "mqtt", registry(), set(grids)))
    feed.start()
    try:
        subscribed(caplog, feed)
        now = time.time()
        _publish(prefix, [(f"{grids[0]}/aqi", b"55"),
                          (f"{grids[1]}/pm25", json.dumps({"value": 31, "ts": now}).encode()),
                          (f"{grids[2]}/aqi", b"not a number"), (f"{grids[3]}/no_such_metric", b"1"),
                          ("nowhere/aqi", b"3")])
        _wait(lambda: redis_client.xlen(store.DEADLETTER) >= 3 and redis_client.exists(store.SAMPLES))
    finally:
        feed.stop()
    assert sorted((s.area, s.metric, s.value) for s in stream_samples(redis_client)) == [(grids[0], "aqi", 55.0),
                                                                                 (grids[1], "pm25", 31.0)]
    reasons = [f["reason"] for _, f in redis_client.xrange(store.DEADLETTER)]
    assert any("neither a number nor JSON" in r for r in reasons)
    assert any("unknown metric 'no_such_metric'" in r for r in reasons)
    assert any("unknown area 'nowhere'" in r for r in reasons)
    health = store.read_feed_health(redis_client)["mqtt"]
    assert (health["accepted"], health["refused"]) == (2, 3)


def test_unacknowledged_messages_come_back_after_a_store_outage(redis_client, demo_tree, prefix, caplog):
    grids = demo_tree.ids("grid")
    settings = MqttSettings(prefix=prefix, client_id=f"cv-{prefix}", flush_s=0.2)
    dead = redis.Redis(port=1, socket_connect_timeout=0.2)  # nothing listens: every submit fails
    feed = MqttFeed(settings, Ingestor(dead, "mqtt", registry(), set(grids)))
    feed.start()
    subscribed(caplog, feed)
    _publish(prefix, [(f"{g}/aqi", str(40 + i).encode()) for i, g in enumerate(grids[:5])])
    _wait(lambda: feed.pending() == 5)
    feed._stop.set()
    feed._wake.set()
    feed._flusher.join(5)  # its failing writes must not log into the tests after this one
    feed.client.disconnect()  # gone without acknowledging: the broker keeps the session's messages
    feed.client.loop_stop()

    again = MqttFeed(settings, Ingestor(redis_client, "mqtt", registry(), set(grids)))
    again.start()
    try:
        _wait(lambda: len(stream_samples(redis_client)) >= 5)
    finally:
        again.stop()
    assert sorted(s.value for s in stream_samples(redis_client)) == [40.0, 41.0, 42.0, 43.0, 44.0]


def test_messages_written_but_never_acknowledged_are_not_written_again_by_the_next_session_holder(
        redis_client, demo_tree, prefix, caplog, monkeypatch):
    grids = demo_tree.ids("grid")
    settings = MqttSettings(prefix=prefix, client_id=f"cv-{prefix}", flush_s=3600)  # writes when told to
    first = MqttFeed(settings, Ingestor(redis_client, "mqtt", registry(), set(grids)))
    first.start()
    subscribed(caplog, first)
    _publish(prefix, [(f"{g}/aqi", str(40 + i).encode()) for i, g in enumerate(grids[:5])])
    _wait(lambda: first.pending() == 5)
    monkeypatch.setattr(first.client, "ack", lambda *_: None)  # it dies after its write, before acknowledging
    assert first.flush() == 5
    first._stop.set()
    first._wake.set()
    first.client.disconnect()  # the broker keeps the five in the session, unacknowledged
    first.client.loop_stop()

    second = MqttFeed(MqttSettings(prefix=prefix, client_id=f"cv-{prefix}", flush_s=0.2),
                      Ingestor(redis_client, "mqtt", registry(), set(grids)))
    second.start()  # resumes the session: the broker sends the five again, flagged dup
    try:
        subscribed(caplog, second, times=2)
        for k, value in enumerate((b"45", b"46")):  # one write each: the second drops the receipts the first acked
            _publish(prefix, [(f"{grids[5]}/aqi", value)])
            _wait(lambda k=k: len(stream_samples(redis_client)) >= 6 + k)
    finally:
        second.stop()
    assert sorted(s.value for s in stream_samples(redis_client)) == [40.0, 41.0, 42.0, 43.0, 44.0, 45.0, 46.0]
    again = re.findall(r"(\d+) messages sent again were written before", caplog.text)
    assert sum(map(int, again)) == 5  # the broker did send them again, and they were only acknowledged
    assert redis_client.hlen(store.receipts_key("mqtt")) == 1  # only the last message's receipt is left


def test_the_feed_reconnects_with_backoff_when_its_broker_comes_back(redis_client, demo_tree, prefix, tmp_path,
                                                                     caplog):
    grids = demo_tree.ids("grid")
    port = free_port()
    broker = ["mosquitto", "-p", str(port)]  # a private broker (no persistence) that can be killed
    proc = subprocess.Popen(broker, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    feed = MqttFeed(MqttSettings(port=port, prefix=prefix, client_id=f"cv-{prefix}", flush_s=0.1),
                    Ingestor(redis_client, "mqtt", registry(), set(grids)))
    failed: list[float] = []  # when each reconnection attempt failed
    feed.client.on_connect_fail = lambda *_: failed.append(time.monotonic())
    try:
        _wait(lambda: listening(port))
        feed.start()
        # the SUBACK, not just the CONNACK: a broker killed between the two leaves one "subscribed" in all
        subscribed(caplog, feed)
        proc.kill()
        proc.wait(5)
        _wait(lambda: not feed.client.is_connected())
        _wait(lambda: len(failed) >= 2)  # attempts fail, 1 s apart and then longer
        proc = subprocess.Popen(broker, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(feed.client.is_connected, timeout=20)
        subscribed(caplog, feed, times=2)  # again on the new connection (the broker forgot the session)
        _publish(prefix, [(f"{grids[0]}/aqi", b"61")], port=port)
        _wait(lambda: redis_client.exists(store.SAMPLES))
    finally:
        feed.stop()
        proc.kill()
        proc.wait(5)
    assert [(s.area, s.value) for s in stream_samples(redis_client)] == [(grids[0], 61.0)]
