"""The runner on a virtual clock gives the states of the live engine worker, tick by tick.

A real ``cityvitals engine run`` process ticks every second on the test Redis; after each of its
ticks the test reads the states it wrote, then sends the next samples of a hand-built series (so
they are scored by its next tick). The runner is then given the same samples at the same tick
times, on a Redis and SQLite of its own, and must write the same states and the same warnings log;
so must the runner without Redis (what a backtest uses), read from its engine and its log.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from cityvitals import store
from cityvitals.db import make_engine
from cityvitals.metrics import registry
from cityvitals.redis_server import scratch_redis
from feeds.ingest import Ingestor
from indicators.classify import NO_PENDING
from indicators.history import WarningLog
from indicators.loader import load_catalog
from indicators.runner import ClockRunner
from indicators.states import State
from tests.conftest import engines, stop, wait_logged

CATALOG = Path(__file__).parent / "held.yaml"
# One value per tick for two grids: crossings that wait out the 2 s hold, one that does not last, and
# values inside the 0.2 hysteresis band that must not clear a warning.
SERIES = [(6.0, 6.0), (8.0, 6.0), (8.0, 9.0), (8.0, 6.0), (8.0, 9.0), (9.0, 9.0), (9.0, 9.0), (6.0, 9.0),
          (6.0, 8.4), (6.0, 8.4), (6.0, 8.0), (7.4, 8.0), (7.6, 6.0), (7.6, 6.0), (7.6, 6.0), (6.0, 6.0),
          (6.0, 6.0), (6.0, 6.0)]


def _states(client, tree, grids: list[str]) -> dict[str, tuple]:
    """State, pending state and value of the indicator in the grids and every area above them."""
    areas = sorted({*grids, *(a.id for g in grids for a in tree.ancestors(g))})
    return {a: (r["s"], r["p"], r["v"]) for a, r in store.read_state_of(client, "level", areas).items()}


def _engine_states(runner: ClockRunner, tree, grids: list[str]) -> dict[str, tuple]:
    """State and pending state of the indicator in the same areas, read off a runner's engine."""
    eng, row = runner.engine, runner.engine.ind_ids.index("level")
    out = {}
    for a in sorted({*grids, *(x.id for g in grids for x in tree.ancestors(g))}):
        track = eng.tracks[tree[a].level]
        col = tree.ids(tree[a].level).index(a)
        pending = int(track.pending[row, col])
        out[a] = (State(track.state[row, col]).label, None if pending == NO_PENDING else State(pending).label)
    return out


def _log(sql) -> list[tuple]:
    with sql.connect() as conn:
        rows = conn.execute(select(WarningLog.at, WarningLog.indicator, WarningLog.level, WarningLog.area,
                                   WarningLog.from_state, WarningLog.to_state).order_by(WarningLog.id)).all()
    return [(r[0].timestamp(), *r[1:]) for r in rows]


def _next_tick(client, after: float, logs: list[Path]) -> float:
    """Wait for the worker's next tick after ``after``; its time."""
    deadline = time.monotonic() + 20
    while (last := store.meta(client).last_tick or 0.0) <= after:
        assert time.monotonic() < deadline, "no tick of the worker in 20 s:\n" + "".join(p.read_text() for p in logs)
        time.sleep(0.01)
    return last


def test_the_runner_gives_the_live_workers_states_tick_by_tick(tmp_path, redis_client, redis_url, demo_tree):
    grids = demo_tree.ids("grid")[:2]
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'live.sqlite'}",
           "CITYVITALS_DATA_DIR": str(tmp_path), "CITYVITALS_TICK_SECONDS": "1", "CITYVITALS_CATALOG": str(CATALOG)}
    ingestor = Ingestor(redis_client, "probe", registry(), set(demo_tree.ids("grid")))
    ticks: list[tuple[float, list, dict]] = []  # (tick time, samples it scored, states after it), every tick
    with engines(tmp_path, {"live": env}) as [(worker, log)]:
        wait_logged(lambda: "leading now" in log.read_text(), "the worker leads", [log])
        now = _next_tick(redis_client, 0.0, [log])
        ticks.append((now, [], _states(redis_client, demo_tree, grids)))
        for values in SERIES:
            sent = [("river_level", g, time.time(), v) for g, v in zip(grids, values, strict=True)]
            items = [dict(zip(("metric", "area", "ts", "value"), s, strict=True)) for s in sent]
            assert ingestor.submit(items).accepted == 2
            while True:  # the next tick scores them, unless it had read the stream before they were in it
                now = _next_tick(redis_client, now, [log])
                taken = store.group_backlog(redis_client, store.ENGINE_GROUP).unread == 0
                ticks.append((now, sent if taken else [], _states(redis_client, demo_tree, grids)))
                if taken:
                    break
        stop(worker)
    live_log = _log(make_engine(f"sqlite:///{tmp_path / 'live.sqlite'}"))
    assert any(row[5] == "red" for row in live_log) and any(row[5] == "yellow" for row in live_log)

    with tempfile.TemporaryDirectory() as scratch:
        client, server = scratch_redis(Path(scratch))
        runner = ClockRunner(client, make_engine(f"sqlite:///{scratch}/w.sqlite"), demo_tree,
                             load_catalog([CATALOG]), timeline=True)
        for k, (at, samples, live) in enumerate(ticks):  # from the worker's last tick before any sample
            runner.step(at, samples)
            assert _states(client, demo_tree, grids) == live, f"tick {k} at {at}"
        # the worker ticked on until it was stopped: its later ticks are not compared (SQL keeps microseconds)
        assert list(runner.transitions().itertuples(index=False, name=None)) == [r for r in live_log
                                                                                 if r[0] < ticks[-1][0] + 1e-3]
        server.shutdown(nosave=True)

        alone = ClockRunner(None, make_engine(f"sqlite:///{scratch}/alone.sqlite"), demo_tree, load_catalog([CATALOG]))
        for k, (at, samples, live) in enumerate(ticks):
            alone.step(at, samples)
            assert _engine_states(alone, demo_tree, grids) == {a: s[:2] for a, s in live.items()}, f"tick {k}"
        assert list(alone.transitions().itertuples(index=False, name=None)) == [r for r in live_log
                                                                                if r[0] < ticks[-1][0] + 1e-3]
