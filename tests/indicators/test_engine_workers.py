"""Two `cityvitals engine run` processes on one Redis: one leads, the other takes over when it dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Ingestor

REPO = Path(__file__).resolve().parents[2]


def _start(tmp_path: Path, name: str, env: dict) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"{name}.log"
    proc = subprocess.Popen([sys.executable, "-m", "cityvitals.cli", "engine", "run"], cwd=REPO, env=env,
                            stdout=log.open("w"), stderr=subprocess.STDOUT)
    return proc, log


def _wait(check, what: str, logs: list[Path], timeout: float = 40.0, poll_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tails = "\n".join(p.read_text()[-1500:] for p in logs)
            raise AssertionError(f"{what}: not after {timeout:.0f} s\n{tails}")
        time.sleep(poll_s)


@contextmanager
def engines(tmp_path: Path, envs: dict[str, dict]) -> Iterator[list[tuple[subprocess.Popen, Path]]]:
    """`cityvitals engine run` per name with its environment; whatever still runs afterwards is killed."""
    procs = [_start(tmp_path, name, env) for name, env in envs.items()]
    try:
        yield procs
    finally:
        for p, _ in procs:
            if p.poll() is None:
                p.kill()


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM an engine worker and expect a clean exit."""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0


def _river(client, area: str) -> dict | None:
    return store.read_state_of(client, "river_level_max", [area]).get(area)


@contextmanager
def two_engines(tmp_path: Path, redis_url: str, tick_s: int) -> Iterator[tuple[list, list[Path]]]:
    """Two engine workers on one Redis, from when one of them leads: (process, log) each, and the logs."""
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'cv.sqlite'}",
           "CITYVITALS_DATA_DIR": str(tmp_path), "CITYVITALS_TICK_SECONDS": str(tick_s)}
    with engines(tmp_path, {"a": env, "b": env}) as workers:
        logs = [log for _, log in workers]
        _wait(lambda: any("leading now" in log.read_text() for log in logs), "a leader", logs)
        yield workers, logs


def test_one_engine_leads_and_another_takes_over(tmp_path, redis_client, redis_url, demo_tree):
    grids = demo_tree.ids("grid")
    ingestor = Ingestor(redis_client, "probe", registry(), set(grids))
    with two_engines(tmp_path, redis_url, tick_s=1) as (((a, log_a), (b, log_b)), logs):
        time.sleep(3)  # several rounds: the other must still be standing by
        leaders = [p for p, log in ((a, log_a), (b, log_b)) if "leading now" in log.read_text()]
        assert len(leaders) == 1
        leader, follower = (a, b) if leaders[0] is a else (b, a)

        ingestor.submit([{"metric": "river_level", "area": grids[5], "ts": time.time(), "value": 9.1}])
        _wait(lambda: (_river(redis_client, grids[5]) or {}).get("s") == "red", "the leader scores", logs)

        leader.send_signal(signal.SIGKILL)
        leader.wait(10)
        ingestor.submit([{"metric": "river_level", "area": grids[6], "ts": time.time(), "value": 9.2}])
        _wait(lambda: (_river(redis_client, grids[6]) or {}).get("s") == "red", "the follower takes over", logs)
        assert (_river(redis_client, grids[5]) or {}).get("s") == "red"  # the first leader's work is kept
        _wait(lambda: redis_client.xpending(store.SAMPLES, store.ENGINE_GROUP)["pending"] == 0,
              "every entry acknowledged", logs)
        stop(follower)


def test_a_stopped_leader_hands_over_at_once(tmp_path, redis_client, redis_url, demo_tree):
    ttl_s = 30.0  # the lock lives 3 ticks
    grids = demo_tree.ids("grid")
    ingestor = Ingestor(redis_client, "probe", registry(), set(grids))
    with two_engines(tmp_path, redis_url, tick_s=10) as (((a, log_a), (b, log_b)), logs):
        _wait(lambda: "engine worker up" in log_a.read_text() and "engine worker up" in log_b.read_text(),
              "both workers up", logs)
        leader, follower, follower_log = (a, b, log_b) if "leading now" in log_a.read_text() else (b, a, log_a)

        stopped = time.monotonic()
        stop(leader)
        _wait(lambda: "leading now" in follower_log.read_text(), "the follower takes over", logs, timeout=ttl_s)
        assert time.monotonic() - stopped < ttl_s - 5  # within a tick or two, not after the lock lapsed
        ingestor.submit([{"metric": "river_level", "area": grids[7], "ts": time.time(), "value": 9.3}])
        _wait(lambda: (_river(redis_client, grids[7]) or {}).get("s") == "red", "the new leader scores", logs)
        stop(follower)
