"""The one way samples enter the store: validate each item, keep the good, dead-letter the bad.

When Redis does not answer, an Ingestor holds what it could not write (bounded, in memory) and a
background thread resends it with exponential backoff, in order, once Redis is back. Every batch
carries an id that stays the same on a resend, so a write that reached Redis before its reply was
lost is scored once. What overflows the buffer is dropped oldest first, logged and counted in the
feed's health (``overflowed``); batches out on a resend attempt are dropped when it fails, so for the
length of one attempt the buffer can hold up to one attempt's worth more than its bound.

An Ingestor can be given a fence that every write goes through: a feed that only one of several
workers may send (a replay) writes only while its worker leads it (cityvitals/leader.py). When the
fence refuses, what is buffered is dropped, for the new leader sends it (a replay resumes at its
checkpoint).

Checking is done a batch at a time (:func:`check_items`, numpy over the columns): it is half of what
an adapter spends per sample otherwise, and the verdicts are those of :func:`check_item`.
"""

from __future__ import annotations

import json
import logging
import math
import operator
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import compress, count, repeat
from typing import Any, Protocol

import numpy as np
import pandas as pd
import redis
from redis.backoff import ExponentialWithJitterBackoff

from cityvitals import store
from cityvitals.areas.crs import CRS, to_wgs84
from cityvitals.areas.model import GridLocator
from cityvitals.metrics import Metric
from cityvitals.text import SURROGATE, shown
from feeds.reasons import reason_kind

log = logging.getLogger(__name__)
FUTURE_TOLERANCE_S = 300.0  # a clock this far ahead of ours is wrong, not early
EARLIEST_TS = 946_684_800.0  # 2000-01-01 UTC: earlier is a clock never set or a wrong unit, not history
BUFFER_LIMIT = 200_000  # samples and refusals held per feed while Redis is away (about 40 MB)
RATE_WINDOW_S = 60.0  # the health record's rate is over this window
STORE_ERRORS = (redis.RedisError, OSError)
ENTRY_SAMPLES = 1000  # samples a stream entry holds at most, unless the adapter says otherwise


class Fenced(Exception):
    """A write refused because another process leads the feed now."""


class Fence(Protocol):
    """What lets a write through only while this process leads the feed (a :class:`cityvitals.leader.Leadership`)."""

    def write(self, queue: Callable[[redis.client.Pipeline], None]) -> bool:
        """Write what ``queue`` puts on a pipeline if this process leads; False if another does.

        A Redis error is raised: Redis being away is not another process leading.
        """


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
_NUMBER_TYPES = frozenset(_NUMBER)
_FIELDS = operator.itemgetter("metric", "area", "ts", "value")
Row = tuple[str, str, float, float]  # a checked sample in the order of :class:`store.Sample`


class Rules:
    """What items are checked against: the metric registry (with each metric's range) and the areas samples may name.

    ``grids`` are the grids, or the whole hierarchy (an :class:`~cityvitals.areas.AreaTree`) where a
    sample may be a statistic of any level (a district's monthly CPI).
    """

    def __init__(self, metrics: Mapping[str, Metric], grids: Collection[str], earliest: float = EARLIEST_TS) -> None:
        self.metrics, self.grids = metrics, grids
        self.earliest = earliest  # a replay of older history may allow times before 2000
        self.index = {k: i for i, k in enumerate(metrics)}
        # Row i holds metric i's (min, max); the last row, nan, is for an unknown metric (index -1): refused.
        self.bounds = np.array([(m.min, m.max) for m in metrics.values()] + [(math.nan, math.nan)], dtype=float)


@dataclass
class Checked:
    """A checked batch: the good items as columns in their order, the others as (index, reason) in order."""

    samples: store.Columns
    refused: list[tuple[int, str]]
    newest: float | None  # the latest ts among the samples

    def __len__(self) -> int:
        return len(self.samples.ts)


