"""Benchmark the value archive: bytes per day and write time per step, on the simulated demo district.

``python -m bench.values [--hours H] [--step S] [--grids N] [--redis-url URL] [--keep DIR]`` prints one JSON object.

The real engine ticks every ``S`` seconds (default 300, the archive's step) over ``H`` hours of the
simulator's city (wiring/backfill.py) and writes each step. ``write_s_p50``: writing a step's files
(every level); ``baseline_tick_s_p50``: the rest of the same engine tick (consume, score, write Redis),
in the same run, so ``write_share`` is what the archive adds to a step's tick. ``bytes_per_day``:
the compacted files (one per level), scaled to 24 h; ``rows_per_step`` the cells written each step;
``bytes_per_day_at_100k_grids``: scaled by rows (grids and the levels above grow together).
``--keep DIR`` leaves the archive in ``DIR/archive`` (a data dir the app can start on, with history).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from bench.common import bench_redis
from cityvitals.archive.files import files, partitions
from cityvitals.archive.values import maintain, read_raw, values_root
from cityvitals.areas import AreaTree, pukou_demo
from cityvitals.config import DEFAULT_CATALOG
from indicators.loader import load_catalog
from wiring.backfill import backfill_values

PROVINCE_GRIDS = 100_000


def main() -> None:
    """Backfill, compact, measure, print JSON."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--step", type=float, default=300.0)
    p.add_argument("--redis-url")
    p.add_argument("--keep", type=Path, help="leave the archive in DIR/archive")
    args = p.parse_args()
    client, _keep_server = bench_redis(args.redis_url)
    tree, catalog = AreaTree(pukou_demo()), load_catalog([DEFAULT_CATALOG])
    scratch = tempfile.TemporaryDirectory(prefix="cv-values-")
    root = (args.keep / "archive") if args.keep else Path(scratch.name)
    end = time.time() // args.step * args.step
    done = backfill_values(client, tree, catalog, root, end - args.hours * 3600, end, args.step)
    uncompacted = _bytes(values_root(root))
    maintain(values_root(root), 90.0, datetime.now(UTC), max_files=2)
    compacted = _bytes(values_root(root))
    rows = len(read_raw(values_root(root), 0, 4e9))
    per_day = compacted * 86400 / (args.hours * 3600)
    grid_rows = len(tree.ids("grid"))
    print(json.dumps({
        "grids": grid_rows, "steps": done.steps, "step_s": args.step, "rows_per_step": rows // max(done.steps, 1),
        "write_s_p50": round(float(np.median(done.write_s)), 4),
        "baseline_tick_s_p50": round(float(np.median(np.subtract(done.tick_s, done.write_s))), 4),
        "write_share": round(float(np.sum(done.write_s) / np.sum(np.subtract(done.tick_s, done.write_s))), 4),
        "uncompacted_bytes_per_step": uncompacted // max(done.steps, 1),
        "bytes_per_row": round(compacted / max(rows, 1), 3),
        "bytes_per_day": int(per_day), "bytes_per_day_at_100k_grids": int(per_day * PROVINCE_GRIDS / grid_rows),
    }))


def _bytes(root: Path) -> int:
    return sum(p.stat().st_size for _d, _lv, directory in partitions(root) for p in files(directory))


if __name__ == "__main__":
    main()
