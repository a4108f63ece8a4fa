"""What every benchmark shares: a Redis to measure against and percentiles."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import redis

from cityvitals.redis_server import connect, scratch_redis


def bench_redis(url: str | None) -> tuple[redis.Redis, object]:
    """A client on ``url`` (emptied), or on an embedded redis-server in a temporary directory."""
    if url:
        client = connect(url)
        client.flushdb()
        return client, None
    keep = tempfile.TemporaryDirectory(prefix="cv-bench-")
    client, server = scratch_redis(Path(keep.name))
    return client, (keep, server)


def percentile(xs: list[float], q: float) -> float | None:
    """The q-th percentile, rounded for printing; None without any value (every request failed, say)."""
    return round(float(np.percentile(xs, q)), 4) if len(xs) else None