def check_item(item: Any, metrics: Mapping[str, Metric], grids: Collection[str], now: float,
               earliest: float = EARLIEST_TS) -> store.Sample | str:
    """Return the sample an item describes, or the reason it is refused, saying what is wrong first."""
    if not isinstance(item, Mapping):
        return f"expected an object with metric, area, ts, value; got {type(item).__name__}"
    missing = [k for k in ("metric", "area", "ts", "value") if k not in item]
    if missing:
        return f"missing field(s) {', '.join(missing)}"
    metric, area, ts, value = item["metric"], item["area"], item["ts"], item["value"]
    if not isinstance(metric, str) or metric not in metrics:
        return f"unknown metric {shown(metric)}"
    if not isinstance(area, str) or area not in grids:
        return f"unknown area {shown(area)}"
    for name, x in (("ts", ts), ("value", value)):
        if isinstance(x, bool) or not isinstance(x, _NUMBER):
            return f"{name} must be a number, got {shown(x)}"
        if not math.isfinite(as_float(x)):
            return f"{name} must be finite, got {shown(x)}"
    m = metrics[metric]
    if not m.min <= value <= m.max:
        return f"value {shown(value)} outside the possible range [{m.min:g}, {m.max:g}] of {metric}"
    return time_problem(ts, now, earliest) or store.Sample(metric, area, float(ts), float(value))


def time_problem(ts: float, now: float, earliest: float = EARLIEST_TS) -> str | None:
    """Why a sample's or event's time cannot be true: before 2000 (or ``earliest``), or ahead of our clock."""
    if ts < earliest:
        return f"ts {shown(ts)} is before 2000-01-01 (Unix seconds are expected)"
    if ts > now + FUTURE_TOLERANCE_S:
        return f"ts {shown(ts)} is {as_float(ts) - now:.0f} s in the future (tolerance {FUTURE_TOLERANCE_S:.0f} s)"
    return None


def as_float(x: float) -> float:
    """``x`` as a float; an integer too large for one is infinite (and so refused), not an error."""
    try:
        return float(x)
    except OverflowError:
        return math.inf


def check_items(items: Sequence[Any], rules: Rules, now: float,
                decide: Callable[[Sequence[Any]], Mapping[int, store.Sample | str]] | None = None,
                preset: Mapping[int, str] | None = None) -> Checked:
    """Check a batch at once: the same verdicts and reasons as :func:`check_item` on each item.

    A batch of plain items (dicts with int or float ts and value) is checked column by column with
    numpy; in any other batch each item is checked alone, or by ``decide`` (items with a point) first.
    Only the refused items are checked again one by one, for their reasons. ``preset`` refuses items
    by position for the adapter's own reasons (a value its mapping does not know).
    """
    columns = _plain_columns(items)
    decided: dict[int, str] = {}
    if columns is None:
        columns, decided = _columns_one_by_one(items, rules, now, decide)
    rows, metric, area, ts, value = columns
    ok = _good_mask(metric, area, ts, value, rules, now)
    if preset:
        decided.update(preset)
        ok[list(preset)] = False
    refused = []
    for i in np.flatnonzero(~ok).tolist():
        verdict = decided.get(i) or check_item(items[i], rules.metrics, rules.grids, now, rules.earliest)
        if isinstance(verdict, str):
            refused.append((i, verdict))
        else:  # cannot happen while both apply the same rules; the item-by-item verdict wins
            ok[i] = True
    newest = float(ts[ok].max()) if ok.any() else None
    return Checked(store.columns_of(list(compress(rows, ok.tolist())) if refused else rows), refused, newest)


@dataclass
class SampleColumns:
    """Samples as columns: values as floats (NaN where unreadable), reasons decided before by position."""

    metric: np.ndarray | pd.Categorical  # of str, as ``area``
    area: np.ndarray | pd.Categorical
    ts: np.ndarray
    value: np.ndarray
    preset: dict[int, str] = field(default_factory=dict)
    known: np.ndarray | None = None  # :func:`known_mask` of these samples, if computed before


