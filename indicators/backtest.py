"""Backtest a catalog: the real engine on a virtual clock over recorded samples, and the warnings it raises.

:func:`backtest` runs one catalog through :class:`indicators.runner.ClockRunner` without any Redis
and with a SQLite warnings log of its own in a scratch directory, so nothing a backtest does
reaches the live states, warnings or SQL log. The figures of a run (``indicators/backtest_report.py``)
and the difference between two catalogs are computed from what it returns.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cityvitals.areas import AreaTree
from cityvitals.db import make_engine
from indicators.forecast_report import forecast_figures
from indicators.loader import Catalog
from indicators.runner import ClockRunner, RunReport
from indicators.ticks import tick_batches

Chunks = Iterable[tuple[pd.DataFrame, float]]  # (samples, time before which the frame holds them all), in order


@dataclass
class Outcome:
    """One catalog's run: its span, how far it got, its state timeline and its warnings log."""

    catalog_version: str
    start: float
    end: float  # the last tick done (the requested end unless stopped)
    tick_s: float
    run: RunReport
    timeline: pd.DataFrame  # at, indicator, level, area, from_state, to_state: every change (indicators.timeline)
    warnings: pd.DataFrame  # the warnings log as the live engine writes it: same columns
    early: pd.DataFrame  # the early warnings' log (indicators.forecast.LOG_COLUMNS)
    forecasts: dict[str, dict]  # per forecast rule: lead time, hit rate, false early warnings (forecast_report)

    @property
    def hours(self) -> float:
        """Hours of data time the run covered."""
        return max(self.end - self.start, 0.0) / 3600


def backtest(tree: AreaTree, catalog: Catalog, chunks: Chunks, start: float, end: float, tick_s: float = 60.0,
             profiles: Collection[str] = (), progress: Callable[[RunReport], None] | None = None,
             every: int = 1000) -> Outcome:
    """Run ``catalog`` over the samples of ``chunks`` from ``start`` to ``end``, a tick every ``tick_s``.

    ``profiles`` are switched on as an operator would (``cityvitals profile on``). Ctrl-C stops it
    within a tick: the outcome then ends at the last tick completed (``run.stopped``).
    """
    with tempfile.TemporaryDirectory(prefix="cv-backtest-") as scratch:
        sql = make_engine(f"sqlite:///{Path(scratch) / 'warnings.sqlite'}")
        try:
            runner = ClockRunner(None, sql, tree, catalog, source="backtest", timeline=True, profiles=profiles)
            done = runner.run(tick_batches(chunks, start, end, tick_s), progress, every)
            assert runner.timeline is not None
            last = done.last if done.ticks else start
            log = runner.transitions()  # a tick cut short by Ctrl-C may have logged its transitions: not counted
            log = log[log["at"] <= last + 1e-3].reset_index(drop=True)
            early = runner.early.frame()
            early = early[early["at"] <= last + 1e-3].reset_index(drop=True)
            outcome = Outcome(catalog.version, start, last, tick_s, done, runner.timeline.frame(), log, early,
                              forecast_figures(catalog, early, log, start, last))
        finally:
            sql.dispose()
    return outcome
