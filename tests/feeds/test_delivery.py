"""Delivery policy end to end (Ingestor -> real Redis -> EngineService): repeats count once, late never wins."""

from __future__ import annotations

import time
from pathlib import Path

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from indicators.loader import load_catalog
from indicators.service import EngineService
from tests.conftest import GRIDS, tiny_tree

CATALOG = Path(__file__).parents[1] / "indicators" / "fixtures" / "explain.yaml"
G = "d.s.c1.g2"


def test_a_repeat_counts_once_and_a_late_sample_is_counted_but_never_overwrites(redis_client):
    ingestor = Ingestor(redis_client, "gauges", registry(), set(GRIDS))
    service = EngineService(redis_client, None, tiny_tree(), load_catalog([CATALOG]), consumer="e")
    t = time.time() - 30
    sample = {"metric": "river_level", "area": G, "ts": t, "value": 5.0}
    ingestor.submit([sample])
    first = service.tick(t + 5)
    record = store.read_state_of(redis_client, "level", [G])[G]
    assert (first.samples, first.duplicates, first.late, record["v"]) == (1, 0, 0, 5.0)

    ingestor.submit([sample, dict(sample, value=6.0)])  # delivered again, and a repeat of its time
    again = service.tick(t + 10)
    assert (again.samples, again.duplicates, again.late) == (2, 2, 0)
    assert store.read_state_of(redis_client, "level", [G])[G] == record  # nothing moved
    grids = service.engine.grid_ids
    latest = store.read_latest(redis_client, ["river_level"], grids)["river_level"][grids.index(G)]
    assert (latest["v"], latest["ts"]) == (5.0, t)

    ingestor.submit([dict(sample, ts=t - 60, value=9.0), dict(sample, ts=t + 1, value=7.0),
                     dict(sample, ts=t - 1, value=8.0)])  # out of order: two late ones around a newer one
    late = service.tick(t + 15)
    assert (late.samples, late.duplicates, late.late) == (3, 0, 2)
    assert store.read_state_of(redis_client, "level", [G])[G]["v"] == 7.0


def test_a_resent_batch_is_scored_once(redis_client):
    service = EngineService(redis_client, None, tiny_tree(), load_catalog([CATALOG]), consumer="e")
    t = time.time() - 30
    batch = [store.Sample("hotline_orders_1h", g, t, 3.0) for g in GRIDS]
    for _ in range(2):  # a write whose reply was lost, sent again under the same batch id
        pipe = redis_client.pipeline(transaction=False)
        store.queue_samples(pipe, "hotline", batch, bid="hotline-1-7")
        pipe.execute()
    report = service.tick(t + 5)
    assert (report.entries, report.resent, report.samples) == (2, 1, len(GRIDS))
    pipe = redis_client.pipeline(transaction=False)
    store.queue_samples(pipe, "hotline", batch, bid="hotline-1-7")  # later still: remembered across ticks
    pipe.execute()
    later = service.tick(t + 10)
    assert (later.resent, later.samples) == (1, 0)
    assert redis_client.xpending(store.SAMPLES, store.ENGINE_GROUP)["pending"] == 0
