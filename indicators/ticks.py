"""Recorded samples (the archive's, a replayed file's) cut into the batches of a tick length, as columns."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd

from cityvitals import store
from cityvitals.store import columns_of

Row = tuple[str, str, float, float]  # metric, area, ts, value


def tick_batches(chunks: Iterable[tuple[pd.DataFrame, float]], start: float, end: float,
                 tick_s: float) -> Iterator[tuple[float, store.Columns]]:
    """Tick times ``start + tick_s`` ... up to ``end``, each with the samples ``previous tick < ts <= tick``.

    ``chunks`` are (frame with metric, area, ts, value; time before which the frame holds every
    sample) in time order, such as an archive read a day at a time: a tick is sent once a chunk
    reaches past it, so memory holds about one chunk. Samples at ``start`` go to the first tick.
    """
    if not tick_s > 0:
        raise ValueError(f"the tick must be longer than 0 s, got {tick_s}")
    ticks = int(math.floor((end - start) / tick_s + 1e-9))
    pending: list[pd.DataFrame] = []
    k = 1
    for frame, until in itertools.chain(chunks, [(None, math.inf)]):  # one chunk read at a time
        if frame is not None and len(frame):
            pending.append(frame)
        last = min(ticks, math.ceil((until - start) / tick_s) - 1) if until < math.inf else ticks
        if last < k:
            continue
        joined = pd.concat(pending, ignore_index=True) if pending else None
        yield from _cut(joined, start, tick_s, k, last)
        if joined is not None:
            pending = [joined[joined["ts"] > start + last * tick_s]]
        k = last + 1


def _cut(frame: pd.DataFrame | None, start: float, tick_s: float, first: int, last: int
         ) -> Iterator[tuple[float, store.Columns]]:
    """Ticks ``first..last`` (numbers from ``start``) with their samples of ``frame``, in time order."""
    if frame is None or not len(frame):
        for k in range(first, last + 1):
            yield start + k * tick_s, columns_of([])
        return
    frame = frame.sort_values("ts", kind="stable")
    ts, value = frame["ts"].to_numpy(dtype=float), frame["value"].to_numpy(dtype=float)
    tick = np.maximum(np.ceil((ts - start) / tick_s - 1e-9), 1).astype(np.int64)
    # as categories (an archive's columns are already): the engine looks each distinct name up once
    metric, area = pd.Categorical(frame["metric"]), pd.Categorical(frame["area"])
    bounds = np.searchsorted(tick, np.arange(first, last + 2), side="left").tolist()
    for k in range(first, last + 1):
        a, b = bounds[k - first], bounds[k - first + 1]
        yield start + k * tick_s, store.Columns(metric[a:b], area[a:b], ts[a:b], value[a:b])