def check_columns(columns: SampleColumns, rules: Rules, now: float, item_of: Callable[[int], Any]) -> Checked:
    """Check samples given as columns: the verdicts of :func:`check_items`, an item made only per refusal."""
    c = columns
    ok = _good_mask(c.metric, c.area, c.ts, c.value, rules, now, c.known)
    if c.preset:
        ok[list(c.preset)] = False
    refused = []
    for i in np.flatnonzero(~ok).tolist():
        verdict = c.preset.get(i) or check_item(item_of(i), rules.metrics, rules.grids, now, rules.earliest)
        if isinstance(verdict, str):
            refused.append((i, verdict))
        else:  # cannot happen while both apply the same rules; the item-by-item verdict wins
            ok[i] = True
    if ok.all():  # the usual batch: nothing to leave out
        return Checked(store.Columns(c.metric, c.area, c.ts, c.value), refused, float(c.ts.max()) if ok.size else None)
    samples = store.Columns(c.metric[ok], c.area[ok], c.ts[ok], c.value[ok])
    return Checked(samples, refused, float(c.ts[ok].max()) if ok.any() else None)


Columns = tuple[list[Row], Sequence[Any], Sequence[Any], np.ndarray, np.ndarray]  # rows, metric, area, ts, value


def _plain_columns(items: Sequence[Any]) -> Columns | None:
    """Rows and columns of a batch of plain items (the common case), else None.

    Metric and area need no type test here: anything but a known string fails the lookups in
    :func:`_good_mask` (an unhashable one raises TypeError, and the batch goes one by one).
    """
    if not items or set(map(type, items)) != {dict}:
        return None
    try:
        rows = list(map(_FIELDS, items))
        metric, area, ts, value = zip(*rows, strict=True)
        numbers = set(map(type, ts)) | set(map(type, value))
        if not numbers <= _NUMBER_TYPES:
            return None
        ts, value = np.array(ts, dtype=float), np.array(value, dtype=float)
        hash(metric), hash(area)  # noqa: B018  (unhashable fields go one by one)
    except (KeyError, OverflowError, TypeError):  # a missing field, an integer too large for a float
        return None
    if numbers != {float}:  # ints become floats, as in check_item
        rows = list(zip(metric, area, ts.tolist(), value.tolist(), strict=True))
    return rows, metric, area, ts, value


def _columns_one_by_one(items: Sequence[Any], rules: Rules, now: float,
                        decide: Callable[[Sequence[Any]], Mapping[int, store.Sample | str]] | None
                        ) -> tuple[Columns, dict[int, str]]:
    """Rows and columns of a batch that is not all plain: each item's sample, or a blank row and its reason."""
    verdicts = dict(decide(items)) if decide else {}
    rows: list[Row] = []
    for i, item in enumerate(items):
        verdict = verdicts.get(i) or check_item(item, rules.metrics, rules.grids, now, rules.earliest)
        if isinstance(verdict, str):
            verdicts[i] = verdict
            rows.append(("", "", math.nan, math.nan))  # a row every check refuses
        else:
            rows.append(verdict)
    metric, area, ts, value = zip(*rows, strict=True) if rows else ((), (), (), ())
    refused = {i: v for i, v in verdicts.items() if isinstance(v, str)}
    return (rows, metric, area, np.array(ts, dtype=float), np.array(value, dtype=float)), refused


def _good_mask(metric: Sequence[str], area: Sequence[str], ts: np.ndarray, value: np.ndarray,
               rules: Rules, now: float, known: np.ndarray | None = None) -> np.ndarray:
    """True where a row passes every check of :func:`check_item` (its range, known metric and grid, its time).

    ``known``: :func:`known_mask` of these rows, computed before (for a whole file at once).
    """
    ok = known_mask(metric, area, value, rules) if known is None else known.copy()
    with np.errstate(invalid="ignore"):
        ok &= np.isfinite(ts) & (ts >= rules.earliest) & (ts <= now + FUTURE_TOLERANCE_S)
    return ok


def known_mask(metric: Sequence[str], area: Sequence[str], value: np.ndarray, rules: Rules) -> np.ndarray:
    """True where a row's metric and area are known and its value in the metric's range: the clock plays no part."""
    # A few metrics and areas, many rows: each distinct one is looked up once.
    codes, names = _factorized(metric)
    rows = np.append(np.fromiter(map(rules.index.get, names, repeat(-1)), np.intp, len(names)), -1)
    low, high = rules.bounds[rows[codes]].T  # code -1 (None, NaN): the -1 appended, an unknown metric
    with np.errstate(invalid="ignore"):
        ok = (low <= value) & (value <= high) & np.isfinite(value)
    codes, names = _factorized(area)
    ok &= np.append(np.fromiter((a in rules.grids for a in names), bool, len(names)), False)[codes]
    return ok


