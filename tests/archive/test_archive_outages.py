"""The archive through a Redis restart and an archiver killed with SIGKILL: every sample once, counted."""

from __future__ import annotations

import os
import threading
import time

import pytest
import redis

from cityvitals import store
from cityvitals.archive import ArchiveJob, Archiver
from cityvitals.leader import Leadership
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from tests.archive.conftest import LEVELS, archived
from tests.conftest import GRIDS, _wait_for, engines, stop, stream_samples, wait_logged


def _feed(ingestor: Ingestor, grids: list[str], stop_: threading.Event, sent: list[int]) -> None:
    """Send two metrics for every grid every 10 ms, each round newer, until told to stop."""
    while not stop_.is_set():
        ts = time.time()
        items = [{"metric": m, "area": g, "ts": ts, "value": float(sent[0] % 97)}
                 for m in ("aqi", "pm25") for g in grids]
        sent[0] += ingestor.submit(items).accepted
        time.sleep(0.01)


def _in_flight(client: redis.Redis) -> bool:
    """Whether the archiver has read entries it has not acknowledged yet (a round is under way)."""
    return client.xpending(store.SAMPLES, store.ARCHIVE_GROUP)["pending"] > 0


@pytest.mark.timeout(300)
def test_the_archive_goes_through_a_redis_restart_without_losing_or_doubling(tmp_path, server):
    root = tmp_path / "archive"
    ingestor = Ingestor(server.client(), "gauges", registry(), set(GRIDS))
    job = ArchiveJob(Archiver(server.client(), root, LEVELS, consumer="archive-a"),
                     Leadership(server.client(), "archive", ttl_s=5))
    stop_feed, stop_job, sent, stood_by = threading.Event(), threading.Event(), [0], [False]

    def archive() -> None:
        while not stop_job.is_set():
            was_leading = job.leading
            job()
            stood_by[0] |= was_leading and not job.leading  # Redis away: no lead, no round
            time.sleep(0.05)

    threads = [threading.Thread(target=_feed, args=(ingestor, sorted(GRIDS), stop_feed, sent)),
               threading.Thread(target=archive)]
    for t in threads:
        t.start()
    try:
        _wait_for(lambda: archived(root)[0] > 100, "samples archived", timeout=60)
        server.kill()
        _wait_for(lambda: ingestor.buffered() > 0 and stood_by[0], "feed buffering, archive standing by", timeout=60)
        server.start()
        at_restart = sent[0]
        _wait_for(lambda: sent[0] > at_restart + 100, "feed sending on", timeout=60)
        stop_feed.set()
        threads[0].join(10)
        assert ingestor.drain(60)
        _wait_for(lambda: archived(root)[0] >= sent[0], "archive caught up", timeout=60)
        time.sleep(0.5)  # a few more rounds: they would write anything twice
    finally:
        stop_feed.set()
        stop_job.set()
        for t in threads:
            t.join(10)
    client = server.client()
    assert not job.outage.failing
    assert archived(root) == (sent[0], sent[0])
    assert len({(s.metric, s.area, s.ts) for s in stream_samples(client)}) == sent[0]
    assert client.xpending(store.SAMPLES, store.ARCHIVE_GROUP)["pending"] == 0


@pytest.mark.timeout(300)
def test_an_archiver_killed_mid_run_resumes_without_losing_or_doubling(tmp_path, redis_client, redis_url, demo_tree):
    root = tmp_path / "archive"
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'cv.sqlite'}",
           "CITYVITALS_DATA_DIR": str(tmp_path), "CITYVITALS_ARCHIVE_DIR": str(root)}
    grids = demo_tree.ids("grid")[:50]
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    t0 = time.time() - 3600  # a backlog of small entries: the archiver is busy from round to round when killed
    backlog = [store.Sample(m, g, t0 + k, float(k)) for k in range(200) for m in ("aqi", "pm25") for g in grids]
    store.append_samples(client, "backlog", backlog, batch=10)
    ingestor = Ingestor(client, "gauges", registry(), set(grids))
    stop_feed, sent = threading.Event(), [len(backlog)]
    feed = threading.Thread(target=_feed, args=(ingestor, grids, stop_feed, sent))
    feed.start()
    try:
        with engines(tmp_path, {"first": env}) as [(first, first_log)]:
            wait_logged(lambda: archived(root)[0] > 0 and _in_flight(client), "the first archiver writing",
                        [first_log], timeout=120, poll_s=0.01)
            first.kill()  # SIGKILL, in a round, while samples keep coming
            first.wait(10)
        written = archived(root)[0]
        with engines(tmp_path, {"second": env}) as [(second, second_log)]:
            wait_logged(lambda: archived(root)[0] > written + 1000, "the restarted archiver writing", [second_log],
                        timeout=120)
            stop_feed.set()
            feed.join(10)
            assert ingestor.drain(30)
            wait_logged(lambda: archived(root)[0] >= sent[0], "the archive caught up", [second_log], timeout=120)
            time.sleep(3)  # another round or so: it would write anything twice
            stop(second)
    finally:
        stop_feed.set()
        feed.join(10)
    assert archived(root) == (sent[0], sent[0])
    assert client.xpending(store.SAMPLES, store.ARCHIVE_GROUP)["pending"] == 0
