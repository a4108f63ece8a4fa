"""Speed of the work-order pipeline on the demo district's simulated orders, against raw redis-py writes.

``python -m bench.workorders [--days D] [--redis-url URL]`` prints one JSON object: ``events_per_s``
(events checked and applied to the orders in Redis), ``baseline_per_s`` (the same order records written
by pipelined HSETs, nothing checked), ``ratio``, and ``aggregate_s`` (one round of per-grid metrics from
every order held, published through the ingest path).
"""

from __future__ import annotations

import argparse
import json
import time

from bench.common import bench_redis
from cityvitals import store
from cityvitals.areas import AreaTree, pukou_demo
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.simulator.orders import SimulatedOrders
from feeds.workorders.pipeline import WorkOrderFeed, WorkOrderPipeline

NOW = 1_795_489_200.0  # a Wednesday, 11:00 in Nanjing


def run(days: float, url: str | None) -> dict:
    """Measure the pipeline and the baseline on ``days`` of simulated orders."""
    client, _keep = bench_redis(url)
    tree = AreaTree(pukou_demo())
    events = SimulatedOrders(tree).events(NOW - days * 86400, NOW, whole=True)
    pipeline = WorkOrderPipeline(Ingestor(client, "workorders", registry(), frozenset(tree.ids("grid")),
                                          clock=lambda: NOW))
    started = time.perf_counter()
    for start in range(0, len(events), 5000):
        pipeline.submit(events[start : start + 5000])
    pipeline_s = time.perf_counter() - started
    records = store.all_orders(client)
    store.drop_orders(client, list(records))
    started = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for e in events:  # one write per event, as the pipeline's state changes
        store.write_orders(pipe, {e["order"]: records[e["order"]]})
        if len(pipe) >= 5000:
            pipe.execute()
    pipe.execute()
    baseline_s = time.perf_counter() - started
    started = time.perf_counter()
    WorkOrderFeed(pipeline).run_once(NOW)
    aggregate_s = time.perf_counter() - started
    return {"events": len(events), "orders": len(records), "events_per_s": round(len(events) / pipeline_s),
            "baseline_per_s": round(len(events) / baseline_s), "ratio": round(baseline_s / pipeline_s, 3),
            "aggregate_s": round(aggregate_s, 3)}


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.workorders", description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=8.0)
    parser.add_argument("--redis-url", default=None, help="default: an embedded redis-server")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.days, args.redis_url)))


if __name__ == "__main__":
    main()
