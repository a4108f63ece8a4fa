"""What outlives Redis, from each tick: state changes in the warnings log and, once per step, coarse history."""

from __future__ import annotations

import numpy as np
from sqlalchemy.engine import Engine as SqlEngine

from indicators import health
from indicators.engine import Engine, TickResult
from indicators.history import DomainHistory, append_history, log_transitions, unlogged, utc
from indicators.states import State


class SqlRecorder:
    """Log every transition; sample the history levels' values and domain scores every ``step_s``."""

    def __init__(self, sql: SqlEngine, levels: tuple[str, ...], step_s: float, retention_s: float) -> None:
        self.sql, self.levels, self.step_s, self.retention_s = sql, levels, step_s, retention_s
        self._next_history = 0.0

    def catch_up(self, warnings: list[dict]) -> None:
        """Log the warnings a previous engine wrote to Redis but died before logging."""
        log_transitions(self.sql, unlogged(self.sql, warnings))

    def record(self, engine: Engine, result: TickResult, now: float) -> None:
        """Write transitions to the warnings log and, once per history step, coarse history."""
        log_transitions(self.sql, [
            {"at": utc(t.at), "indicator": t.indicator, "level": t.level, "area": t.area,
             "from_state": t.from_state, "to_state": t.to_state,
             "value": t.value if np.isfinite(t.value) else None, "yellow": t.yellow, "red": t.red}
            for t in result.transitions])
        if now >= self._next_history:
            self._next_history = now + self.step_s
            rows = [
                {"at": utc(now), "indicator": ind, "area": area,
                 "value": float(lv.value[r, c]) if np.isfinite(lv.value[r, c]) else None,
                 "state": State(lv.state[r, c]).label}
                for level in self.levels for lv in [result.levels[level]]
                for c, area in enumerate(lv.area_ids) for r, ind in enumerate(engine.ind_ids)
            ]
            append_history(self.sql, rows, self.retention_s, now)
            append_history(self.sql, self._domain_rows(engine, result, now), self.retention_s, now, DomainHistory)

    def _domain_rows(self, engine: Engine, result: TickResult, now: float) -> list[dict]:
        """Domain scores and health index of the history levels' areas, for the tiles' sparklines."""
        c = engine.compiled
        rows = []
        for level in self.levels:
            lv = result.levels[level]
            for domain, scores in health.domain_scores(lv.state, lv.judged, c.tiers, c.groups, c.weights).items():
                rows += [{"at": utc(now), "area": a, "domain": domain, "score": s}
                         for a, s in zip(lv.area_ids, scores, strict=True)]
        return rows
