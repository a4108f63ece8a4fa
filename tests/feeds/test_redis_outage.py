"""Redis killed and restarted while feeds and the engine run: nothing accepted is lost or scored twice.

A private redis-server (``server``, tests/conftest.py) is killed with SIGKILL and started
again on the same port and data directory.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest
import redis

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from indicators.loader import load_catalog
from indicators.service import EngineService
from tests.conftest import GRIDS, _wait_for, stream_samples, tiny_tree

CATALOG = Path(__file__).parents[1] / "indicators" / "fixtures" / "explain.yaml"


def _feed(ingestor: Ingestor, metric: str, stop: threading.Event, sent: list[int]) -> None:
    """Send one sample per grid every 20 ms, each round newer, until told to stop."""
    while not stop.is_set():
        ts = time.time()
        sent[0] += ingestor.submit([{"metric": metric, "area": g, "ts": ts, "value": float(len(g) + sent[0] % 7)}
                                    for g in GRIDS]).accepted
        time.sleep(0.02)


def _engine(service: EngineService, stop: threading.Event, scored: list[int], failed: list[int],
            ticks: list[int]) -> None:
    """Tick every 100 ms like the scheduler does: a failed tick is logged and the next one runs."""
    while not stop.is_set():
        try:
            scored[0] += service.tick().samples
            ticks[0] += 1
        except redis.RedisError:
            failed[0] += 1
        time.sleep(0.1)


@pytest.mark.timeout(600)  # five waits bounded at 60 s each
def test_feeds_buffer_through_a_redis_kill_and_the_engine_scores_every_accepted_sample_once(server):
    client = server.client()
    ingestors = [Ingestor(server.client(), name, registry(), set(GRIDS)) for name in ("gauges", "hotline")]
    service = EngineService(client, None, tiny_tree(), load_catalog([CATALOG]), consumer="engine-a")
    stop_feeds, stop_engine = threading.Event(), threading.Event()
    sent, scored, failed, ticks = [[0], [0]], [0], [0], [0]
    threads = [threading.Thread(target=_feed, args=(ing, m, stop_feeds, s))
               for ing, m, s in zip(ingestors, ("river_level", "hotline_orders_1h"), sent, strict=True)]
    threads.append(threading.Thread(target=_engine, args=(service, stop_engine, scored, failed, ticks)))
    for t in threads:
        t.start()
    try:
        # Each step waits for what it means, with bounds generous enough for a loaded machine.
        _wait_for(lambda: scored[0] > 0, "the engine scoring the feeds", timeout=60)
        server.kill()
        _wait_for(lambda: all(ing.buffered() for ing in ingestors) and failed[0] > 0,
                  "feeds sending into their buffers and engine ticks failing", timeout=60)
        held = [ing.buffered() for ing in ingestors]
        server.start()
        at_restart = [s[0] for s in sent]
        _wait_for(lambda: all(s[0] > n for s, n in zip(sent, at_restart, strict=True)), "feeds sending on", timeout=60)
        stop_feeds.set()
        for t in threads[:2]:
            t.join(5)
        assert all(ing.drain(60) for ing in ingestors)
        _wait_for(lambda: scored[0] >= sum(s[0] for s in sent), "engine caught up", timeout=60)
        caught_up = ticks[0]
        _wait_for(lambda: ticks[0] > caught_up, "one more tick: it would score anything twice", timeout=60)
    finally:
        stop_feeds.set()
        stop_engine.set()
        for t in threads:
            t.join(5)
    accepted = sum(s[0] for s in sent)
    assert min(held) > 0 and failed[0] > 0  # the outage really happened while both ran
    health = store.read_feed_health(client)
    assert [health[i.feed]["accepted"] for i in ingestors] == [s[0] for s in sent]
    assert [health[i.feed]["overflowed"] for i in ingestors] == [0, 0]
    assert all(health[i.feed]["store_errors"] > 0 and health[i.feed]["buffered"] == 0 for i in ingestors)
    assert scored[0] == accepted  # every accepted sample scored, none twice
    assert client.xpending(store.SAMPLES, store.ENGINE_GROUP)["pending"] == 0
    stream = stream_samples(client)
    assert len({(s.metric, s.area, s.ts) for s in stream}) == accepted  # nothing lost in the stream
    newest = {}
    for s in stream:
        if s.ts >= newest.get((s.metric, s.area), (0.0, 0.0))[0]:
            newest[(s.metric, s.area)] = (s.ts, s.value)
    eng = service.engine
    for (metric, area), (ts, value) in newest.items():
        k, c = eng.metric_pos[metric], eng.grid_pos[area]
        assert (eng.ts[k, c], eng.values[k, c]) == (ts, value)


def test_a_full_buffer_drops_the_oldest_and_says_so(server, caplog):
    grids = sorted(GRIDS)
    ingestor = Ingestor(server.client(), "small", registry(), set(grids), buffer_limit=10)
    server.kill()
    t0 = time.time()
    with caplog.at_level(logging.WARNING, logger="feeds.ingest"):
        for batch in range(5):
            result = ingestor.submit([{"metric": "aqi", "area": g, "ts": t0 + batch, "value": float(batch)}
                                      for g in grids])
            assert (result.accepted, result.held) == (4, 4)
    # A resend attempt in flight holds its batches outside the buffer until it fails: for that moment
    # the count is over the bound by them, and they are dropped (oldest first) when they come back.
    _wait_for(lambda: ingestor.buffered() == 8, "the buffer back at its bound", timeout=5)
    assert ingestor.health["overflowed"] == 12
    assert "buffer of 10 full" in caplog.text and "dropped the" in caplog.text
    server.start()
    assert ingestor.drain(10)
    client = server.client()
    assert sorted((s.value, s.area) for s in stream_samples(client)) == [(v, g) for v in (3.0, 4.0) for g in grids]
    health = store.read_feed_health(client)["small"]
    assert (health["accepted"], health["overflowed"], health["buffered"]) == (8, 12, 0)
