"""Drive the real engine on a virtual clock: samples in, a tick at each chosen time, warnings out.

For measurements and backtests: nothing waits for the wall clock, so a simulated day or a day of
recorded history runs in minutes. Samples go through the stream and the engine's consumer group as
a feed's would (:meth:`ClockRunner.step`); transitions land in the SQL warnings log as in production.
:class:`ChangeFilter` turns a full picture per tick (metric -> value per area) into the samples a
feed that reports on change would send: values that moved, and each unchanged one again before it
would go stale. :func:`tick_batches` cuts recorded samples (the archive's, a replayed file's) into
the batches of a tick length; :meth:`ClockRunner.run` drives the engine through them and keeps the
state timeline (``indicators/timeline.py``) of every (indicator, area).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import redis
from sqlalchemy import select
from sqlalchemy.engine import Engine as SqlEngine

from cityvitals import store
from cityvitals.areas import AreaTree
from cityvitals.db import create_schema
from indicators.history import WarningLog
from indicators.loader import Catalog
from indicators.service import EngineService, TickReport
from indicators.timeline import Timeline

ENTRY_SAMPLES = 5000  # samples per stream entry: fewer, larger entries for a whole picture per tick
Row = tuple[str, str, float, float]  # metric, area, ts, value


@dataclass
class RunReport:
    """How far a run got: ticks done, samples sent, the last tick's time, and whether it was stopped."""

    ticks: int = 0
    samples: int = 0
    last: float = math.nan
    stopped: bool = False


class ClockRunner:
    """One engine (Redis and SQL of its own) ticked at the times it is given."""

    def __init__(self, client: redis.Redis, sql: SqlEngine, tree: AreaTree, catalog: Catalog,
                 source: str = "runner", timeline: bool = False) -> None:
        create_schema(sql)
        self.client, self.sql, self.tree, self.source = client, sql, tree, source
        self.timeline = Timeline(tree) if timeline else None
        # Only the warnings log: coarse history every minute would be most of a simulated day's cost.
        self.service = EngineService(client, sql, tree, catalog, consumer="runner", history_levels=(),
                                     history_step_s=float("inf"))

    def step(self, now: float, samples: Sequence[tuple[str, str, float, float]]) -> TickReport:
        """Append ``samples`` to the stream, tick the engine at ``now``, then drop what it consumed."""
        pipe = self.client.pipeline(transaction=False)
        store.queue_samples(pipe, self.source, samples, batch=ENTRY_SAMPLES)
        pipe.execute()
        report = self.service.tick(now)
        if report.entries >= -(-len(samples) // ENTRY_SAMPLES):  # all read and acknowledged: keep the stream short
            store.trim_samples(self.client)
        if self.timeline is not None:
            eng = self.service.engine
            self.timeline.record(now, eng.ind_ids, {level: track.state for level, track in eng.tracks.items()})
        return report

    def run(self, batches: Iterable[tuple[float, Sequence[Row]]],
            progress: Callable[[RunReport], None] | None = None, every: int = 1000) -> RunReport:
        """Step through ``batches`` (tick time, samples); Ctrl-C stops after the tick in progress, not mid-tick.

        ``progress`` is called every ``every`` ticks with the report so far.
        """
        done = RunReport()
        try:
            for now, samples in batches:
                self.step(now, samples)
                done.ticks, done.samples, done.last = done.ticks + 1, done.samples + len(samples), now
                if progress is not None and done.ticks % every == 0:
                    progress(done)
        except KeyboardInterrupt:  # what was ticked so far stands; the caller reports it as a stopped run
            done.stopped = True
        return done

    def ticker(self, count: int) -> list[dict]:
        """The first ``count`` rows of the whole district's ticker."""
        return store.read_ticker(self.client, self.tree.root.id, count)

    def transitions(self) -> pd.DataFrame:
        """The warnings log so far: at (Unix s), indicator, level, area, from_state, to_state."""
        with self.sql.connect() as conn:
            rows = conn.execute(select(WarningLog.at, WarningLog.indicator, WarningLog.level, WarningLog.area,
                                       WarningLog.from_state, WarningLog.to_state).order_by(WarningLog.id)).all()
        frame = pd.DataFrame(rows, columns=["at", "indicator", "level", "area", "from_state", "to_state"])
        frame["at"] = [t.timestamp() for t in frame["at"]] if len(frame) else pd.Series(dtype=float)
        return frame


def tick_batches(chunks: Iterable[tuple[pd.DataFrame, float]], start: float, end: float,
                 tick_s: float) -> Iterator[tuple[float, list[Row]]]:
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
    for frame, until in [*chunks, (None, math.inf)]:
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
         ) -> Iterator[tuple[float, list[Row]]]:
    """Ticks ``first..last`` (numbers from ``start``) with their samples of ``frame``, in time order."""
    if frame is None or not len(frame):
        for k in range(first, last + 1):
            yield start + k * tick_s, []
        return
    frame = frame.sort_values("ts", kind="stable")
    ts = frame["ts"].to_numpy(dtype=float)
    tick = np.maximum(np.ceil((ts - start) / tick_s - 1e-9), 1).astype(np.int64)
    rows = list(zip(frame["metric"].astype(str).tolist(), frame["area"].astype(str).tolist(), ts.tolist(),
                    frame["value"].to_numpy(dtype=float).tolist(), strict=True))
    bounds = np.searchsorted(tick, np.arange(first, last + 2), side="left")
    for k in range(first, last + 1):
        yield start + k * tick_s, rows[bounds[k - first]:bounds[k - first + 1]]


class ChangeFilter:
    """The samples a report-on-change feed sends: what moved, and what did not every ``refresh_s`` or so."""

    def __init__(self, area_ids: Sequence[str], refresh_s: float = 600.0, seed: int = 0) -> None:
        self.area_ids = np.array(area_ids, dtype=object)
        self.refresh_s = refresh_s
        # Spread the refreshes over the interval, as independent devices would.
        self.offset = np.random.default_rng(seed).uniform(0.0, refresh_s, len(area_ids))
        self._sent: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # metric -> (value, time) last sent per area

    def samples(self, now: float, values: Mapping[str, np.ndarray]) -> list[tuple[str, str, float, float]]:
        """The samples to send at ``now`` for the full picture ``values`` (NaN: not measured there)."""
        out: list[tuple[str, str, float, float]] = []
        for metric, value in values.items():
            last, when = self._sent.get(metric, (np.full(value.size, np.nan), now - self.offset - self.refresh_s))
            send = np.isfinite(value) & ((value != last) | (now - when >= self.refresh_s))
            idx = np.flatnonzero(send)
            if idx.size:
                last, when = last.copy(), when.copy()
                last[idx], when[idx] = value[idx], now
                out += zip([metric] * idx.size, self.area_ids[idx].tolist(), [now] * idx.size,
                           value[idx].tolist(), strict=True)
            self._sent[metric] = (last, when)
        return out
