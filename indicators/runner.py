"""Drive the real engine on a virtual clock: samples in, a tick at each chosen time, warnings out.

For measurements and backtests: nothing waits for the wall clock, so a simulated day or a day of
recorded history runs in minutes. Samples go through the stream and the engine's consumer group as
a feed's would (:meth:`ClockRunner.step`); transitions land in the SQL warnings log as in production.
:class:`ChangeFilter` turns a full picture per tick (metric -> value per area) into the samples a
feed that reports on change would send: values that moved, and each unchanged one again before it
would go stale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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

ENTRY_SAMPLES = 5000  # samples per stream entry: fewer, larger entries for a whole picture per tick


class ClockRunner:
    """One engine (Redis and SQL of its own) ticked at the times it is given."""

    def __init__(self, client: redis.Redis, sql: SqlEngine, tree: AreaTree, catalog: Catalog,
                 source: str = "runner") -> None:
        create_schema(sql)
        self.client, self.sql, self.tree, self.source = client, sql, tree, source
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
        return report

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