def _factorized(column: Sequence[Any]) -> tuple[np.ndarray, Sequence[Any]]:
    """Codes (-1: None or NaN) and distinct values of a column; a category's codes are used as they are."""
    if isinstance(column, pd.Categorical):  # factorising it again would only renumber the codes
        return column.codes, column.categories
    if not isinstance(column, np.ndarray):
        column = np.fromiter(column, dtype=object, count=len(column))  # not np.array: a tuple stays one value
    return pd.factorize(column)


@dataclass
class Batch:
    """What one submission writes: good samples and refusals (reason, item), under one batch id."""

    bid: str
    samples: store.Columns
    dead: list[tuple[str, str]]
    newest: float | None = None  # the latest ts among the samples
    checkpoint: int | None = None  # rows of its source delivered once this batch is written
    after: Callable[[redis.client.Pipeline], None] | None = None  # the adapter's own bookkeeping, queued after it
    entry: int = ENTRY_SAMPLES  # samples a stream entry

    def stored(self) -> int:
        """The samples it writes."""
        return len(self.samples.ts)

    def size(self) -> int:
        """Samples and refusals together: what the buffer bound counts."""
        return self.stored() + len(self.dead)


class Ingestor:
    """Validate and store samples for one feed, keeping its health record up to date."""

    def __init__(self, client: redis.Redis, feed: str, metrics: Mapping[str, Metric], grids: Collection[str],
                 clock: Callable[[], float] = time.time, simulated: bool = False,
                 buffer_limit: int = BUFFER_LIMIT, locator: GridLocator | None = None,
                 fence: Fence | None = None) -> None:
        self.client, self.feed, self.metrics, self.grids, self.clock = client, feed, metrics, grids, clock
        self.fence = fence
        self.rules = Rules(metrics, grids)
        self.buffer_limit, self.locator = buffer_limit, locator
        self.checkpoint_field = feed  # where a file's checkpoint is written (a replay keys it by file too)
        self.health: dict[str, Any] = {"read": 0, "accepted": 0, "refused": 0, "refused_by": {},
                                       "last_sample": None, "last_ok": None,
                                       "outside": 0, "rate": 0.0, "lag_s": None, "buffered": 0, "overflowed": 0,
                                       "store_errors": 0, "last_error": None, "simulated": simulated}
        self._lock = threading.Lock()
        self._buffer: deque[Batch] = deque()
        self._held = 0  # in the buffer; batches being resent are ``_inflight`` until written or returned
        self._inflight = 0
        self._retrying: threading.Thread | None = None
        self._recent: deque[tuple[float, int]] = deque()  # (time, samples written) within the rate window
        self._recent_total = 0  # the samples of ``_recent``: summed again on every write, they cost O(writes^2)
        self._ids = count()
        self._id_prefix = f"{feed}-{os.getpid()}-{int(time.time() * 1000) % 10**9}"
        self.backoff = ExponentialWithJitterBackoff(cap=5.0, base=0.05)

    def submit(self, items: Sequence[Any], hold: bool = True, where: Callable[[int], str] | None = None,
               checkpoint: int | None = None, after: Callable[[redis.client.Pipeline], None] | None = None,
               preset: Mapping[int, str] | None = None, entry: int = ENTRY_SAMPLES) -> IngestResult:
        """Store the valid items, refuse the others with reasons; one bad item never drops the rest.

        With ``hold`` (the default) a Redis outage puts the batch in the buffer; without it the
        Redis error is raised, for sources that redeliver on their own (an MQTT broker).
        ``where(i)`` names item i's place in its source (``row 12``) at the head of its reason.
        ``checkpoint`` (rows of a file done once this batch is in) is written with the batch, in
        the same round trip, after it: held with it through an outage, never ahead of it.
        ``after(pipe)`` queues more of the adapter's own writes there (an MQTT feed's receipts).
        ``preset`` refuses items by position for the adapter's own reasons (see :func:`check_items`).
        The stored samples go in one round trip, ``entry`` samples a stream entry.
        Raises :class:`Fenced` if the fence says another process leads the feed.
        """
        checked = check_items(items, self.rules, self.clock(), decide=self._locate, preset=preset)
        return self._submit_checked(checked, len(items), items.__getitem__, hold, where, checkpoint, after, entry)

    def submit_columns(self, columns: SampleColumns, item_of: Callable[[int], Any],
                       where: Callable[[int], str] | None = None, checkpoint: int | None = None,
                       entry: int = ENTRY_SAMPLES) -> IngestResult:
        """Like :meth:`submit` for samples given as columns (a mapped file): no object per sample.

        ``item_of(i)`` is sample i as an item: only refused ones are made, for their reasons and
        dead letters. ``columns.preset`` holds the reasons the adapter refused samples for itself.
        The samples go in one round trip, ``entry`` samples a stream entry.
        """
        checked = check_columns(columns, self.rules, self.clock(), item_of)
        return self._submit_checked(checked, len(columns.metric), item_of, True, where, checkpoint, None, entry)

    def _submit_checked(self, checked: Checked, read: int, item_of: Callable[[int], Any], hold: bool,
                        where: Callable[[int], str] | None, checkpoint: int | None,
                        after: Callable[[redis.client.Pipeline], None] | None,
                        entry: int = ENTRY_SAMPLES) -> IngestResult:
        """Store the checked batch and dead-letter its refusals, each with its place (``where``) and item."""
        result = IngestResult(len(checked))
        bad: list[tuple[str, str]] = []
        for i, reason in checked.refused:
            reason = f"{where(i)}: {reason}" if where else reason
            result.refused.append(Refusal(i, reason))
            bad.append((reason, dump_item(item_of(i))))
        with self._lock:
            self.health["read"] += read
        batch = self._batch(checked.samples, bad, checked.newest, checkpoint, after, entry)
        result.held = result.accepted if self._deliver(batch, hold) else 0
        return result

    def check(self, items: Sequence[Any], preset: Mapping[int, str] | None = None) -> Checked:
        """Check items as :meth:`submit` would, storing and counting nothing (a dry run)."""
        return check_items(items, self.rules, self.clock(), decide=self._locate, preset=preset)

    def _locate(self, items: Sequence[Any]) -> dict[int, store.Sample | str]:
        """Check the items that carry a point (lon, lat) instead of an area, looking up all points at once."""
        out: dict[int, store.Sample | str] = {}
        at = [i for i, item in enumerate(items)
              if isinstance(item, Mapping) and "area" not in item and ("lon" in item or "lat" in item)]
        points = []
        for i in at:
            lon, lat = items[i].get("lon"), items[i].get("lat")
            ok = all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(as_float(x))
                     for x in (lon, lat))
            if self.locator is None:
                out[i] = f"feed {self.feed} takes area ids, not points (lon, lat)"
            elif not ok:
                out[i] = f"lon and lat must be finite numbers, got {shown(lon)}, {shown(lat)}"
            elif items[i].get("crs", "wgs84") not in CRS:
                out[i] = f"lon and lat in unknown crs {shown(items[i].get('crs'))}: one of {', '.join(CRS)}"
            else:
                points.append((i, lon, lat))
        if points:
            lon, lat = _in_wgs84(items, points)
            grids = self.locator.locate(lon, lat)
            for (i, lon, lat), grid in zip(points, grids.tolist(), strict=True):
                if grid is None:
                    out[i] = f"point ({lon!r}, {lat!r}) lies in no grid"
                    self.health["outside"] += 1
                else:
                    out[i] = check_item({**items[i], "area": grid}, self.metrics, self.grids, self.clock(),
                                        self.rules.earliest)
        return out

    def refuse(self, bad: list[tuple[str, str]], hold: bool = True) -> None:
        """Count and dead-letter input refused before it became an item (an unreadable line, say)."""
        with self._lock:
            self.health["read"] += len(bad)
        if bad:
            self._deliver(self._batch(store.columns_of([]), bad), hold)

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

    def _batch(self, samples: store.Columns, dead: list[tuple[str, str]], newest: float | None = None,
               checkpoint: int | None = None, after: Callable[[redis.client.Pipeline], None] | None = None,
               entry: int = ENTRY_SAMPLES) -> Batch:
        """A batch under this feed's next batch id."""
        return Batch(f"{self._id_prefix}-{next(self._ids)}", samples, dead, newest, checkpoint, after, entry)

    def _deliver(self, batch: Batch, hold: bool) -> bool:
        """Write a batch now, or hold it while older ones wait; True if it was held."""
        with self._lock:
            self.health["refused"] += len(batch.dead)
            by = self.health["refused_by"]
            for reason, _ in batch.dead:
                kind = reason_kind(reason)
                by[kind] = by.get(kind, 0) + 1
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
        """Write batches, dead letters and the health record in one round trip (through the fence, if any)."""
        now = self.clock()
        with self._lock:
            health = self._health_after(batches, now, self._held)

        def queue(pipe: redis.client.Pipeline) -> None:
            for b in batches:
                store.queue_samples(pipe, self.feed, b.samples, bid=b.bid, batch=b.entry)
                store.queue_dead_letters(pipe, self.feed, b.dead)
                if b.checkpoint is not None:
                    store.write_checkpoint(pipe, self.checkpoint_field, b.checkpoint)
                if b.after is not None:
                    b.after(pipe)
            store.write_feed_health(pipe, self.feed, health)

        if self.fence is None:
            pipe = self.client.pipeline(transaction=False)
            queue(pipe)
            pipe.execute()
        elif not self.fence.write(queue):
            raise Fenced(f"feed {self.feed}: another process leads it now")
        with self._lock:
            written = sum(b.stored() for b in batches)
            self._recent.append((now, written))
            self._recent_total += written
            self.health.update({k: health[k] for k in ("last_sample", "last_ok", "rate", "lag_s")},
                               accepted=self.health["accepted"] + written)

    def _health_after(self, batches: list[Batch], now: float, buffered: int) -> dict[str, Any]:
        """The health record as it will be once ``batches`` are written at ``now``."""
        written = sum(b.stored() for b in batches)
        h = dict(self.health, accepted=self.health["accepted"] + written, buffered=buffered,
                 refused_by=dict(self.health["refused_by"]))
        if written:
            newest = max(b.newest for b in batches if b.newest is not None)
            h["last_sample"] = max(h["last_sample"] or -math.inf, newest)
            h["last_ok"] = now
        while self._recent and self._recent[0][0] < now - RATE_WINDOW_S:
            self._recent_total -= self._recent.popleft()[1]
        h["rate"] = round((self._recent_total + written) / RATE_WINDOW_S, 3)
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

    def count_overflow(self, dropped: int) -> None:
        """Count what an adapter's own bounded buffer dropped (an MQTT feed's messages) in the health record."""
        with self._lock:
            self.health["overflowed"] += dropped

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
            except Fenced:
                self._drop_buffer()
                return
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

    def _drop_buffer(self) -> None:
        """Forget the buffer (the fence failed: the process leading the feed now sends it) and stop resending."""
        with self._lock:
            dropped = self._held + self._inflight
            self._buffer.clear()
            self._held = self._inflight = 0
            self.health["buffered"] = 0
            self._retrying = None
        log.warning("feed %s: another process leads it now; %d buffered samples/refusals left to it",
                    self.feed, dropped)


def _in_wgs84(items: Sequence[Any], points: list[tuple[int, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    """The points' lon and lat in WGS-84: an item may say ``"crs": "gcj02"`` or ``"bd09"`` (Chinese map apps)."""
    lon, lat = np.array([p[1] for p in points], float), np.array([p[2] for p in points], float)
    systems = np.array([items[i].get("crs", "wgs84") for i, _, _ in points], dtype=object)
    for crs in set(systems.tolist()) - {"wgs84"}:
        at = systems == crs
        lon[at], lat[at] = to_wgs84(lon[at], lat[at], crs)
    return lon, lat


def dump_item(item: Any) -> str:
    """The item as text for the dead-letter stream (JSON where it can be; lone surrogates replaced)."""
    try:
        text = json.dumps(item, ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # ValueError: an integer of more digits than Python will print
        text = shown(item, 2000)
    return SURROGATE.sub("\ufffd", text)
