"""Engine tick benchmark against a real Redis: consume the new samples, score, roll up, write.

    python -m bench.engine --grids 502 --ticks 12 [--redis-url redis://127.0.0.1:6379/5]

Prints one JSON object. Samples arrive at one per metric and grid per minute, capped at 20,000 a
second; each tick consumes what arrived in one tick period. The engine is primed first with one full
round of values (loaded as a restart loads the latest values, and scored once without writing, so the
measured ticks write only what changes). Baseline, same run, same server: raw pipelined HSETs of as
many fields as an average tick wrote.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bench.common import bench_redis, percentile
from cityvitals import store
from cityvitals.areas import AreaTree, province_demo, pukou_demo
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.metrics import registry
from feeds.simulator.city import SimulatedCity
from indicators.loader import load_catalog
from indicators.service import EngineService

RATE_CAP = 20_000  # samples per second
T0 = 1_795_000_000.0


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark and print its JSON line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--grids", type=int, default=502, help="502 is the Pukou demo; other sizes are generated")
    ap.add_argument("--ticks", type=int, default=12)
    ap.add_argument("--period", type=float, default=5.0, help="tick period in seconds of simulated time")
    ap.add_argument("--redis-url", default=None, help="default: an embedded redis-server in a temp dir")
    args = ap.parse_args(argv)

    client, _keep = bench_redis(args.redis_url)
    tree = AreaTree(pukou_demo() if args.grids == 502 else province_demo(args.grids))
    catalog = load_catalog([DEFAULT_CATALOG])
    city = SimulatedCity(tree, registry())
    service = EngineService(client, None, tree, catalog, consumer="bench", max_entries=1_000_000)
    grids = tree.ids("grid")
    t_setup = time.perf_counter()
    for metric, values in city.values(T0).items():
        service.engine.load_metric(metric, grids, values, np.full(len(grids), T0), ["bench"] * len(grids))
    service.engine.tick(T0)  # settle states; the measured ticks write only what changes
    prime_s = time.perf_counter() - t_setup

    metrics = list(city.values(T0))
    per_tick = int(min(len(grids) * len(metrics) * args.period / 60.0, RATE_CAP * args.period))
    rng = np.random.default_rng(1)
    ticks, consume, score, write, records = [], [], [], [], []
    for k in range(1, args.ticks + 1):
        now = T0 + k * args.period
        values = city.values(now)
        cells = rng.choice(len(grids) * len(metrics), size=per_tick, replace=False)
        samples = [store.Sample(metrics[m], grids[g], now - 1, float(values[metrics[m]][g]))
                   for m, g in zip(*np.divmod(cells, len(grids)), strict=True)]
        store.append_samples(client, "bench", samples)
        t = time.perf_counter()
        report = service.tick(now)
        ticks.append(time.perf_counter() - t)
        assert report.samples == per_tick, (report.samples, per_tick)
        consume.append(report.seconds["consume"])
        score.append(report.seconds["score"])
        write.append(report.seconds["write"])
        records.append(report.records)

    t = time.perf_counter()
    service.engine.tick(T0 + (args.ticks + 1) * args.period)
    score_only = time.perf_counter() - t

    fields = int(np.mean(records))
    payload = "normal|12.5|1795000000.000|1795000000.000|80|100|default|1"
    pipe = client.pipeline(transaction=False)
    t = time.perf_counter()
    for key in range(0, fields, 100):
        pipe.hset(f"bench:{key}", mapping={f"f{i}": payload for i in range(min(100, fields - key))})
    pipe.execute()
    baseline = time.perf_counter() - t

    out = {
        "grids": len(grids), "indicators": len(catalog.indicators), "metrics": len(metrics), "ticks": args.ticks,
        "samples_per_tick": per_tick, "records_per_tick": fields,
        "tick_p50_s": percentile(ticks, 50), "tick_p95_s": percentile(ticks, 95),
        "consume_p50_s": percentile(consume, 50), "score_p50_s": percentile(score, 50),
        "write_p50_s": percentile(write, 50), "score_only_s": round(score_only, 4),
        "baseline_hset_same_fields_s": round(baseline, 4),
        "baseline_fields_per_s": round(fields / baseline) if baseline else None,
        "prime_s": round(prime_s, 2),
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
