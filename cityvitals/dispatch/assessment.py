"""Assessment (考核) per unit over a period, ranked, and written as CSV.

Received, signed on time, closed on time, returned, reopened, median time to sign and to close.

A unit *receives* a task each time one arrives there (dispatched, re-dispatched or escalated to it)
and signs it on time if it signs within the task type's minutes to sign. A task *closed on time* is
credited to the unit that handled it, when it closed by its deadline; *reopened* too goes to the unit
that held it. Time to close runs from the task's dispatch to its close.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.engine import Engine as SqlEngine

from cityvitals.dispatch.routing import Routing
from cityvitals.dispatch.sql import TaskEventRow, TaskRow

ARRIVALS = ("dispatched", "redispatched", "escalated")


@dataclass(frozen=True)
class UnitScore:
    """One unit's figures over the period."""

    unit: str
    received: int
    signed_on_time: int
    closed: int
    closed_on_time: int
    returned: int
    reopened: int
    median_sign_s: float | None
    median_close_s: float | None

    @property
    def on_time_rate(self) -> float | None:
        """Percent of received tasks signed on time."""
        return 100.0 * self.signed_on_time / self.received if self.received else None


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def _blank() -> dict:
    """A unit's running counts (0 until counted) and the spans its medians are taken over."""
    counts: dict = defaultdict(int)
    counts.update(sign=[], close=[])
    return counts


def assess(sql: SqlEngine, routing: Routing, start: float, end: float) -> list[UnitScore]:
    """Every unit with a task event in ``[start, end)``, best first (signed on time, then closed on time)."""
    e, t = TaskEventRow.__table__, TaskRow.__table__
    with sql.connect() as conn:
        tasks = {r.id: r for r in conn.execute(select(t.c.id, t.c.task_type, t.c.due, t.c.created_at))}
        events = conn.execute(select(e).where(e.c.at >= start, e.c.at < end).order_by(e.c.id)).mappings().all()
    figures: dict[str, dict] = defaultdict(_blank)
    arrived: dict[int, float] = {}
    handler: dict[int, str] = {}
    for ev in events:
        task, unit = tasks[ev["task_id"]], ev["unit"]
        if ev["step"] in ARRIVALS:
            figures[unit]["received"] += 1
            arrived[task.id] = ev["at"]
        elif ev["step"] == "signed" and task.id in arrived:
            waited = ev["at"] - arrived.pop(task.id)
            limit = routing.deadlines_s(task.task_type)[0] if task.task_type in routing.task_types else 0.0
            figures[unit]["sign"].append(waited)
            figures[unit]["signed_on_time"] += waited <= limit
        elif ev["step"] == "handled":
            handler[task.id] = unit
        elif ev["step"] == "closed":
            g = figures[handler.get(task.id, unit)]
            g["closed"] += 1
            g["closed_on_time"] += ev["at"] <= task.due
            g["close"].append(ev["at"] - task.created_at)
        elif ev["step"] == "returned":
            figures[ev["from_unit"] or unit]["returned"] += 1
        elif ev["step"] == "reopened":
            figures[unit]["reopened"] += 1
    scores = [UnitScore(unit, f["received"], f["signed_on_time"], f["closed"], f["closed_on_time"], f["returned"],
                        f["reopened"], _median(f["sign"]), _median(f["close"])) for unit, f in figures.items()]
    return sorted(scores, key=lambda s: (-(s.on_time_rate or 0.0), -s.closed_on_time, s.unit))


def scores_csv(scores: list[UnitScore], routing: Routing) -> str:
    """The scores as CSV text, one row per unit with its name."""
    out = io.StringIO()
    fields = ["rank", "unit", "name_zh", "name_en", *[k for k in asdict(scores[0]) if k != "unit"]] if scores else \
        ["rank", "unit"]
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for rank, s in enumerate(scores, start=1):
        unit = routing.unit(s.unit)
        writer.writerow({"rank": rank, **asdict(s), "name_zh": unit.name_zh if unit else "",
                         "name_en": unit.name_en if unit else ""})
    return out.getvalue()
