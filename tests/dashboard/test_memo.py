"""A part asked by many threads or workers at once is built once (dashboard/memo.py, dashboard/delta.shared)."""

from __future__ import annotations

import hashlib
import threading
import time

import pytest

from cityvitals import store
from dashboard import delta
from dashboard.memo import Memo


def test_threads_asking_for_a_key_being_built_wait_for_that_build():
    memo, calls, start = Memo(8), [], threading.Barrier(6)

    def build() -> list:
        calls.append(1)
        time.sleep(0.2)  # long enough for every other thread to ask meanwhile
        return ["built"]

    got = []

    def ask() -> None:
        start.wait()
        got.append(memo.get("page", build))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1 and len(got) == 6 and all(g is got[0] for g in got)


def test_a_failed_build_is_tried_again_and_the_oldest_key_makes_room():
    memo = Memo(2)

    def fail() -> None:
        raise RuntimeError("archive gone")

    with pytest.raises(RuntimeError):
        memo.get("a", fail)
    assert memo.get("a", lambda: 1) == 1
    memo.get("b", lambda: 2)
    memo.get("a", lambda: 0)  # used again: "b" is now the oldest
    memo.get("c", lambda: 3)
    assert "a" in memo and "c" in memo and "b" not in memo


def test_a_worker_sends_the_part_another_worker_is_building_rather_than_build_it(redis_client):
    key = ("compare", "aqi", "memo-test")
    digest = hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
    assert store.claim_build(redis_client, digest, 10)  # the other worker started building it
    threading.Timer(0.2, store.write_built, (redis_client, digest, '{"built": "there"}', 60)).start()

    def build() -> dict:
        raise AssertionError("built twice")

    assert delta.shared(redis_client, key, build) == {"built": "there"}


def test_a_claim_nobody_fulfils_lapses_into_a_build_here(redis_client, monkeypatch):
    monkeypatch.setattr("dashboard.delta.BUILD_WAIT_S", 0.2)
    key = ("compare", "aqi", "memo-test-died")
    digest = hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
    assert store.claim_build(redis_client, digest, 10) and not store.claim_build(redis_client, digest, 10)
    t = time.monotonic()
    assert delta.shared(redis_client, key, lambda: {"built": "here"}) == {"built": "here"}
    assert 0.2 <= time.monotonic() - t < 2.0
    assert store.read_built(redis_client, digest) == '{"built":"here"}'
