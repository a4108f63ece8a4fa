"""`gunicorn -w 2 app:server` on the real Redis and SQLite: a worker SIGKILLed under load costs only its
requests in flight (gunicorn starts a new one), and web workers run no engine of their own."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import requests

from bench.webload import Result, answering_pids, free_port, gunicorn, run_clients
from cityvitals import store
from cityvitals.db import create_schema, make_engine
from cityvitals.tokens import create_token
from tests.conftest import _wait_for


def _push_loop(base: str, token: str, grid: str, until: float) -> list[Result]:
    out = []
    while time.monotonic() < until:
        start = time.monotonic()
        try:
            resp = requests.post(f"{base}/api/v1/samples", timeout=10, headers={"Authorization": f"Bearer {token}"},
                                 json=[{"metric": "aqi", "area": grid, "ts": time.time(), "value": 60}])
            status = resp.status_code
        except requests.RequestException:
            status = 0
        out.append(Result("push", start, time.monotonic(), status, 0))
        time.sleep(0.05)  # the load's pace: about 20 pushes a second
    return out


def _answered_by(access_log: Path, pid: int, after: int) -> int:
    """How many requests the worker ``pid`` answered past the first ``after`` lines of the access log."""
    return sum(line.split()[0].strip("<>") == str(pid) for line in access_log.read_text().splitlines()[after:])


def test_a_killed_worker_costs_only_its_requests_in_flight(tmp_path, redis_client, redis_url, demo_tree):
    db = f"sqlite:///{tmp_path / 'cv.sqlite'}"
    sql = make_engine(db)
    create_schema(sql)
    token = create_token(sql, "loadtest")
    env = {"REDIS_URL": redis_url, "DATABASE_URL": db, "CITYVITALS_DATA_DIR": str(tmp_path),
           "CITYVITALS_SECRET_KEY": "test-key"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    areas = [demo_tree.root.id, *demo_tree.ids("street")]
    with gunicorn(env, port, tmp_path, workers=2):
        first = answering_pids(tmp_path / "access.log")
        victim = first[0]
        pushes: list[Result] = []
        logged = len((tmp_path / "access.log").read_text().splitlines())  # before the load
        kill_at: list[float] = []

        def kill_under_load() -> None:
            # killed while busy with the load: once it has answered a dozen of the load's requests
            _wait_for(lambda: _answered_by(tmp_path / "access.log", victim, after=logged) >= 12,
                      "the victim answering the load", timeout=5)
            kill_at.append(time.monotonic())
            os.kill(victim, signal.SIGKILL)

        pusher = threading.Thread(target=lambda: pushes.extend(_push_loop(base, token, demo_tree.ids("grid")[0],
                                                                          time.monotonic() + 9)))
        killer = threading.Thread(target=kill_under_load)
        pusher.start()
        killer.start()
        results = run_clients(base, clients=3, period_s=0.3, duration_s=9, areas=areas, drill_every=3) + pushes
        pusher.join(30)
        killer.join(5)

        assert kill_at, "the worker was killed"
        failed = [r for r in results if not r.ok]
        in_flight = [r for r in failed if r.start <= kill_at[0] + 0.05 and r.end >= kill_at[0] - 0.05]
        assert failed == in_flight, f"failed beyond those in flight at the kill: {failed}"
        assert len(failed) <= 2  # a sync worker has one request at a time; the kill cuts at most that one
        after = [r for r in results if r.start > kill_at[0] + 0.5]
        assert after and all(r.ok for r in after)
        assert {r.kind for r in results} == {"page", "overview", "drill", "push"}
        deadline = time.monotonic() + 60  # gunicorn boots a replacement, which then takes its share
        while not [p for p in answering_pids(tmp_path / "access.log") if p not in first]:
            assert time.monotonic() < deadline, "no new worker answered within 60 s of the kill"
            assert requests.get(f"{base}/healthz", timeout=10).status_code == 200

        # the web workers are no engine: nobody took the engine lock, no tick ran
        assert not redis_client.exists(f"{store.PREFIX}:lock:engine")
        assert "last_tick" not in store.read_meta(redis_client)
