"""A configured server that does not answer stops every command with one line naming it, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import REPO, _wait_for
from tests.feeds.conftest import start_worker, stop_worker

TEST_REDIS = os.environ.get("CITYVITALS_TEST_REDIS", "redis://127.0.0.1:6379/15")


def _closed_port() -> int:
    """A port nothing listens on: bound for a moment by this process, then let go."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cityvitals(args: list[str], tmp_path, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DATABASE_URL")}
    return subprocess.run([sys.executable, "-m", "wiring.cli", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env={**base, "CITYVITALS_DATA_DIR": str(tmp_path), **env})


def _says_only(done: subprocess.CompletedProcess, line: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert line in done.stderr.splitlines(), done.stderr


REDIS_COMMANDS = [["profile", "list"], ["simulate", "--list"], ["engine", "run"], ["feeds", "run"],
                  ["run", "--port", "0", "--no-simulator"]]
SQL_COMMANDS = [["user", "list"], ["token", "list"], ["db", "current"], ["db", "upgrade"], ["profile", "list"],
                ["engine", "run"], ["run", "--port", "0", "--no-simulator"]]


@pytest.mark.parametrize("args", REDIS_COMMANDS, ids=" ".join)
def test_an_unreachable_redis_is_one_line(args, tmp_path):
    port = _closed_port()
    done = _cityvitals(args, tmp_path, REDIS_URL=f"redis://127.0.0.1:{port}/0")
    _says_only(done, f"cityvitals: cannot reach Redis at redis://127.0.0.1:{port}/0 (connection refused); "
                     "set REDIS_URL")


def test_a_redis_password_is_not_shown(tmp_path):
    port = _closed_port()
    done = _cityvitals(["profile", "list"], tmp_path, REDIS_URL=f"redis://:s3cret@127.0.0.1:{port}/0")
    _says_only(done, f"cityvitals: cannot reach Redis at redis://:***@127.0.0.1:{port}/0 (connection refused); "
                     "set REDIS_URL")


@pytest.mark.parametrize("args", SQL_COMMANDS, ids=" ".join)
def test_an_unreachable_postgresql_is_one_line(args, tmp_path):
    port = _closed_port()
    done = _cityvitals(args, tmp_path, REDIS_URL=TEST_REDIS,
                       DATABASE_URL=f"postgresql+psycopg://postgres:pw@127.0.0.1:{port}/test")
    _says_only(done, f"cityvitals: cannot reach PostgreSQL at 127.0.0.1:{port} (connection refused); "
                     "set DATABASE_URL")


@pytest.mark.timeout(120)
def test_an_unreachable_mqtt_broker_is_one_line_and_the_worker_keeps_trying(tmp_path):
    port = _closed_port()
    config = tmp_path / "feeds.yaml"
    config.write_text(f"feeds:\n  - type: mqtt\n    name: sensors\n    host: 127.0.0.1\n    port: {port}\n")
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = start_worker(tmp_path, TEST_REDIS, config, out)
    line = f"mqtt sensors: cannot reach the MQTT broker at 127.0.0.1:{port} (connection refused); retrying"
    try:
        _wait_for(lambda: line in log.read_text(), "the broker's line", timeout=60)
        assert worker.poll() is None  # a broker may come back: the worker keeps trying, the other feeds run
    finally:
        stop_worker(worker)
    text = log.read_text()
    assert text.count("cannot reach the MQTT broker") == 1 and "Traceback" not in text, text
