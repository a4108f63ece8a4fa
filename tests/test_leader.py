"""Leadership of a periodic role through a Redis lock: held through long rounds, lost when rounds stop."""

from __future__ import annotations

import time

from cityvitals.leader import Leadership


def test_a_round_longer_than_the_ttl_keeps_the_lead(redis_client):
    leader = Leadership(redis_client, "probe", ttl_s=1.0)
    standby = Leadership(redis_client, "probe", ttl_s=1.0)
    assert leader.held()
    deadline = time.monotonic() + 3.0  # three TTLs inside one round: the renewal thread keeps the lock
    while time.monotonic() < deadline:
        assert not standby.held()
        time.sleep(0.2)
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
