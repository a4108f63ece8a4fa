"""Every indicator's value and state at every level, once per step, into the value archive (Parquet).

SQL keeps one-minute history for the district and the streets only; this keeps all levels, grids
included, at a coarser step, so trends, comparisons and detail history read it at any level.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

from cityvitals.archive.values import STEP_S, maintain, values_root, write_step
from cityvitals.outage import Outage
from indicators.engine import Engine, TickResult

log = logging.getLogger(__name__)
MAINTAIN_EVERY_S = 600.0  # merge step files and expire old days this often (cheap: a few small files)


class ValueRecorder:
    """Write the levels' value and state matrices every ``step_s``; a disk error is logged once, not raised."""

    def __init__(self, archive_root: Path, step_s: float = STEP_S, keep_days: float = 90.0) -> None:
        self.root, self.step_s, self.keep_days = values_root(archive_root), step_s, keep_days
        self._next = 0.0
        self._maintained = -float("inf")
        self.outage = Outage(log)
        self.files_written = 0
        self.last_write_s = 0.0  # seconds the last step's files took (the benchmark's number)

    def record(self, engine: Engine, result: TickResult, now: float) -> None:
        """At the first tick of each step, write every level's values and states (steps aligned to the clock)."""
        if now < self._next:
            return
        self._next = (now // self.step_s + 1) * self.step_s
        t0 = time.perf_counter()
        try:
            for lv in result.levels.values():
                if write_step(self.root, now, lv.level, engine.ind_ids, lv.area_ids, lv.value, lv.state):
                    self.files_written += 1
            if time.monotonic() - self._maintained > MAINTAIN_EVERY_S:
                maintain(self.root, self.keep_days, datetime.fromtimestamp(now, UTC))
                self._maintained = time.monotonic()
            self.last_write_s = time.perf_counter() - t0
        except OSError as exc:  # the live states matter more than the trend: keep ticking, say so once
            self.outage.failed("value archive: %s; the trend history has a gap until the disk takes writes", exc)
            return
        self.outage.worked("value archive: writing again")
