"""A scratch redis-server (benchmarks, backtests) stops when asked and when its process exits."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest
import redis

from cityvitals.redis_server import scratch_redis, stop_scratch


def _gone(pid: int, within_s: float = 10.0) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


def test_a_scratch_server_stops_when_asked(tmp_path):
    client, server = scratch_redis(tmp_path)
    client.set("k", "v")
    pid = server.pid
    stop_scratch(client)
    assert _gone(pid)
    with pytest.raises(redis.ConnectionError):
        client.ping()
    stop_scratch(client)  # stopping again is harmless


def test_a_scratch_server_stops_when_its_process_exits(tmp_path):
    code = ("import sys; from pathlib import Path; from cityvitals.redis_server import scratch_redis; "
            "client, server = scratch_redis(Path(sys.argv[1])); client.set('k', 'v'); print(server.pid)")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert _gone(int(done.stdout.strip()))


def test_a_scratch_server_stops_when_its_process_is_terminated(tmp_path):
    code = ("import sys, time; from pathlib import Path; from cityvitals.redis_server import scratch_redis; "
            "client, server = scratch_redis(Path(sys.argv[1])); client.set('k', 'v'); print(server.pid, flush=True); "
            "time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    pid = int(proc.stdout.readline())  # a bench or backtest stopped by `kill` (SIGTERM), not Ctrl-C
    proc.terminate()
    assert proc.wait(30) == 128 + 15
    assert _gone(pid)  # it ran on, orphaned, before
