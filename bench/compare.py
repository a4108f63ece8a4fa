"""The compare view at province scale (#19): one area's children on one indicator over 7 days.

Run through ``python -m bench.dashboard --compare --grids N [--days 7]``; prints one JSON object.

A day of the engine at 100,000 grids takes hours to simulate, so the value archive is written here
directly, in the layout the engine and its maintenance leave it: the compared level (every area of
it, every indicator of the shipped catalog, one row per ``--value-step``) as one merged file per day,
sorted by area, indicator and time, in row groups of the archive's size. Values are random walks,
different per area, so the ranking means something. The clients (bench/webload.py) open
``/compare/<indicator>?area=<area>&range=7d`` as the browser does (the pages router's callback),
each time another indicator, so a read is rarely cached: ``compare_p95_s`` (goal <= 0.5 s). The
same-run baseline is ``GET /healthz`` on the same server, unloaded and under the load.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench.common import bench_redis, percentile
from bench.engine import build_tree, default_cache_dir
from bench.webload import DashClient, Result, bench_env, free_port, gunicorn, healthz_times, run_threads
from cityvitals import store
from cityvitals.archive.files import COMPACTED, day_of, partition_dir
from cityvitals.archive.hourly import HOURLY_DIR, hour_means
from cityvitals.archive.values import ROW_GROUP, SCHEMA, STEP_S, WRITE, values_root, write_tiers
from cityvitals.areas import save_areas
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.db import create_schema, make_engine
from indicators.loader import load_catalog
from indicators.service import definitions
from indicators.states import State

CHUNK_AREAS = 16  # areas written at a time: a few million rows in memory


def write_history(root: Path, level: str, areas: list[str], indicators: list[str], start: float, end: float,
                  step_s: float = STEP_S, seed: int = 7) -> int:
    """Every (area, indicator) of ``level`` at every step in [start, end) as merged day files; returns the rows."""
    rng = np.random.default_rng(seed)
    areas, indicators = sorted(areas), sorted(indicators)  # the merged files' order
    base = rng.uniform(1.0, 100.0, (len(areas), len(indicators)))
    rows = 0
    day_start = start // 86400 * 86400
    while day_start < end:
        ts = np.arange(max(start, day_start), min(end, day_start + 86400), step_s)
        rows += _write_day(root, level, areas, indicators, ts, base, rng)
        day_start += 86400
    return rows


def _write_day(root: Path, level: str, areas: list[str], indicators: list[str], ts: np.ndarray, base: np.ndarray,
               rng: np.random.Generator) -> int:
    path = partition_dir(root, day_of(float(ts[0])), level) / f"{COMPACTED}{float(ts[-1]):014.3f}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    hidden = path.with_name(f".{path.name}")
    ind_ids, n_ts = pa.array(indicators, pa.string()), len(ts)
    hours = []  # the merged file's hourly twin, as compaction writes it
    with pq.ParquetWriter(hidden, SCHEMA, use_dictionary=WRITE["use_dictionary"]) as writer:
        for first in range(0, len(areas), CHUNK_AREAS):
            chunk = areas[first:first + CHUNK_AREAS]
            cells = len(chunk) * len(indicators)
            walk = base[first:first + len(chunk)].reshape(-1, 1) * (1 + 0.05 * rng.standard_normal((cells, n_ts)))
            ind = pa.DictionaryArray.from_arrays(
                pa.array(np.tile(np.repeat(np.arange(len(indicators), dtype=np.int32), n_ts), len(chunk))), ind_ids)
            area = pa.DictionaryArray.from_arrays(pa.array(np.repeat(np.arange(len(chunk), dtype=np.int32),
                                                                     len(indicators) * n_ts)), pa.array(chunk))
            table = pa.table([ind.cast(pa.string()), area.cast(pa.string()), pa.array(np.tile(ts, cells)),
                              pa.array(walk.ravel()), pa.array(np.full(walk.size, int(State.NORMAL), np.int8))],
                             schema=SCHEMA)
            writer.write_table(table, row_group_size=ROW_GROUP)
            hours.append(hour_means(table))
    write_tiers(pa.concat_tables(hours), path)
    os.replace(hidden, path)
    return len(areas) * len(indicators) * n_ts


def compare_open(client: DashClient, indicator: str, area_id: str, range_key: str) -> Result:
    """Open the compare view as the browser does: the pages router's callback for its path and query."""
    outputs = [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}]
    return client._callback("compare", "_pages_content", outputs,
                            [{"id": "_pages_location", "property": "pathname", "value": f"/compare/{indicator}"},
                             {"id": "_pages_location", "property": "search",
                              "value": f"?area={area_id}&range={range_key}"}], [])


