"""Drive the real engine on a virtual clock: samples in, a tick at each chosen time, warnings out.

For measurements and backtests: nothing waits for the wall clock, so a simulated day or a day of
recorded history runs in minutes. Samples go through the stream and the engine's consumer group as
a feed's would (:meth:`ClockRunner.step`); transitions land in the SQL warnings log as in production.
:class:`ChangeFilter` turns a full picture per tick (metric -> value per area) into the samples a
feed that reports on change would send: values that moved, and each unchanged one again before it
would go stale. :meth:`ClockRunner.run` drives the engine through the batches of recorded samples
that ``indicators/ticks.py`` cuts, and keeps the state timeline (``indicators/timeline.py``) of
every (indicator, area).
"""

from __future__ import annotations

import math
import signal
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import redis
from sqlalchemy import select
from sqlalchemy.engine import Engine as SqlEngine

from cityvitals import malloc, store
from cityvitals.areas import AreaTree
from cityvitals.db import create_schema
from indicators.compiled import compile_catalog
from indicators.engine import Engine, TickResult
from indicators.forecast import EarlyWarnings
from indicators.history import WarningLog
from indicators.loader import Catalog
from indicators.service import EngineService, TickReport
from indicators.sql_recorder import SqlRecorder
from indicators.ticks import Row, columns_of
from indicators.timeline import Timeline

ENTRY_SAMPLES = 5000  # samples per stream entry: fewer, larger entries for a whole picture per tick


@dataclass
class RunReport:
    """How far a run got: ticks done, samples sent, the last tick's time, and whether it was stopped."""

    ticks: int = 0
    samples: int = 0
    last: float = math.nan
    stopped: bool = False


