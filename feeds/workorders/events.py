"""Work-order events and their lifecycle: what an event must look like and which step may follow which.

An event is one step of one order: ``{"order", "source", "area", "step", "ts"}`` plus, optionally,
``satisfied`` (true/false, the requester's rating) and ``resolved`` (``grid``, ``escalated`` or
``enforcement``: who solved it). ``ts`` is Unix seconds or an ISO 8601 time with its zone.
Steps go forward only (received → dispatched → signed → handled → verified → closed); a step may be
skipped (a hotline agent who answers on the phone closes at once), never repeated or gone back to.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cityvitals.text import shown, text_problem
from feeds.ingest import as_float, time_problem

STEPS = ("received", "dispatched", "signed", "handled", "verified", "closed")
STEP_INDEX = {s: i for i, s in enumerate(STEPS)}
RESOLUTIONS = ("grid", "escalated", "enforcement")
# Hours from receipt by which an order must be closed, per source (our defaults, after common
# municipal rules: 12345 three days, digital city management one day, petitions the 15-day reply;
# tasks dispatched from the wall, cityvitals/dispatch/orders.py, a day: the routing table's inspect type).
DEADLINES_H: dict[str, float] = {"12345": 72.0, "grid_app": 48.0, "citymgmt": 24.0, "petition": 360.0, "110": 24.0,
                                 "dispatch": 24.0}
SOURCES = tuple(DEADLINES_H)
ORDER_LIMIT = 64  # characters of an order id


@dataclass(frozen=True)
class Event:
    """One checked step of one order."""

    order: str
    source: str
    area: str
    step: int
    ts: float
    satisfied: bool | None = None
    resolved: str | None = None


@dataclass(frozen=True)
class Order:
    """What the pipeline keeps of one order: where it comes from and when it reached each step."""

    source: str
    area: str
    times: tuple[float | None, ...]
    satisfied: bool | None = None
    resolved: str | None = None

    @property
    def last_step(self) -> int:
        """Index of the furthest step reached."""
        return max(i for i, t in enumerate(self.times) if t is not None)

    def to_line(self) -> str:
        """The record as the store keeps it (one tab-separated line)."""
        times = ["" if t is None else repr(t) for t in self.times]
        sat = "" if self.satisfied is None else str(int(self.satisfied))
        return "\t".join([self.source, self.area, *times, sat, self.resolved or ""])

    @classmethod
    def from_line(cls, line: str) -> Order:
        """Read a record written by :meth:`to_line`."""
        source, area, *rest = line.split("\t")
        times = tuple(float(t) if t else None for t in rest[: len(STEPS)])
        sat, resolved = rest[len(STEPS):]
        return cls(source, area, times, None if sat == "" else sat == "1", resolved or None)


def _timestamp(ts: Any) -> float | str:
    if isinstance(ts, str):
        try:
            parsed = datetime.fromisoformat(ts[:64])
        except ValueError:
            return f"ts {shown(ts)} is neither Unix seconds nor an ISO 8601 time"
        if parsed.tzinfo is None:
            return f"ts {shown(ts)} has no time zone"
        return parsed.timestamp()
    if isinstance(ts, bool) or not isinstance(ts, (int, float)) or not math.isfinite(as_float(ts)):
        return f"ts must be a number or an ISO 8601 time, got {shown(ts)}"
    return float(ts)


def _one_of(value: Any, choices: Collection[str]) -> bool:
    return isinstance(value, str) and value in choices


def check_event(item: Any, grids: Collection[str], now: float) -> Event | str:
    """Return the event an item describes, or the reason it is refused (checks that need no state)."""
    if not isinstance(item, Mapping):
        return f"expected an object with order, source, area, step, ts; got {type(item).__name__}"
    missing = [k for k in ("order", "source", "area", "step", "ts") if k not in item]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    order, source, area, step = item["order"], item["source"], item["area"], item["step"]
    if text_problem(order, "order", ORDER_LIMIT):
        return f"order must be an id of 1 to {ORDER_LIMIT} printable characters, got {shown(order)}"
    if not _one_of(source, DEADLINES_H):
        return f"unknown source {shown(source)} (one of {', '.join(SOURCES)})"
    if not _one_of(area, grids):
        return f"unknown grid {shown(area)}"
    if not _one_of(step, STEP_INDEX):
        return f"unknown step {shown(step)} (one of {', '.join(STEPS)})"
    ts = _timestamp(item["ts"])
    if isinstance(ts, str):
        return ts
    problem = time_problem(ts, now)
    if problem:
        return problem
    satisfied, resolved = item.get("satisfied"), item.get("resolved")
    if satisfied is not None and not isinstance(satisfied, bool):
        return f"satisfied must be true or false, got {shown(satisfied)}"
    if resolved is not None and not _one_of(resolved, RESOLUTIONS):
        return f"resolved must be one of {', '.join(RESOLUTIONS)}, got {shown(resolved)}"
    return Event(order, source, area, STEP_INDEX[step], ts, satisfied, resolved)


def advance(order: Order | None, event: Event) -> Order | str:
    """The order after ``event``, or why the event does not fit the order's lifecycle."""
    step = STEPS[event.step]
    if order is None:
        if event.step != 0:
            return f"order {event.order!r}: {step} before received (no such order is open)"
        return Order(event.source, event.area, (event.ts,) + (None,) * (len(STEPS) - 1),
                     event.satisfied, event.resolved)
    if (order.source, order.area) != (event.source, event.area):
        return (f"order {event.order!r} was received from {order.source} in {order.area}, "
                f"not {event.source} in {event.area}")
    last = order.last_step
    if order.times[event.step] is not None:
        return f"duplicate: order {event.order!r} was already {step} at {order.times[event.step]!r}"
    if event.step < last:
        return f"order {event.order!r}: {step} out of lifecycle order (already {STEPS[last]})"
    if event.ts < order.times[last]:
        return (f"order {event.order!r}: time goes backwards: {step} at {event.ts!r} "
                f"before {STEPS[last]} at {order.times[last]!r}")
    times = order.times[: event.step] + (event.ts,) + order.times[event.step + 1:]
    return replace(order, times=times,
                   satisfied=order.satisfied if event.satisfied is None else event.satisfied,
                   resolved=event.resolved or order.resolved)
