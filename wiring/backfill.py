"""Fill the value archive with a simulated past: the real engine ticked over the simulator on a virtual clock.

For demos, screenshots, browser tests and the value archive's benchmark: a trend needs history, and a
fresh install has none. It drives a scratch Redis (its states and stream are the backfill's own, never
a live engine's) and writes only the value archive.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import redis

from cityvitals import store
from cityvitals.areas import AreaTree
from cityvitals.metrics import registry
from feeds.simulator.city import SimulatedCity
from indicators.loader import Catalog
from indicators.service import EngineService
from indicators.value_recorder import ValueRecorder


@dataclass
class Backfill:
    """What a backfill did."""

    steps: int
    samples: int
    tick_s: list[float]  # engine tick per step, the value archive's files included
    write_s: list[float]  # of which writing the value archive


def backfill_values(client: redis.Redis, tree: AreaTree, catalog: Catalog, archive_root: Path, start: float,
                    end: float, step_s: float = 300.0, seed: int = 7) -> Backfill:
    """Tick the engine every ``step_s`` from ``start`` to ``end`` on simulated samples, recording each step."""
    if client.dbsize():
        raise ValueError("backfill_values needs an empty scratch Redis database: it writes states and samples there")
    recorder = ValueRecorder(archive_root, step_s)
    service = EngineService(client, None, tree, catalog, consumer="backfill", values=recorder)
    city = SimulatedCity(tree, registry(), seed=seed)
    out = Backfill(0, 0, [], [])
    for now in np.arange(start, end, step_s).tolist():
        samples = city.samples(now)
        store.append_samples(client, "simulator", samples)
        t0 = time.perf_counter()
        service.tick(now)
        out.tick_s.append(time.perf_counter() - t0)
        out.write_s.append(recorder.last_write_s)
        store.trim_samples(client)  # scored and acknowledged: a day of the demo would otherwise fill memory
        out.steps += 1
        out.samples += len(samples)
    return out
