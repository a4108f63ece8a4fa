"""The one way samples enter the store: validate each item, keep the good, dead-letter the bad."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis

from cityvitals import store
from cityvitals.metrics import Metric

FUTURE_TOLERANCE_S = 300.0  # a clock this far ahead of ours is wrong, not early


@dataclass(frozen=True)
class Refusal:
    """One refused item: its position in the submitted batch and why."""

    index: int
    reason: str


@dataclass
class IngestResult:
    """Outcome of one submission."""

    accepted: int = 0
    refused: list[Refusal] = field(default_factory=list)


def check_item(item: Any, metrics: Mapping[str, Metric], grids: Collection[str], now: float) -> store.Sample | str:
    """Return the sample an item describes, or the reason it is refused."""
    if not isinstance(item, Mapping):
        return f"expected an object with metric, area, ts, value; got {type(item).__name__}"
    missing = [k for k in ("metric", "area", "ts", "value") if k not in item]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    metric, area, ts, value = item["metric"], item["area"], item["ts"], item["value"]
    if not isinstance(metric, str) or metric not in metrics:
        return f"unknown metric {metric!r}"
    if not isinstance(area, str) or area not in grids:
        return f"unknown area {area!r} (samples are per grid)"
    for name, x in (("ts", ts), ("value", value)):
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            return f"{name} must be a number, got {x!r}"
        if not math.isfinite(x):
            return f"{name} must be finite, got {x!r}"
    m = metrics[metric]
    if not m.min <= value <= m.max:
        return f"value {value!r} outside the possible range [{m.min:g}, {m.max:g}] of {metric}"
    if ts > now + FUTURE_TOLERANCE_S:
        return f"ts {ts!r} is {ts - now:.0f} s in the future (tolerance {FUTURE_TOLERANCE_S:.0f} s)"
    return store.Sample(metric, area, float(ts), float(value))


class Ingestor:
    """Validate and store samples for one feed, keeping its health record up to date."""

    def __init__(self, client: redis.Redis, feed: str, metrics: Mapping[str, Metric], grids: Collection[str],
                 clock: Callable[[], float] = time.time, simulated: bool = False) -> None:
        self.client, self.feed, self.metrics, self.grids, self.clock = client, feed, metrics, grids, clock
        self.health: dict[str, Any] = {"accepted": 0, "refused": 0, "last_sample": None, "last_ok": None,
                                       "simulated": simulated}

    def submit(self, items: Sequence[Any]) -> IngestResult:
        """Store the valid items, refuse the others with reasons; one bad item never drops the rest."""
        now = self.clock()
        result = IngestResult()
        good: list[store.Sample] = []
        bad: list[tuple[str, str]] = []
        for i, item in enumerate(items):
            checked = check_item(item, self.metrics, self.grids, now)
            if isinstance(checked, str):
                result.refused.append(Refusal(i, checked))
                bad.append((checked, dump_item(item)))
            else:
                good.append(checked)
        result.accepted = store.append_samples(self.client, self.feed, good) if good else 0
        store.dead_letter(self.client, self.feed, bad)
        self._update_health(result, good, now)
        return result

    def refuse(self, bad: list[tuple[str, str]]) -> None:
        """Count and dead-letter input refused before it became an item (an unreadable line, say)."""
        if bad:
            store.dead_letter(self.client, self.feed, bad)
            self.health["refused"] += len(bad)
            store.write_feed_health(self.client, self.feed, self.health)

    def _update_health(self, result: IngestResult, good: list[store.Sample], now: float) -> None:
        h = self.health
        h["accepted"] += result.accepted
        h["refused"] += len(result.refused)
        if good:
            h["last_sample"] = max(s.ts for s in good)
            h["last_ok"] = now
        store.write_feed_health(self.client, self.feed, h)


def dump_item(item: Any) -> str:
    """The item as text for the dead-letter stream (JSON where it can be)."""
    try:
        return json.dumps(item, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(item)
