"""Two `cityvitals engine run` processes on one Redis: one leads, the other takes over when it dies."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from tests.conftest import engines, stop, wait_logged


def _ticks_seen(client, seen: set[str]) -> int:
    """Note the engine's last tick time; how many different ones were seen so far."""
    seen.add(store.read_meta(client).get("last_tick", ""))
    return len(seen - {""})


def _entrapments(client, area: str) -> dict | None:
    return store.read_state_of(client, "elevator_entrapments", [area]).get(area)


@contextmanager
def two_engines(tmp_path: Path, redis_url: str, tick_s: int) -> Iterator[tuple[list, list[Path]]]:
    """Two engine workers on one Redis, from when one of them leads: (process, log) each, and the logs."""
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'cv.sqlite'}",
           "CITYVITALS_DATA_DIR": str(tmp_path), "CITYVITALS_TICK_SECONDS": str(tick_s)}
    with engines(tmp_path, {"a": env, "b": env}) as workers:
        logs = [log for _, log in workers]
        wait_logged(lambda: any("leading now" in log.read_text() for log in logs), "a leader", logs)
        yield workers, logs


def test_one_engine_leads_and_another_takes_over(tmp_path, redis_client, redis_url, demo_tree):
    grids = demo_tree.ids("grid")
    ingestor = Ingestor(redis_client, "probe", registry(), set(grids))
    with two_engines(tmp_path, redis_url, tick_s=1) as (((a, log_a), (b, log_b)), logs):
        seen: set[str] = set()  # several rounds (a tick a second) go by: the other must still be standing by
        wait_logged(lambda: _ticks_seen(redis_client, seen) > 3, "three more ticks of the leader", logs)
        leaders = [p for p, log in ((a, log_a), (b, log_b)) if "leading now" in log.read_text()]
        assert len(leaders) == 1
        leader, follower = (a, b) if leaders[0] is a else (b, a)

        ingestor.submit([{"metric": "elevator_entrapments_24h", "area": grids[5], "ts": time.time(), "value": 3}])
        wait_logged(lambda: (_entrapments(redis_client, grids[5]) or {}).get("s") == "red", "the leader scores", logs)

        leader.send_signal(signal.SIGKILL)
        leader.wait(10)
        ingestor.submit([{"metric": "elevator_entrapments_24h", "area": grids[6], "ts": time.time(), "value": 3}])
        wait_logged(lambda: (_entrapments(redis_client, grids[6]) or {}).get("s") == "red", "the follower takes over",
                    logs)
        assert (_entrapments(redis_client, grids[5]) or {}).get("s") == "red"  # the first leader's work is kept
        wait_logged(lambda: redis_client.xpending(store.SAMPLES, store.ENGINE_GROUP)["pending"] == 0,
                    "every entry acknowledged", logs)
        stop(follower)


def test_a_stopped_leader_hands_over_at_once(tmp_path, redis_client, redis_url, demo_tree):
    ttl_s = 30.0  # the lock lives 3 ticks
    grids = demo_tree.ids("grid")
    ingestor = Ingestor(redis_client, "probe", registry(), set(grids))
    with two_engines(tmp_path, redis_url, tick_s=10) as (((a, log_a), (b, log_b)), logs):
        wait_logged(lambda: "engine worker up" in log_a.read_text() and "engine worker up" in log_b.read_text(),
                    "both workers up", logs)
        leader, follower, follower_log = (a, b, log_b) if "leading now" in log_a.read_text() else (b, a, log_a)

        stopped = time.monotonic()
        stop(leader)
        wait_logged(lambda: "leading now" in follower_log.read_text(), "the follower takes over", logs,
                    timeout=ttl_s)
        assert time.monotonic() - stopped < ttl_s - 5  # within a tick or two, not after the lock lapsed
        ingestor.submit([{"metric": "elevator_entrapments_24h", "area": grids[7], "ts": time.time(), "value": 3}])
        wait_logged(lambda: (_entrapments(redis_client, grids[7]) or {}).get("s") == "red", "the new leader scores",
                    logs)
        stop(follower)


def test_a_stopped_engine_saves_its_snapshot_and_the_next_one_goes_on_from_it(tmp_path, redis_client, redis_url):
    env = {**os.environ, "REDIS_URL": redis_url, "DATABASE_URL": f"sqlite:///{tmp_path / 'cv.sqlite'}",
           "CITYVITALS_DATA_DIR": str(tmp_path), "CITYVITALS_TICK_SECONDS": "1"}
    for name in ("first", "second"):
        with engines(tmp_path, {name: env}) as [(worker, log)]:
            seen: set[str] = set()
            wait_logged(lambda: _ticks_seen(redis_client, seen) >= 2, f"two ticks of the {name} engine", [log])  # noqa: B023
            stop(worker)
        assert "engine snapshot saved" in log.read_text(), log.read_text()[-2000:]
        assert ("went on from the engine snapshot" in log.read_text()) == (name == "second"), log.read_text()[-2000:]
    assert (tmp_path / "engine-snapshot" / "engine" / "current" / "meta.json").exists()