class ClockRunner:
    """One engine (Redis and SQL of its own) ticked at the times it is given.

    With a Redis client it runs the whole engine service: samples through the stream and its
    consumer group, states, summaries and the ticker written to that Redis (``ticker`` reads it).
    Without one (``client=None``, what a backtest uses) it runs the same engine and warnings log
    with nothing written to any Redis: the samples go straight in as the service would put them
    (the stream's text keeps every float exactly), and the engine keeps no records to write
    (``Engine(records=False)``): about 10 times faster at 502 grids.
    """

    def __init__(self, client: redis.Redis | None, sql: SqlEngine, tree: AreaTree, catalog: Catalog,
                 source: str = "runner", timeline: bool = False, profiles: Collection[str] = (),
                 history_levels: tuple[str, ...] = ()) -> None:
        create_schema(sql)
        malloc.keep_freed_memory()  # a tick's arrays come from memory already held, not fresh pages
        self.client, self.sql, self.tree, self.source = client, sql, tree, source
        self.timeline = Timeline(tree) if timeline else None
        self.service: EngineService | None = None
        if client is None:
            self.engine = Engine(tree, compile_catalog(catalog), records=False)
            self.engine.switched_on = set(profiles)
            self.recorder = SqlRecorder(sql, (), float("inf"), 7 * 86400.0)
            self._early = EarlyWarnings(self.engine, keep_log=True)
        else:  # by default only the warnings log: coarse history every minute is most of a simulated day's cost
            self.service = EngineService(client, sql, tree, catalog, consumer="runner", history_levels=history_levels,
                                         history_step_s=60.0 if history_levels else float("inf"), early_log=True)
            for name in profiles:
                store.switch_profile(client, name, True)

    def step(self, now: float, samples: Sequence[Row] | store.Columns) -> TickReport:
        """Give the engine ``samples`` and tick it at ``now`` (through the stream, with a client)."""
        rows = None  # per level, the rows whose states can have moved (None: any)
        if self.service is None:
            report, result = self._step_alone(now, samples)
            rows = {level: r.rows for level, r in result.levels.items()}
        else:
            report = self._step_through_redis(now, _rows(samples))
        if self.timeline is not None:
            eng = self.engine if self.service is None else self.service.engine
            self.timeline.record(now, eng.ind_ids, {level: track.state for level, track in eng.tracks.items()}, rows)
        return report

    def _step_through_redis(self, now: float, samples: Sequence[Row]) -> TickReport:
        """Append ``samples`` to the stream, tick the service at ``now``, then drop what it consumed."""
        assert self.client is not None and self.service is not None
        pipe = self.client.pipeline(transaction=False)
        store.queue_samples(pipe, self.source, samples, batch=ENTRY_SAMPLES)
        pipe.execute()
        report = self.service.tick(now)
        if report.entries >= -(-len(samples) // ENTRY_SAMPLES):  # all read and acknowledged: keep the stream short
            store.trim_samples(self.client)
        return report

    def _step_alone(self, now: float, samples: Sequence[Row] | store.Columns) -> tuple[TickReport, TickResult]:
        """Ingest ``samples`` and tick the engine at ``now``; log its transitions, as the service does."""
        cols = samples if isinstance(samples, store.Columns) else columns_of(samples)
        report = TickReport(samples=len(cols.metric))
        if report.samples:
            stats = self.engine.ingest_columns(cols, self.source)
            report.late, report.duplicates = stats.late, stats.duplicate
        self.engine.take_touched()  # what the service would write to Redis: nothing to write here
        result = self.engine.tick(now)
        self.recorder.record(self.engine, result, now)
        self._early.update(result)
        report.transitions = len(result.transitions)
        return report, result

    @property
    def early(self) -> EarlyWarnings:
        """The early warnings of the catalog's forecast rules, with their log (``EarlyWarnings.frame``)."""
        return self._early if self.service is None else self.service.early

    def run(self, batches: Iterable[tuple[float, Sequence[Row] | store.Columns]],
            progress: Callable[[RunReport], None] | None = None, every: int = 1000) -> RunReport:
        """Step through ``batches`` (tick time, samples); Ctrl-C ends the run, whose report counts whole ticks only.

        ``progress`` is called every ``every`` ticks with the report so far.
        """
        done = RunReport()
        with ctrl_c_asked() as asked:
            try:
                for now, samples in batches:
                    if asked.is_set():
                        break
                    report = self.step(now, samples)
                    done.ticks, done.samples, done.last = done.ticks + 1, done.samples + report.samples, now
                    if progress is not None and done.ticks % every == 0:
                        progress(done)
            except KeyboardInterrupt:  # a second Ctrl-C: what was ticked so far stands all the same
                asked.set()
        done.stopped = asked.is_set()
        return done

    def transitions(self) -> pd.DataFrame:
        """The warnings log so far: at (Unix s), indicator, level, area, from_state, to_state."""
        with self.sql.connect() as conn:
            rows = conn.execute(select(WarningLog.at, WarningLog.indicator, WarningLog.level, WarningLog.area,
                                       WarningLog.from_state, WarningLog.to_state).order_by(WarningLog.id)).all()
        frame = pd.DataFrame(rows, columns=["at", "indicator", "level", "area", "from_state", "to_state"])
        frame["at"] = [t.timestamp() for t in frame["at"]] if len(frame) else pd.Series(dtype=float)
        return frame


@contextmanager
def ctrl_c_asked() -> Iterator[threading.Event]:
    """An event set by Ctrl-C while the block runs; a second Ctrl-C raises KeyboardInterrupt as usual.

    A KeyboardInterrupt raised in the middle of a tick can be lost: numpy, probing an operand such as
    an IntEnum member for its array attributes, clears whatever exception Python code raised meanwhile
    (seen as a backtest ticking on after Ctrl-C, about one run in three). A flag read between ticks is
    never lost. Outside the main thread (no signal reaches it) the event is only a flag.
    """
    asked = threading.Event()
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield asked
        return

    def ask(_signum: int, _frame: object) -> None:
        if asked.is_set():
            raise KeyboardInterrupt
        asked.set()

    signal.signal(signal.SIGINT, ask)
    try:
        yield asked
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _rows(samples: Sequence[Row] | store.Columns) -> Sequence[Row]:
    if isinstance(samples, store.Columns):
        return list(zip(samples.metric, samples.area, samples.ts.tolist(), samples.value.tolist(), strict=True))
    return samples


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
