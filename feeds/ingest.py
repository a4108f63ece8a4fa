"""The one way samples enter the store: validate each item, keep the good, dead-letter the bad.

When Redis does not answer, an Ingestor holds what it could not write (bounded, in memory) and a
background thread resends it with exponential backoff, in order, once Redis is back. Every batch
carries an id that stays the same on a resend, so a write that reached Redis before its reply was
lost is scored once. What overflows the buffer is dropped oldest first, logged and counted in the
feed's health (``overflowed``).
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import redis
from redis.backoff import ExponentialWithJitterBackoff

from cityvitals import store
from cityvitals.areas.model import GridLocator
from cityvitals.metrics import Metric

log = logging.getLogger(__name__)
FUTURE_TOLERANCE_S = 300.0  # a clock this far ahead of ours is wrong, not early
BUFFER_LIMIT = 200_000  # samples and refusals held per feed while Redis is away (about 40 MB)
RATE_WINDOW_S = 60.0  # the health record's rate is over this window
STORE_ERRORS = (redis.RedisError, OSError)


@dataclass(frozen=True)
class Refusal:
    """One refused item: its position in the submitted batch and why."""

    index: int
    reason: str


@dataclass
class IngestResult:
    """Outcome of one submission: ``accepted`` items are in Redis, or ``held`` of them in the buffer."""

    accepted: int = 0
    refused: list[Refusal] = field(default_factory=list)
    held: int = 0


_NUMBER = (int, float)


def check_item(item: Any, metrics: Mapping[str, Metric], grids: Collection[str], now: float) -> store.Sample | str:
    """Return the sample an item describes, or the reason it is refused."""
    if type(item) is dict:  # the common case, checked without the slower generic tests (same rules)
        metric, area, ts, value = item.get("metric"), item.get("area"), item.get("ts"), item.get("value")
        m = metrics.get(metric) if type(metric) is str else None
        if (m is not None and type(area) is str and area in grids and type(ts) in _NUMBER
                and type(value) in _NUMBER and math.isfinite(ts) and math.isfinite(value)
                and m.min <= value <= m.max and ts <= now + FUTURE_TOLERANCE_S):
            return store.Sample(metric, area, float(ts), float(value))
    return _refusal_or_sample(item, metrics, grids, now)


def _refusal_or_sample(item: Any, metrics: Mapping[str, Metric], grids: Collection[str],
                       now: float) -> store.Sample | str:
    """Check an item field by field, saying what is wrong first."""
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


@dataclass
class Batch:
    """What one submission writes: good samples and refusals (reason, item), under one batch id."""

    bid: str
    samples: list[store.Sample]
    dead: list[tuple[str, str]]

    def size(self) -> int:
        """Samples and refusals together: what the buffer bound counts."""
        return len(self.samples) + len(self.dead)


class Ingestor:
    """Validate and store samples for one feed, keeping its health record up to date."""

    def __init__(self, client: redis.Redis, feed: str, metrics: Mapping[str, Metric], grids: Collection[str],
                 clock: Callable[[], float] = time.time, simulated: bool = False,
                 buffer_limit: int = BUFFER_LIMIT, locator: GridLocator | None = None) -> None:
        self.client, self.feed, self.metrics, self.grids, self.clock = client, feed, metrics, grids, clock
        self.buffer_limit, self.locator = buffer_limit, locator
        self.health: dict[str, Any] = {"accepted": 0, "refused": 0, "last_sample": None, "last_ok": None,
                                       "outside": 0, "rate": 0.0, "lag_s": None, "buffered": 0, "overflowed": 0,
                                       "store_errors": 0, "last_error": None, "simulated": simulated}
        self._lock = threading.Lock()
        self._buffer: deque[Batch] = deque()
        self._held = 0  # in the buffer; batches being resent are ``_inflight`` until written or returned
        self._inflight = 0
        self._retrying: threading.Thread | None = None
        self._recent: deque[tuple[float, int]] = deque()  # (time, samples written) within the rate window
        self._ids = count()
        self._id_prefix = f"{feed}-{os.getpid()}-{int(time.time() * 1000) % 10**9}"
        self.backoff = ExponentialWithJitterBackoff(cap=5.0, base=0.05)

    def submit(self, items: Sequence[Any], hold: bool = True,
               where: Callable[[int], str] | None = None) -> IngestResult:
        """Store the valid items, refuse the others with reasons; one bad item never drops the rest.

        With ``hold`` (the default) a Redis outage puts the batch in the buffer; without it the
        Redis error is raised, for sources that redeliver on their own (an MQTT broker).
        ``where(i)`` names item i's place in its source (``row 12``) at the head of its reason.
        """
        now = self.clock()
        result = IngestResult()
        good: list[store.Sample] = []
        bad: list[tuple[str, str]] = []
        located = self._locate(items)
        for i, item in enumerate(items):
            checked = located.get(i) or check_item(item, self.metrics, self.grids, now)
            if isinstance(checked, str):
                checked = f"{where(i)}: {checked}" if where else checked
                result.refused.append(Refusal(i, checked))
                bad.append((checked, dump_item(item)))
            else:
                good.append(checked)
        result.accepted = len(good)
        result.held = len(good) if self._deliver(good, bad, hold) else 0
        return result

    def _locate(self, items: Sequence[Any]) -> dict[int, store.Sample | str]:
        """Check the items that carry a point (lon, lat) instead of an area, looking up all points at once."""
        at = [i for i, item in enumerate(items) if not (type(item) is dict and "area" in item)  # the common case
              and isinstance(item, Mapping) and "area" not in item and ("lon" in item or "lat" in item)]
        if not at:
            return {}
        out: dict[int, store.Sample | str] = {}
        points = []
        for i in at:
            lon, lat = items[i].get("lon"), items[i].get("lat")
            ok = all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in (lon, lat))
            if self.locator is None:
                out[i] = f"feed {self.feed} takes area ids, not points (lon, lat)"
            elif not ok:
                out[i] = f"lon and lat must be finite numbers, got {lon!r}, {lat!r}"
            else:
                points.append((i, lon, lat))
        if points:
            grids = self.locator.locate([p[1] for p in points], [p[2] for p in points])
            for (i, lon, lat), grid in zip(points, grids.tolist(), strict=True):
                if grid is None:
                    out[i] = f"point ({lon!r}, {lat!r}) lies in no grid"
                    self.health["outside"] += 1
                else:
                    out[i] = check_item({**items[i], "area": grid}, self.metrics, self.grids, self.clock())
        return out

    def refuse(self, bad: list[tuple[str, str]], hold: bool = True) -> None:
        """Count and dead-letter input refused before it became an item (an unreadable line, say)."""
        if bad:
            self._deliver([], bad, hold)

    def drain(self, timeout: float) -> bool:
        """Wait until the buffer is written (True) or ``timeout`` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        while self.buffered():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def buffered(self) -> int:
        """Samples and refusals waiting in the buffer (or being resent) now."""
        with self._lock:
            return self._held + self._inflight

    def _deliver(self, samples: list[store.Sample], dead: list[tuple[str, str]], hold: bool) -> bool:
        """Write a batch now, or hold it while older ones wait; True if it was held."""
        batch = Batch(f"{self._id_prefix}-{next(self._ids)}", samples, dead)
        with self._lock:
            self.health["refused"] += len(dead)
            if (self._held or self._inflight) and hold:  # older batches are waiting: keep the order
                self._hold([batch])
                return True
        try:
            self._write([batch])
        except STORE_ERRORS as exc:
            self._note_error(exc)
            if not hold:
                raise
            with self._lock:
                self._hold([batch])
                self._start_retrying()
            return True
        return False

    def _write(self, batches: list[Batch]) -> None:
        """Write batches, dead letters and the health record in one round trip."""
        now = self.clock()
        samples = [s for b in batches for s in b.samples]
        pipe = self.client.pipeline(transaction=False)
        for b in batches:
            store.queue_samples(pipe, self.feed, b.samples, bid=b.bid)
            store.queue_dead_letters(pipe, self.feed, b.dead)
        with self._lock:
            health = self._health_after(samples, now, self._held)
        store.write_feed_health(pipe, self.feed, health)
        pipe.execute()
        with self._lock:
            self._recent.append((now, len(samples)))
            self.health.update({k: health[k] for k in ("last_sample", "last_ok", "rate", "lag_s")},
                               accepted=self.health["accepted"] + len(samples))

    def _health_after(self, samples: list[store.Sample], now: float, buffered: int) -> dict[str, Any]:
        """The health record as it will be once ``samples`` are written at ``now``."""
        h = dict(self.health, accepted=self.health["accepted"] + len(samples), buffered=buffered)
        if samples:
            h["last_sample"] = max(h["last_sample"] or -math.inf, max(s.ts for s in samples))
            h["last_ok"] = now
        while self._recent and self._recent[0][0] < now - RATE_WINDOW_S:
            self._recent.popleft()
        h["rate"] = round((sum(n for _, n in self._recent) + len(samples)) / RATE_WINDOW_S, 3)
        h["lag_s"] = None if h["last_sample"] is None else round(now - h["last_sample"], 3)
        return h

    def _note_error(self, exc: Exception) -> None:
        with self._lock:
            self.health["store_errors"] += 1
            self.health["last_error"] = f"{type(exc).__name__}: {exc}"[:300]

    def _hold(self, batches: list[Batch], returned: bool = False) -> None:
        """Buffer batches (the lock is held); past the limit drop the oldest, count and say so.

        ``returned`` batches came back from a failed resend: they go first (and are the first dropped).
        """
        if returned:
            self._buffer.extendleft(reversed(batches))
            self._inflight = 0
        else:
            self._buffer.extend(batches)
        self._held += sum(b.size() for b in batches)
        dropped = 0
        while self._held > self.buffer_limit and self._buffer:
            oldest = self._buffer.popleft()
            self._held -= oldest.size()
            dropped += oldest.size()
        if dropped:
            self.health["overflowed"] += dropped
            log.error("feed %s: buffer of %d full while Redis is away; dropped the %d oldest samples/refusals "
                      "(%d dropped so far)", self.feed, self.buffer_limit, dropped, self.health["overflowed"])
        self.health["buffered"] = self._held

    def _start_retrying(self) -> None:
        """Start the resending thread unless it runs (the lock is held)."""
        if self._retrying is None or not self._retrying.is_alive():
            log.warning("feed %s: Redis unavailable, buffering (%s)", self.feed, self.health["last_error"])
            self._retrying = threading.Thread(target=self._resend, name=f"{self.feed}-resend", daemon=True)
            self._retrying.start()

    def _resend(self) -> None:
        """Write the buffer oldest first, backing off while Redis stays away; end when it is empty."""
        failures = 0
        while True:
            with self._lock:
                if not self._buffer:
                    self._retrying = None
                    break
                batches = [self._buffer.popleft() for _ in range(min(50, len(self._buffer)))]
                self._inflight = sum(b.size() for b in batches)
                self._held -= self._inflight
            try:
                self._write(batches)
            except STORE_ERRORS as exc:
                self._note_error(exc)
                with self._lock:
                    self._hold(batches, returned=True)
                failures += 1
                time.sleep(self.backoff.compute(failures))
                continue
            with self._lock:
                self._inflight = 0
                self.health["buffered"] = self._held
        log.info("feed %s: Redis back, buffer delivered after %d failed attempts", self.feed, failures)


def dump_item(item: Any) -> str:
    """The item as text for the dead-letter stream (JSON where it can be)."""
    try:
        return json.dumps(item, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(item)
