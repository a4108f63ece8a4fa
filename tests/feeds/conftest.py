"""Fixtures of the feed tests: a Redis of their own that can be killed and restarted."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.conftest import _wait_for, free_port


class KillableRedis:
    """A redis-server of our own (append-only file, fsync always) on a free loopback port, that can be
    killed with SIGKILL and started again on the same port and files."""

    def __init__(self, workdir: Path) -> None:
        self.port, self.workdir = free_port(), workdir
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", str(self.workdir), "--appendonly", "yes", "--appendfsync", "always",
                                      "--save", "", "--logfile", "redis.log"])
        _wait_for(lambda: redis.Redis(port=self.port).ping(), f"redis-server on {self.port}", timeout=10)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def client(self) -> redis.Redis:
        # No retries inside redis-py: the Ingestor and the engine's scheduler are the retriers here.
        return redis.Redis(port=self.port, decode_responses=True, socket_timeout=2, socket_connect_timeout=1,
                           retry=Retry(NoBackoff(), 0))


@pytest.fixture
def server(tmp_path):
    """A private redis-server, started; killed at the end if it still runs."""
    srv = KillableRedis(tmp_path)
    srv.start()
    yield srv
    if srv.proc.poll() is None:
        srv.kill()
