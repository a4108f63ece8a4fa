"""Plain functions to read an export, turn its times into Unix seconds and pace a replay."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd


def file_identity(path: Path) -> str:
    """Return the first 16 hex digits of the file's SHA-256: the same content is the same file, wherever it lies."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file as strings-as-found (types are checked row by row later)."""
    if path.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(path)
    return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)


def paced(times: np.ndarray, speed: float | None, start: int = 0, batch: int = 500,
          sleep: Callable[[float], None] = time.sleep,
          clock: Callable[[], float] = time.monotonic) -> Iterator[tuple[int, int]]:
    """Yield (first, stop) row ranges from ``start``, each once its first row is due at ``speed`` x real time.

    ``speed`` None: as fast as possible. A range holds the rows due by then (at most ``batch``);
    rows without a readable time are due at once.
    """
    finite = times[start:][np.isfinite(times[start:])]
    t0_data, t0_wall = (finite[0] if finite.size else 0.0), clock()
    due = np.nan_to_num((times - t0_data) / (speed or np.inf), nan=-np.inf) + t0_wall
    first = start
    while first < len(times):
        wait = due[first] - clock()  # read the clock once: read twice, the wait could come out negative
        if speed is not None and wait > 0:
            sleep(wait)
        later = due[first : first + batch] > clock()
        ready = int(later.argmax()) if speed is not None and later.any() else batch
        stop = min(first + max(ready, 1), len(times))
        yield first, stop
        first = stop
