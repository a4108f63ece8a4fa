"""Benchmark the sample archiver against a bare read of the same stream entries through a consumer group.

``python -m bench.archive [--samples N] [--rounds R] [--redis-url URL]`` prints one JSON object.

The stream holds ``N`` samples of the demo district's grids (entries of 1,000, as the ingest path
writes them; values with one decimal, as sensors send them) over yesterday. ``archive_per_s``: the
archiver reading them through its group and writing Parquet (temp file, fsync, rename, acknowledge)
into an empty directory. ``baseline_per_s``: XREADGROUP and XACK of the same entries in the same
rounds of 200, nothing decoded or written: the bare cost of consuming the stream. Both are measured
``R`` times, alternating which goes first; rates are medians, ``ratio`` is baseline over archive.
``bytes_per_sample``: the files a live archiver leaves (one per round and partition);
``compacted_bytes_per_sample``: after compaction (one sorted file per partition). ``read_per_s``:
``read_samples`` of the whole day back into a DataFrame.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from bench.common import bench_redis
from cityvitals import store
from cityvitals.archive import Archiver, read_samples
from cityvitals.areas import LEVELS, AreaTree, pukou_demo
from cityvitals.metrics import registry

ROUND = 200  # entries per read, as the archiver reads them


def fill(client, tree: AreaTree, n: int, seed: int = 7) -> float:
    """Append ``n`` samples over yesterday to the stream; returns yesterday's start (Unix s)."""
    rng = np.random.default_rng(seed)
    grids, metrics = tree.ids("grid"), list(registry())[:20]
    day = (datetime.now(UTC) - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
    ts = np.sort(day + rng.uniform(0, 86400, n)).round(3)
    values = rng.normal(50, 15, n).round(1)
    samples = [store.Sample(metrics[k % len(metrics)], grids[(k // len(metrics)) % len(grids)], t, v)
               for k, (t, v) in enumerate(zip(ts.tolist(), values.tolist(), strict=True))]
    store.append_samples(client, "bench", samples, batch=1000)
    return day


def fresh_group(client, group: str) -> None:
    """A group that has read nothing yet."""
    client.xgroup_destroy(store.SAMPLES, group)
    store.ensure_group(client, group)


def baseline(client) -> float:
    """Seconds to read and acknowledge every entry through a group, nothing decoded or written."""
    fresh_group(client, "bench-read")
    start = time.perf_counter()
    while entries := store.read_raw_entries(client, "bench", "bench-read", count=ROUND):
        store.ack(client, [e.entry_id for e in entries], group="bench-read")
    return time.perf_counter() - start


def archive(client, tree: AreaTree, root: Path) -> float:
    """Seconds for the archiver to write every entry of the stream into ``root``."""
    fresh_group(client, store.ARCHIVE_GROUP)
    levels = {a: level for level in LEVELS for a in tree.ids(level)}
    archiver = Archiver(client, root, levels, consumer="bench", max_entries=ROUND)
    start = time.perf_counter()
    while archiver.round().entries:
        pass
    return time.perf_counter() - start


def size(root: Path) -> int:
    """Bytes of the archive's files."""
    return sum(p.stat().st_size for p in root.rglob("*.parquet"))


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print its JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--redis-url", default=None, help="default: an embedded redis-server")
    args = ap.parse_args(argv)
    client, _keep = bench_redis(args.redis_url)
    tree = AreaTree(pukou_demo())
    day = fill(client, tree, args.samples)
    with tempfile.TemporaryDirectory(prefix="cv-archive-") as tmp:
        archived, read = [], []
        for k in range(args.rounds):
            root = Path(tmp) / f"round-{k}"
            if k % 2:
                archived.append(archive(client, tree, root))
                read.append(baseline(client))
            else:
                read.append(baseline(client))
                archived.append(archive(client, tree, root))
        files, raw = len(list(root.rglob("*.parquet"))), size(root)
        start = time.perf_counter()
        Archiver(client, root, {}, consumer="bench").maintain(datetime.fromtimestamp(day, UTC) + timedelta(days=2))
        compact_s = time.perf_counter() - start
        start = time.perf_counter()
        rows = len(read_samples(root, day, day + 86400))
        read_s = time.perf_counter() - start
        compacted = size(root)
    n = args.samples
    archive_per_s, baseline_per_s = n / statistics.median(archived), n / statistics.median(read)
    print(json.dumps({"samples": n, "rounds": args.rounds, "archive_per_s": round(archive_per_s),
                      "baseline_per_s": round(baseline_per_s), "ratio": round(baseline_per_s / archive_per_s, 2),
                      "files": files, "bytes_per_sample": round(raw / n, 2),
                      "compacted_bytes_per_sample": round(compacted / n, 2), "compact_s": round(compact_s, 2),
                      "read_per_s": round(rows / read_s), "rows_read": rows}))


if __name__ == "__main__":
    main()
