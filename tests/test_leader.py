"""The engine role's Redis lock: never two leaders at once, held through long rounds, lost when rounds stop."""

from __future__ import annotations

import random
import time

from cityvitals import store
from cityvitals.leader import Leadership, LedJob
from tests.conftest import KillableRedis


def test_a_round_longer_than_the_ttl_keeps_the_lead(redis_client):
    # A TTL of 2 s: the renewal thread (every TTL/3) may be held up 1.3 s by a loaded machine
    leader = Leadership(redis_client, "probe", ttl_s=2.0)
    standby = Leadership(redis_client, "probe", ttl_s=2.0)
    assert leader.held()
    deadline = time.monotonic() + 6.0  # three TTLs inside one round: the renewal thread keeps the lock
    while time.monotonic() < deadline:
        assert not standby.held()
        time.sleep(0.2)  # time passing is the subject: the standby is asked again and again through the round
    assert leader.held()


def test_a_leader_whose_rounds_stop_lets_the_lock_lapse(redis_client):
    hung = Leadership(redis_client, "probe", ttl_s=0.6, max_round_s=0.5)
    standby = Leadership(redis_client, "probe", ttl_s=0.6)
    assert hung.held()
    assert not standby.held()
    deadline = time.monotonic() + 5.0
    while not standby.held():
        assert time.monotonic() < deadline, "the standby never took over from a leader with no rounds"
        time.sleep(0.1)
    assert not hung.held()


def test_never_two_leaders_while_processes_stall_and_resume(redis_client):
    rng = random.Random(3)
    processes = [Leadership(redis_client, "engine", ttl_s=0.3, max_round_s=0.2) for _ in range(4)]  # a token each
    stalled_until = [0.0] * 4
    leaders_seen = set()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        now = time.monotonic()
        leading = [k for k, p in enumerate(processes) if stalled_until[k] <= now and p.held()]
        assert len(leading) <= 1, f"processes {leading} lead at once"
        leaders_seen.update(leading)
        if leading and rng.random() < 0.15:
            stalled_until[leading[0]] = now + 1.0  # the leader hangs past its TTL and its longest round
        time.sleep(0.05)  # the pace of the simulated processes' rounds
    assert len(leaders_seen) >= 2, "a stalled leader was replaced"


def test_a_leader_that_stops_renewing_hands_over_after_its_ttl(redis_client):
    a = Leadership(redis_client, "engine", ttl_s=0.5, max_round_s=0.2)
    b = Leadership(redis_client, "engine", ttl_s=0.5)
    assert a.held() and not b.held()
    for _ in range(10):  # a keeps renewing: b stands by well past one TTL
        time.sleep(0.1)
        assert a.held() and not b.held()
    started = time.monotonic()
    while not b.held():
        assert time.monotonic() - started < 10, "b never took over"  # 0.5 s on a quiet machine
        time.sleep(0.05)
    assert time.monotonic() - started >= 0.3  # not before a's lock expired
    assert not a.held(), "the old leader knows it lost the lead"


def test_a_led_job_hears_of_its_loss_but_not_of_a_redis_outage(tmp_path):
    server = KillableRedis(tmp_path)
    server.start()
    try:
        client = server.client()
        runs, losses = [], []
        job = LedJob(client, "probe", 1.0, lambda: runs.append(1), on_loss=lambda: losses.append(1))
        job()
        server.kill()
        job()  # Redis away: nobody is known to lead now; the job is skipped, the lead not given up
        assert (len(runs), losses) == (1, [])
        server.start()
        job()
        assert (len(runs), losses) == (2, [])
        client.delete(f"{store.PREFIX}:lock:probe")  # its lock lapsed and another process took the role
        assert Leadership(client, "probe", ttl_s=10).held()
        job()
        assert (len(runs), losses) == (2, [1])
    finally:
        if server.proc.poll() is None:
            server.kill()


def test_a_feed_with_a_long_period_holds_a_short_lease_kept_between_rounds(redis_client):
    """A simulator round every 60 s: a crashed leader's role is free within 15 s, not three periods (3 min)."""
    job = LedJob(redis_client, "probe-long", 60.0, lambda: None)
    job()
    assert job.leading
    assert 0 < redis_client.pttl(f"{store.PREFIX}:lock:probe-long") <= 15_000
    assert not Leadership(redis_client, "probe-long", ttl_s=15).held()  # kept meanwhile: nobody else leads
    job.leadership.release()


def test_a_write_through_the_lock_is_dropped_if_the_lock_changed_hands_after_the_check(redis_client):
    a = Leadership(redis_client, "probe", ttl_s=5.0)
    b = Leadership(redis_client, "probe", ttl_s=5.0)
    assert a.held()

    def stalled(pipe) -> None:
        # a stalls between its check of the lock and its write: meanwhile its lock lapses and b takes over
        if not b.held():
            redis_client.delete(a.lock.name)
            assert b.held()
        pipe.set("cv:probe", "a")

    assert not a.write(stalled)
    assert redis_client.get("cv:probe") is None  # a wrote nothing
    assert b.write(lambda pipe: pipe.set("cv:probe", "b"))
    assert redis_client.get("cv:probe") == "b"