def run_compare(grids: int, clients: int, period_s: float, duration_s: float, url: str | None, workers: int,
                threads: int, days: float, step_s: float, archive: Path | None = None) -> dict:
    """Write the archive and the areas, start gunicorn, open compare views; the figures.

    ``archive``: the archive directory to use and keep, written only when it holds no value files (at
    100,000 grids the writing takes most of an hour); its history then ends when it was written.
    """
    client, keep = bench_redis(url)
    tree = build_tree(grids, default_cache_dir())
    catalog = load_catalog([DEFAULT_CATALOG])
    area = tree.root.id
    children = [a.id for a in tree.children(area)]
    level = tree[children[0]].level
    chosen = sorted(i.id for i in catalog.indicators if i.tier == "macro")  # the compared indicators, in turn
    with tempfile.TemporaryDirectory(prefix="cv-bench-compare-") as tmp:
        env = bench_env(client, url, tmp)
        t0 = time.perf_counter()
        sql = make_engine(f"sqlite:///{tmp}/cv.sqlite")
        create_schema(sql)
        save_areas(sql, [tree[a] for lv in ("district", "street", "community", "grid") for a in tree.ids(lv)])
        store.write_definitions(client, definitions(catalog))
        store.record_catalog(client, catalog.version, errors=[])
        areas_s = time.perf_counter() - t0
        archive = archive or Path(tmp) / "archive"
        env["CITYVITALS_ARCHIVE_DIR"] = str(archive)
        now, rows, t0 = time.time(), None, time.perf_counter()
        if not any(values_root(archive).rglob("*.parquet")):
            rows = write_history(values_root(archive), level, tree.ids(level), [i.id for i in catalog.indicators],
                                 now - days * 86400, now, step_s)
        write_s = time.perf_counter() - t0
        archive_bytes = sum(p.stat().st_size for p in values_root(archive).rglob("*.parquet"))
        hourly_bytes = sum(p.stat().st_size for p in (values_root(archive) / HOURLY_DIR).rglob("*.parquet"))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with gunicorn(env, port, Path(tmp), workers=workers, threads=threads, boot_timeout=900):
            idle = healthz_times(base, 50)
            single = DashClient(base, timeout=120)
            single.open()
            cold = [compare_open(single, i, area, f"{days:g}d") for i in chosen[:3]]
            warm = [compare_open(single, chosen[0], area, f"{days:g}d") for _ in range(3)]
            stop_at = time.monotonic() + duration_s

            def one(k: int) -> list[Result]:
                mine, browser, pick = [], DashClient(base, timeout=60), random.Random(k)
                browser.open()
                time.sleep(pick.uniform(0, period_s))
                while time.monotonic() < stop_at:
                    t = time.monotonic()
                    mine.append(compare_open(browser, pick.choice(chosen), area, f"{days:g}d"))
                    time.sleep(max(0.0, period_s - (time.monotonic() - t)))
                return mine

            results = run_threads(clients, duration_s, one)
            loaded_health = healthz_times(base, 20)
    client.flushdb()
    del keep
    ok = [r for r in results if r.ok]
    return {
        "grids": grids, "area": area, "children": len(children), "level": level, "days": days, "step_s": step_s,
        "clients": clients, "period_s": period_s, "duration_s": duration_s, "workers": workers, "threads": threads,
        "requests": len(results), "errors": len(results) - len(ok),
        "compare_p50_s": percentile([r.seconds for r in ok], 50),
        "compare_p95_s": percentile([r.seconds for r in ok], 95),
        "compare_payload_bytes": int(sum(r.size for r in ok) / max(1, len(ok))),
        "compare_cold_unloaded_s": [round(r.seconds, 3) for r in cold],
        "compare_warm_unloaded_s": [round(r.seconds, 3) for r in warm],
        "baseline_healthz_p50_s": percentile(idle, 50), "baseline_healthz_loaded_p50_s": percentile(loaded_health, 50),
        "archive_rows": rows, "archive_bytes": archive_bytes, "hourly_bytes": hourly_bytes,
        "archive_write_s": round(write_s, 1),
        "areas_s": round(areas_s, 1),
        "error_kinds": sorted({f"{r.kind}:{r.status or r.error}" for r in results if not r.ok}),
    }
