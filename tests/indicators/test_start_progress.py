"""A starting engine publishes how far its first tick got, level by level from the top (real Redis, MONITOR)."""

from __future__ import annotations

import threading
import time

from cityvitals import store
from cityvitals.areas import LEVELS
from cityvitals.config import DEFAULT_CATALOG
from cityvitals.metrics import registry
from feeds.simulator.city import SimulatedCity
from indicators.engine import Engine
from indicators.loader import load_catalog
from indicators.service import EngineService

STOP = "end-of-first-tick"


def watch(client, commands: list[list[str]], ready: threading.Event) -> None:
    """Collect the commands this test's database receives until the STOP echo (MONITOR sees every database)."""
    db = client.connection_pool.connection_kwargs.get("db", 0)
    with client.monitor() as m:
        ready.set()
        for seen in m.listen():
            if seen.get("db") != db:
                continue
            words = seen["command"].split()
            if words[:2] == ["ECHO", STOP]:
                return
            commands.append(words)


def warm(engine: Engine, now: float) -> None:
    """Every simulated metric of every grid holds a value, as in an engine that ran a while (a restart's)."""
    values = SimulatedCity(engine.tree, registry()).values(now)
    for metric, row in engine.metric_pos.items():
        if metric in values:
            engine.values[row], engine.ts[row] = values[metric], now


def test_the_first_tick_publishes_its_share_written_from_the_district_down(redis_client, demo_tree, monkeypatch):
    monkeypatch.setattr(store, "WRITE_CHUNK", 20_000)  # the demo's grid level then goes in parts, as a province's
    service = EngineService(redis_client, None, demo_tree, load_catalog([DEFAULT_CATALOG]), consumer="start")
    warm(service.engine, time.time() - 60)
    commands: list[list[str]] = []
    ready = threading.Event()
    watcher = threading.Thread(target=watch, args=(redis_client, commands, ready))
    watcher.start()
    ready.wait(5)
    service.tick()
    redis_client.echo(STOP)
    watcher.join(10)

    total = len(service.engine.ind_ids) * sum(len(demo_tree.ids(level)) for level in LEVELS)
    starts = [(k, int(c[3]), int(c[5])) for k, c in enumerate(commands)
              if c[:3] == ["HSET", store.META, "start_written"]]
    assert starts, commands[:20]
    written = [w for _, w, _ in starts]
    assert {t for _, _, t in starts} == {total}
    assert written[0] == 0 and written[-1] == total
    assert written == sorted(written)
    assert len(set(written)) > len(LEVELS) + 2  # every level, and the grids in several parts
    grid_rows = store.values_key("grid", "")
    first_grid_row = next(k for k, c in enumerate(commands) if c[0] == "SET" and c[1].startswith(grid_rows))
    district_summary = next(k for k, c in enumerate(commands) if c[:2] == ["SET", store.summary_key("district")])
    assert district_summary < first_grid_row  # the wall's district is whole before the grids go
    shown = [w for k, w, _ in starts if k < first_grid_row]
    assert max(shown) == total - len(service.engine.ind_ids) * len(demo_tree.ids("grid"))

    meta = store.meta(redis_client)
    assert meta.starting is None and meta.last_tick is not None
    service.tick()  # a steady tick publishes no progress
    assert store.meta(redis_client).start_written == total
