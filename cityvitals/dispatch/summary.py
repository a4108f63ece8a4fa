"""Figures of the dispatch loop: today's funnel, seconds per hop, overdue tasks by unit, the closure rate.

Read from the task and event tables; a task counts at a step once (its first time there), so a
reopened task is not counted twice as handled.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from sqlalchemy import or_, select
from sqlalchemy.engine import Engine as SqlEngine

from cityvitals.dispatch.sql import TaskEventRow, TaskRow

FUNNEL = ("dispatched", "signed", "handled", "verified", "closed")
HOPS = (("sign", "dispatched", "signed"), ("handle", "signed", "handled"), ("verify", "handled", "verified"),
        ("close", "verified", "closed"))
WEEK = 7 * 86400.0


@dataclass(frozen=True)
class Summary:
    """The dispatch panel's figures at one time."""

    funnel: dict[str, int]  # tasks reaching each step since the day began
    hop_median_s: dict[str, float | None]  # median seconds of each hop finished since the day began
    overdue_by_unit: dict[str, int]  # open tasks past their deadline, by the unit holding them
    closure_rate: float | None  # percent of the tasks due in the last week that are closed (None: none due)
    due_week: int  # how many tasks were due in the last week


def _first_times(sql: SqlEngine, since: float) -> dict[int, dict[str, float]]:
    """For each task with an event since ``since``: the first time it reached each funnel step."""
    e = TaskEventRow.__table__
    touched = select(e.c.task_id).where(e.c.at >= since)
    query = select(e.c.task_id, e.c.step, e.c.at).where(e.c.task_id.in_(touched), e.c.step.in_(FUNNEL)).order_by(e.c.id)
    firsts: dict[int, dict[str, float]] = {}
    with sql.connect() as conn:
        for task_id, step, at in conn.execute(query):
            firsts.setdefault(task_id, {}).setdefault(step, at)
    return firsts


def summarise(sql: SqlEngine, now: float, day_start: float) -> Summary:
    """The figures at ``now``, ``today`` beginning at ``day_start``."""
    firsts = _first_times(sql, day_start)
    funnel = {s: sum(1 for f in firsts.values() if day_start <= f.get(s, -1.0) <= now) for s in FUNNEL}
    hops: dict[str, float | None] = {}
    for name, start, end in HOPS:
        spans = [f[end] - f[start] for f in firsts.values() if start in f and end in f and f[end] >= day_start]
        hops[name] = float(np.median(spans)) if spans else None
    t = TaskRow.__table__
    with sql.connect() as conn:
        late = conn.execute(select(t.c.unit).where(t.c.status.in_(("dispatched", "signed", "returned")),
                                                   or_(t.c.due < now, t.c.hop_due < now))).scalars().all()
        due = conn.execute(select(t.c.status).where(t.c.due <= now, t.c.due > now - WEEK)).scalars().all()
    closed = sum(1 for s in due if s == "closed")
    return Summary(funnel, hops, dict(Counter(late).most_common()),
                   100.0 * closed / len(due) if due else None, len(due))
