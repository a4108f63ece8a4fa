"""Finding 4: an unknown user name costs the same time as a wrong password, so timing tells no names."""

from __future__ import annotations

import statistics
import time

import requests

from cityvitals.users import add_user, check_login
from tests.security.conftest import PASSWORD, login


def _median_seconds(call, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_unknown_user_and_wrong_password_take_the_same_time(sqlite_engine):
    add_user(sqlite_engine, "known-user", PASSWORD, "analyst")
    check_login(sqlite_engine, "warm-up", "x")  # the dummy hash is made once per process
    wrong = _median_seconds(lambda: check_login(sqlite_engine, "known-user", "wrong password!"))
    unknown = _median_seconds(lambda: check_login(sqlite_engine, "nobody-here", "wrong password!"))
    # scrypt dominates both (tens of ms); before, an unknown name answered without hashing at all
    assert wrong > 0.01 and 0.5 * wrong < unknown < 2 * wrong, (wrong, unknown)


def test_over_http_too(closed):
    url, _ = closed
    s = requests.Session()
    login(s, url, "nobody-at-all", "warm up the dummy hash")
    wrong = _median_seconds(lambda: login(s, url, "admin-qian", "wrong password!"), runs=4)
    unknown = _median_seconds(lambda: login(s, url, "nobody-at-all", "wrong password!"), runs=4)
    assert 0.5 * wrong < unknown < 2 * wrong, (wrong, unknown)
