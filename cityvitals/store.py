r"""The Redis key layout and every read and write of live data: the one module that knows the keys.

Layout (all keys start with ``cv:``):

- ``cv:samples``           stream; one entry per ingest batch: ``src`` (feed name), ``n``, ``data``
                           (lines ``metric\\tarea\\tts\\tvalue``) and ``bid`` (batch id, the same when
                           a feed resends after a failed write, so the engine scores it once). Batching
                           keeps round trips per sample low; consumer groups make the engine resumable.
                           Two groups read it: ``engine`` and ``archive`` (cityvitals/archive/).
- ``cv:deadletter``        stream of refused input: ``src``, ``reason``, ``item``.
- ``cv:latest:<metric>``   string: the latest value of one metric in every grid, packed (``LATEST_CELL``:
                           value f8, sample time f8, feed code i2 per grid, 18 bytes, in the grids' ``pos``
                           order) behind ``<fingerprint of the grid list and the cell layout>:``; written by
                           the engine, read on restart.
- ``cv:values:<level>:<indicator>`` string: the state records of one indicator in every area of one
                           level, in the order of the areas' ``pos`` in ``cv:areas``, packed
                           (``STATE_CELL``: value f4, data time i4 seconds after ``TIME_EPOCH``, since and
                           pending since f8; coverage, numerator, denominator f4; feed code, rule code i2;
                           state, pending state, last judged state i1: 43 bytes), so area k is the 43 bytes at
                           43k (GETRANGE reads one area, SETRANGE writes one); a restarted engine reads them
                           back whole (its states, and what it last wrote). Feeds
                           deliver a metric for many areas at once, so a tick rewrites a few whole rows,
                           or patches single areas of a row; a first tick writes rows, not records.
- ``cv:rules``             hash indicator -> JSON ``{code: [rule label, yellow, red]}``: what the rule codes
                           in state cells stand for (the thresholds as shown), published with the catalog.
- ``cv:feednames``         JSON list: the feed names the feed codes in value rows stand for.
- ``cv:summary:<level>``   string: the summary of every area of one level (health, worst state, counts,
                           domain scores, counts and data times, panel counts), packed like state cells
                           (``SUMMARY_CELL``, 301 bytes per area at its ``pos``); a tick rewrites the
                           areas whose summary moved. Packed rows are binary (base64 cost a third more
                           memory and bytes sent); the client decodes replies, so they are read raw
                           (:func:`_queue_raw`). A cell of zero bytes was never written (SETRANGE pads).
- ``cv:ids:<level>``       JSON list: the ids of one level's areas in ``pos`` order (what a whole packed
                           row is read against).
- ``cv:warnings``          hash ``indicator@area`` (:class:`WarningKey`) -> JSON of every non-normal state now
                           (:func:`encode_warnings`: the state record with ``i`` indicator, ``a`` area, ``level``,
                           ``raised`` and ``peak``).
- ``cv:ticker:<area>``     sorted set of the ``indicator@area`` keys of the warnings in ``area`` and every area
                           below it, ranked by :func:`ticker_score` (macro before panel indicators, red before
                           yellow, the district before a street before a community before a grid, the newest
                           first, then the most residents): the ticker and the warnings page read the
                           top of one set and HMGET those records instead of every warning. Written with the
                           warnings by the engine (HSET before ZADD, ZREM before HDEL, so every key in a set
                           has its record), emptied with them on a catalog swap.
- ``cv:acked``             hash ``indicator@area`` -> since of the warning episode an operator acknowledged:
                           that warning ranks below every unacknowledged one in the ticker sets until it
                           clears or changes state (a new episode). Dropped with the warning.
- ``cv:early``             string: JSON list of the early warnings standing now (indicators/forecast.py: ``i``,
                           ``l`` level, ``a`` area, ``since``, ``at`` expected time, ``v`` value, ``lim``, ``to``
                           the state warned of), replaced whole by the engine when one is raised or ends.
- ``cv:meta``              hash (:class:`Meta`): the last tick's time, duration, samples, indicators and funnel
                           cells; the live catalog's version, the errors of the last reload and when it was checked;
                           while an engine's first tick writes, the state records written of all (``start_*``).
- ``cv:feeds``             hash feed -> JSON health (last sample, rate, read, accepted, refused by reason, errors, lag).
- ``cv:scored``            hash ``feed<TAB>kind`` -> how many of the feed's stored samples the engine found
                           ``late`` (out of order), ``duplicate`` or ``superseded`` (in order, replaced by a newer
                           one of the same cell before a tick): written by the engine, merged into the health.
- ``cv:catalog``           hash indicator -> JSON definition of the live catalog (names, units, rules).
- ``cv:root``              JSON: the aggregates of every indicator at the top area of this engine's tree (its
                           city, when a province runs one engine per city), for the province to combine
                           (indicators/province.py): ``num``, ``den``, ``cov``, ``ts``, ``seen`` per indicator.
- ``cv:areas``             hash area -> JSON ``{level, parent, pop, children}``: the hierarchy as the
                           engine uses it, so explanations need nothing but Redis.
- ``cv:areas_digest``      string: what names the hierarchy last published whole (an engine's digest of its
                           tree): an engine starting on the same one leaves it as it is.
- ``cv:checkpoints``       hash ``feed@file`` (:func:`checkpoint_field`) -> rows of that file the replay feed
                           delivered (where a restart resumes); the file is known by its content's hash, so
                           a second file under the same feed name starts at its own row 1.
- ``cv:receipts:<feed>``   hash MQTT message id -> digest of its topic and payload, for the messages of
                           an MQTT feed's broker session written here and perhaps not yet acknowledged:
                           a message the broker sends again (``dup``) with a matching receipt is not
                           written twice. The ids are the session's, shared by whichever worker holds it.
- ``cv:profiles_on``       set of threshold profiles an operator has switched on.
- ``cv:scenarios``         hash ``scenario@area`` -> JSON of a simulated incident asked for (start, minutes).
- ``cv:workorders``        hash order id -> one line ``source\\tgrid\\t<six step times>\\tsatisfied\\tresolved`` (empty
                           fields for steps not reached): the work-order pipeline's open and recently closed
                           orders, so a restarted pipeline keeps its backlog. Lines, not JSON: pandas reads
                           thousands of them in one call.
- ``cv:lock:<role>``       string: the token of the process leading a periodic role (cityvitals/leader.py).
- ``cv:LIMITER/...``       rate-limit counters, owned by Flask-Limiter (wiring/web.py).

Every key stands alone (no multi-key command or transaction spans two keys), so the layout works
unchanged on a Redis Cluster (``REDIS_URL=redis+cluster://host:port``). The one transaction, a led
feed's write WATCHing its lock (cityvitals/leader.py), is made on one Redis server only.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import redis
from redis.client import NEVER_DECODE

from cityvitals.areas.model import LEVELS, AreaTree
from cityvitals.vocabulary import DOMAINS, PANELS, STATE_NAMES

PREFIX = "cv"
SAMPLES = f"{PREFIX}:samples"
DEADLETTER = f"{PREFIX}:deadletter"
WARNINGS = f"{PREFIX}:warnings"
ACKED = f"{PREFIX}:acked"
EARLY = f"{PREFIX}:early"
META = f"{PREFIX}:meta"
FEEDS = f"{PREFIX}:feeds"
CATALOG = f"{PREFIX}:catalog"
AREAS = f"{PREFIX}:areas"
AREAS_DIGEST = f"{PREFIX}:areas_digest"
SCENARIOS = f"{PREFIX}:scenarios"
PROFILES_ON = f"{PREFIX}:profiles_on"
WORKORDERS = f"{PREFIX}:workorders"
CHECKPOINTS = f"{PREFIX}:checkpoints"
FEEDNAMES = f"{PREFIX}:feednames"
SCORED = f"{PREFIX}:scored"
SCORED_KINDS = ("late", "duplicate", "superseded")
RULES = f"{PREFIX}:rules"
ROOT = f"{PREFIX}:root"
BUILT = f"{PREFIX}:built"  # page parts one dashboard process built, for the others (by the digest of their data)
ENGINE_GROUP = "engine"
ARCHIVE_GROUP = "archive"  # the sample archiver's own group: it reads every entry the engine reads
STREAM_MAXLEN = 200_000  # entries (batches), trimmed approximately; consumers keep far behind this


def latest_key(metric: str, level: str = "grid") -> str:
    """Key of the latest-value row of ``metric`` over the grids (or another level's own samples)."""
    return f"{PREFIX}:latest:{metric}" if level == "grid" else f"{PREFIX}:latest:{level}:{metric}"


def values_key(level: str, indicator: str) -> str:
    """Key of the row of state records of ``indicator`` over the areas of ``level``."""
    return f"{PREFIX}:values:{level}:{indicator}"


def ticker_key(area_id: str) -> str:
    """Key of the sorted set of warnings in and below ``area_id``."""
    return f"{PREFIX}:ticker:{area_id}"


def summary_key(level: str) -> str:
    """Key of the packed area summaries of one hierarchy level."""
    return f"{PREFIX}:summary:{level}"


def ids_key(level: str) -> str:
    """Key of the ids of one level's areas in ``pos`` order."""
    return f"{PREFIX}:ids:{level}"


def lock_key(role: str) -> str:
    """Key of the lock of the process leading ``role``."""
    return f"{PREFIX}:lock:{role}"


def warning_key(indicator: str, area: str) -> str:
    """The warnings hash field (and ticker set member) of the warning of ``indicator`` in ``area``."""
    return f"{indicator}@{area}"


class WarningKey(NamedTuple):
    """Which warning: one indicator in one area (:func:`warning_key` as text)."""

    indicator: str
    area: str

    def __str__(self) -> str:
        return warning_key(self.indicator, self.area)

    @classmethod
    def parse(cls, key: str) -> WarningKey:
        """Split an ``indicator@area`` key at its first ``@`` (indicator ids never hold one)."""
        indicator, _, area = key.partition("@")
        return cls(indicator, area)

    @classmethod
    def of(cls, record: Mapping[str, Any]) -> WarningKey:
        """The key of a warning record (its ``i`` and ``a`` fields)."""
        return cls(record["i"], record["a"])


def scenario_key(scenario: str, area: str) -> str:
    """The scenarios hash field of ``scenario`` asked for in ``area``."""
    return f"{scenario}@{area}"


def split_scenario_key(key: str) -> tuple[str, str]:
    """Scenario and area of a :func:`scenario_key` (the area empty if the key has none)."""
    scenario, _, area = key.partition("@")
    return scenario, area


class Sample(NamedTuple):
    """One measured number for one area at one time (``ts`` in Unix seconds)."""

    metric: str
    area: str
    ts: float
    value: float


class Columns(NamedTuple):
    """Samples as columns, for vectorised ingestion (metric and area: lists, object arrays or categories of str)."""

    metric: Sequence[str] | pd.Categorical
    area: Sequence[str] | pd.Categorical
    ts: np.ndarray
    value: np.ndarray


def columns_of(samples: Sequence[tuple[str, str, float, float]]) -> Columns:
    """Samples (or plain tuples in their field order) as columns."""
    metric, area, ts, value = zip(*samples, strict=True) if samples else ((), (), (), ())
    return Columns(list(metric), list(area), np.array(ts, dtype=float), np.array(value, dtype=float))


def encode_entries(samples: Columns, size: int) -> list[tuple[bytes, int]]:
    """Pack samples into the stream's line format, ``size`` lines an entry: each entry's text and line count.

    The lines of all entries are made at once in Arrow and cut apart by their offsets: formatting
    sample by sample in Python cost more than everything else a replay does. Numbers are written
    as the shortest text that reads back as the same float (``1700000000``, ``36.6``).
    """
    n = len(samples.ts)
    if not n:
        return []
    lines = pc.binary_join_element_wise(_cell_texts(samples.metric, samples.area), _number_texts(samples.ts),
                                        _number_texts(samples.value, "\n"), "\t")
    _, offsets, data = lines.buffers()
    ends = np.frombuffer(offsets, dtype=np.int32, count=n + 1, offset=4 * lines.offset)
    text = memoryview(data)  # type: ignore[arg-type]
    return [(text[ends[k] : ends[min(k + size, n)] - 1].tobytes(), min(size, n - k)) for k in range(0, n, size)]


def _cell_texts(metric: Sequence[str] | pd.Categorical, area: Sequence[str] | pd.Categorical) -> pa.Array:
    """Each sample's ``metric<TAB>area``; of two categories (a mapped file) each distinct pair is joined once."""
    if not (isinstance(metric, pd.Categorical) and isinstance(area, pd.Categorical)) \
            or len(metric) and min(metric.codes.min(), area.codes.min()) < 0:  # a missing one: as before
        return pc.binary_join_element_wise(_texts(metric), _texts(area), "\t")
    areas = len(area.categories)
    pairs, distinct = pd.factorize(metric.codes.astype(np.int64) * areas + area.codes)
    words = pc.binary_join_element_wise(pa.array(metric.categories[distinct // areas], pa.string()),
                                        pa.array(area.categories[distinct % areas], pa.string()), "\t")
    return words.take(pa.array(pairs))


def _texts(column: Sequence[str] | pd.Categorical) -> pa.Array:
    """A column of text as Arrow strings; a category's strings are copied by code, not read object by object."""
    if isinstance(column, pd.Categorical):
        return pa.array(column).dictionary_decode()
    return pa.array(column, pa.string())


def _number_texts(x: np.ndarray, suffix: str = "") -> pa.Array:
    """Each float as its shortest round-trip text (then ``suffix``); each distinct value formatted once."""
    whole = np.isfinite(x).all() and (np.abs(x) < 2**53).all() and (np.floor(x) == x).all()
    if whole:  # Unix seconds of whole seconds, counts: integers format fastest
        texts = pc.cast(pa.array(x.astype(np.int64)), pa.string())
        return pc.binary_join_element_wise(texts, suffix, "") if suffix else texts
    coded = pa.array(x).dictionary_encode()
    words = pc.cast(coded.dictionary, pa.string())
    return (pc.binary_join_element_wise(words, suffix, "") if suffix else words).take(coded.indices)


def decode_columns(data: str) -> Columns:
    """Unpack a stream entry's ``data`` field into columns (the inverse of :func:`encode_entries`)."""
    fields = data.replace("\n", "\t").split("\t") if data else []
    if len(fields) % 4:
        raise ValueError(f"stream entry has {len(fields)} fields, not a multiple of 4")
    return Columns(fields[0::4], fields[1::4], _floats(fields[2::4]), _floats(fields[3::4]))


def _floats(texts: list[str]) -> np.ndarray:
    """Parse numbers: Python's float() on each beats numpy's parsing of a list of strings."""
    return np.fromiter(map(float, texts), dtype=float, count=len(texts))


def append_samples(client: redis.Redis, source: str, samples: list[Sample], batch: int = 1000) -> int:
    """Append already-validated samples to the stream in batches; returns how many were written."""
    pipe = client.pipeline(transaction=False)
    queue_samples(pipe, source, samples, batch=batch)
    pipe.execute()
    return len(samples)


def queue_samples(pipe: redis.client.Pipeline, source: str,
                  samples: Columns | Sequence[tuple[str, str, float, float]], bid: str = "", batch: int = 1000) -> None:
    """Queue already-validated samples on ``pipe``, one entry per ``batch``; entry k of batch ``bid`` is ``bid.k``."""
    columns = samples if isinstance(samples, Columns) else columns_of(samples)
    for k, (data, n) in enumerate(encode_entries(columns, batch)):
        fields: dict[str, Any] = {"src": source, "n": n, "data": data}
        if bid:
            fields["bid"] = f"{bid}.{k}"
        pipe.xadd(SAMPLES, fields, maxlen=STREAM_MAXLEN, approximate=True)


def dead_letter(client: redis.Redis, source: str, items: list[tuple[str, str]]) -> None:
    """Keep refused input with its reason, so nothing refused is silently lost."""
    if not items:
        return
    pipe = client.pipeline(transaction=False)
    queue_dead_letters(pipe, source, items)
    pipe.execute()


def queue_dead_letters(pipe: redis.client.Pipeline, source: str, items: list[tuple[str, str]]) -> None:
    """Queue refused input (reason, item) on ``pipe`` for the dead-letter stream."""
    for reason, item in items:
        pipe.xadd(DEADLETTER, {"src": source, "reason": reason, "item": item[:2000]}, maxlen=100_000, approximate=True)


def trim_samples(client: redis.Redis) -> None:
    """Empty the sample stream, keeping it and its consumer groups (once every entry is acknowledged)."""
    client.xtrim(SAMPLES, maxlen=0, approximate=False)


def dead_letter_count(client: redis.Redis) -> int:
    """Entries in the dead-letter stream."""
    return client.xlen(DEADLETTER)


def ensure_group(client: redis.Redis, group: str = ENGINE_GROUP) -> None:
    """Create the consumer group on the sample stream (from its start) if it does not exist."""
    try:
        client.xgroup_create(SAMPLES, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class Backlog(NamedTuple):
    """How far a consumer group is behind the sample stream."""

    unread: int | None  # entries not yet delivered to the group (None: Redis cannot tell, after a deletion)
    pending: int  # delivered, not yet acknowledged
    behind_s: float  # the newest entry's time minus the oldest unread one's (0 when nothing waits)


def group_backlog(client: redis.Redis, group: str) -> Backlog | None:
    """The backlog of ``group`` on the sample stream; None if there is no such stream or group."""
    try:
        groups = client.xinfo_groups(SAMPLES)
        last = client.xinfo_stream(SAMPLES)["last-generated-id"]
    except redis.ResponseError:  # no stream yet
        return None
    info = next((g for g in groups if _text(g["name"]) == group), None)
    if info is None:
        return None
    unread = info.get("lag")
    first = client.xrange(SAMPLES, min=f"({_text(info['last-delivered-id'])}", count=1)
    behind = (_id_ms(last) - _id_ms(first[0][0])) / 1000 if first else 0.0
    return Backlog(None if unread is None else int(unread), int(info["pending"]), behind)


def _text(x: str | bytes) -> str:
    return x.decode() if isinstance(x, bytes) else x


def _id_ms(entry_id: str | bytes) -> int:
    """The milliseconds part of a stream entry id."""
    return int(_text(entry_id).split("-", 1)[0])


class Entry(NamedTuple):
    """One stream entry read by a consumer: its id, feed, samples (as columns) and batch id ("" if none)."""

    entry_id: str
    source: str
    samples: Columns
    batch: str = ""


def read_entries(client: redis.Redis, consumer: str, pending: bool = False, count: int = 500,
                 block_ms: int | None = None, group: str = ENGINE_GROUP) -> list[Entry]:
    """Read entries for ``consumer``: new ones, or with ``pending`` its unacknowledged ones (after a restart)."""
    reply = client.xreadgroup(group, consumer, {SAMPLES: "0" if pending else ">"}, count=count,
                              block=None if pending else block_ms)
    return [
        Entry(entry_id, fields.get("src", "?"), decode_columns(fields.get("data", "")), fields.get("bid", ""))
        for _stream, entries in reply or []
        for entry_id, fields in entries
        if fields  # a pending entry trimmed away comes back with no fields
    ]


class RawEntry(NamedTuple):
    """One stream entry as stored: its id and fields (none if it was trimmed away before it was read again)."""

    entry_id: str
    fields: dict[str, str]


def read_raw_entries(client: redis.Redis, consumer: str, group: str, pending: bool = False,
                     count: int = 500) -> list[RawEntry]:
    """Read entries as :func:`read_entries` does, undecoded and trimmed ones kept: one bad entry spoils no read."""
    reply = client.xreadgroup(group, consumer, {SAMPLES: "0" if pending else ">"}, count=count)
    return [RawEntry(entry_id, fields or {}) for _stream, entries in reply or [] for entry_id, fields in entries]


def decode_lenient(data: str) -> tuple[Columns, int]:
    """Unpack ``data`` as :func:`decode_columns` does, skipping lines that do not parse; also the lines skipped."""
    try:
        return decode_columns(data), 0
    except ValueError:
        pass
    rows, bad = [], 0
    for line in data.split("\n"):
        parts = line.split("\t")
        try:
            if len(parts) != 4:
                raise ValueError(line)
            rows.append((parts[0], parts[1], float(parts[2]), float(parts[3])))
        except ValueError:
            bad += 1
    metric, area, ts, value = zip(*rows, strict=True) if rows else ((), (), (), ())
    return Columns(list(metric), list(area), np.array(ts, dtype=float), np.array(value, dtype=float)), bad


def claim_pending(client: redis.Redis, consumer: str, group: str = ENGINE_GROUP) -> int:
    """Move every entry the group's other consumers read but never acknowledged to ``consumer``."""
    claimed, start = 0, "0-0"
    while True:
        start, entries, *_ = client.xautoclaim(SAMPLES, group, consumer, min_idle_time=0, start_id=start, count=500)
        claimed += len(entries)
        if start in ("0-0", b"0-0"):
            return claimed


def ack(client: redis.Redis, entry_ids: list[str], group: str = ENGINE_GROUP) -> None:
    """Acknowledge processed entries so no consumer reads them again."""
    if entry_ids:
        client.xack(SAMPLES, group, *entry_ids)


def latest_head(grid_ids: Iterable[str]) -> bytes:
    """The head of latest rows: names a grid list and the cell layout, so rows of another are not read back."""
    named = "\n".join([*grid_ids, repr(LATEST_CELL.descr)])
    return hashlib.sha1(named.encode()).hexdigest()[:LATEST_HEAD - 1].encode() + b":"


LATEST_HEAD = 13  # bytes of "<fingerprint>:" before the cells of a latest row


def read_latest(client: redis.Redis, metrics: Iterable[str], grid_ids: list[str],
                level: str = "grid") -> dict[str, np.ndarray]:
    """Read the latest values of ``metrics`` for ``grid_ids``: metric -> cells (``LATEST_CELL``, one per grid).

    Rows written for another grid list, or never written, are left out. With ``level``, the own
    samples of that level's areas (``grid_ids`` are then its ids).
    """
    metrics, head = list(metrics), latest_head(grid_ids)
    pipe = client.pipeline(transaction=False)
    for metric in metrics:
        _queue_raw(pipe, "GET", latest_key(metric, level))
    width = LATEST_HEAD + len(grid_ids) * LATEST_CELL.itemsize
    return {m: np.frombuffer(raw, dtype=LATEST_CELL, offset=LATEST_HEAD)
            for m, raw in zip(metrics, pipe.execute(), strict=True)
            if raw is not None and raw.startswith(head) and len(raw) == width}


def to_json(record: Mapping[str, Any]) -> str:
    """Serialise a record compactly; NaN becomes null so browsers can parse it."""
    return json.dumps(
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()},
        ensure_ascii=False,
        separators=(",", ":"),
    )


LATEST_CELL = np.dtype([("v", "<f8"), ("ts", "<f8"), ("src", "<i2")])
# Value f4: a record is rewritten only once its value moved by 1e-4 of itself (VALUE_TOLERANCE), so what a
# record shows is that close to the engine's value already; float32's rounding (6e-8 of it) adds nothing seen.
# Data time i4 whole seconds after TIME_EPOCH: shown to the second (floored, as a clock shows it) and rewritten
# only once it moved by a minute. Since and pending since stay f8, exact: a restarted engine takes them back
# (min_duration and clear_after go on counting where they were). ``j``: the last of normal/yellow/red the
# cell held (what a stale cell scores in the health index), also taken back on a restart.
STATE_CELL = np.dtype([("v", "<f4"), ("ts", "<i4"), ("since", "<f8"), ("ps", "<f8"), ("cov", "<f4"),
                       ("num", "<f4"), ("den", "<f4"), ("src", "<i2"), ("rule", "<i2"), ("s", "i1"), ("p", "i1"),
                       ("j", "i1")])
NO_STATE = -1  # a pending state code meaning none
TIME_EPOCH = 1_577_836_800  # 2020-01-01 UTC: data times in state cells count whole seconds from it (int32: to 2088)
NO_TIME = np.iinfo(np.int32).min  # a data time never known (NaN)


def cell_seconds(ts: np.ndarray) -> np.ndarray:
    """Data times (Unix seconds, NaN: none) as state cells hold them: whole seconds after ``TIME_EPOCH``."""
    with np.errstate(invalid="ignore"):
        s = np.floor(np.asarray(ts, dtype=float) - TIME_EPOCH)
        top = np.iinfo(np.int32).max
        return np.where(np.isfinite(s), np.clip(s, NO_TIME + 1, top), NO_TIME).astype(np.int32)


def cell_times(seconds: np.ndarray) -> np.ndarray:
    """Data times of state cells back as Unix seconds (NaN: none)."""
    return np.where(seconds == NO_TIME, np.nan, seconds.astype(float) + TIME_EPOCH)


def _queue_raw(pipe: redis.client.Pipeline, *command: str | int) -> None:
    """Queue a read whose reply stays bytes: packed cells are binary, the client decodes text replies."""
    pipe.execute_command(*command, **{NEVER_DECODE: []})


def pack_rows(cell: np.dtype, fields: Mapping[str, np.ndarray]) -> list[bytes]:
    """Pack (rows x areas) arrays, one per field of ``cell`` (broadcast), into one value per row.

    A field with a shape of its own takes it as trailing axes. Each row is a view of one block.
    """
    cells = np.zeros(np.broadcast_shapes(*(np.shape(a)[:2] for a in fields.values())), dtype=cell)
    with np.errstate(over="ignore"):  # a value past float32's range is kept as infinite
        for name, array in fields.items():
            cells[name] = array
    block, width = memoryview(cells.reshape(-1).view(np.uint8)), cells.shape[1] * cell.itemsize
    return [block[k * width : (k + 1) * width] for k in range(cells.shape[0])]


WRITE_CHUNK = 200_000  # cells formatted and queued before the pipeline is sent, when a level has more
SPARSE_CELLS = 10  # a row with fewer than 1/SPARSE_CELLS of its areas moved is patched cell by cell


CellFields = Callable[[np.ndarray, np.ndarray], dict]  # (rows, cols) -> the cell's fields at those cells
Sending = Callable[[int], None]  # called with the whole rows of a part just before the pipeline sends it


def queue_latest(pipe: redis.client.Pipeline, head: bytes, metrics: list[str], rows: np.ndarray, cols: np.ndarray,
                 width: int, fields: CellFields, known: np.ndarray, level: str = "grid") -> None:
    """Queue the latest values that moved (``LATEST_CELL`` fields) into the rows of ``metrics`` behind ``head``."""
    _queue_packed(pipe, [latest_key(m, level) for m in metrics], head, rows, cols, width, LATEST_CELL, fields, known)


def queue_values(pipe: redis.client.Pipeline, level: str, indicators: list[str], rows: np.ndarray | None,
                 cols: np.ndarray | None, width: int, fields: CellFields, known: np.ndarray,
                 sending: Sending | None = None) -> None:
    """Queue the state cells that moved (``STATE_CELL`` fields) into the value rows of ``indicators`` at ``level``.

    ``rows`` and ``cols`` None: every cell (a first tick), without listing them all. Data times ``ts`` come as
    Unix seconds (they are packed as :func:`cell_seconds`).
    """
    def packed(r: np.ndarray, c: np.ndarray) -> dict:
        cells = fields(r, c)
        return {**cells, "ts": cell_seconds(cells["ts"])}

    _queue_packed(pipe, [values_key(level, i) for i in indicators], b"", rows, cols, width, STATE_CELL, packed, known,
                  sending)


def read_state_rows(client: redis.Redis, level: str, indicators: Sequence[str], width: int,
                    chunk: int = 8) -> Iterable[tuple[int, np.ndarray]]:
    """The state rows of ``indicators`` at ``level`` written for ``width`` areas: (index in ``indicators``, cells).

    A row never written, or of another width or cell layout, is left out. ``chunk`` rows per round trip
    (a province's grid row is 4 MB), each row a read-only view of its reply.
    """
    size = width * STATE_CELL.itemsize
    for start in range(0, len(indicators), chunk):
        pipe = client.pipeline(transaction=False)
        for indicator in indicators[start : start + chunk]:
            _queue_raw(pipe, "GET", values_key(level, indicator))
        for k, raw in enumerate(pipe.execute(), start):
            if raw is not None and len(raw) == size:
                yield k, np.frombuffer(raw, dtype=STATE_CELL)


def read_level_ids(client: redis.Redis, level: str) -> list[str]:
    """The ids of one level's areas in the order of their cells in packed rows, as last published."""
    return json.loads(client.get(ids_key(level)) or "[]")


def _queue_packed(pipe: redis.client.Pipeline, keys: list[str], head: bytes, rows: np.ndarray | None,
                  cols: np.ndarray | None, width: int, cell: np.dtype, fields: CellFields, known: np.ndarray,
                  sending: Sending | None = None) -> None:
    """Queue changed cells (rows, cols; row-major) of packed rows: whole rows where many moved, else one by one.

    ``fields(r, c)`` gives the arrays of ``cell``'s fields at broadcastable indices; a row not
    ``known`` to exist yet is written whole. A SETRANGE per cell costs about as much as
    ``SPARSE_CELLS`` cells of a whole row. ``sending`` hears of each part sent on its own. ``rows``
    and ``cols`` None: every row whole.
    """
    moved = np.full(len(keys), width) if rows is None else np.bincount(rows, minlength=len(keys))
    is_whole = ((moved * SPARSE_CELLS >= width) | ~known) & (moved > 0)
    whole = np.flatnonzero(is_whole)
    every = np.arange(width)[None, :]
    step = max(1, WRITE_CHUNK // max(1, width))
    for start in range(0, whole.size, step):
        part = whole[start : start + step]
        for row, text in zip(part.tolist(), pack_rows(cell, fields(part[:, None], every)), strict=True):
            pipe.set(keys[row], head + text if head else text)
        if whole.size > step:  # a big level (a first tick): send each part before packing the next
            if sending is not None:
                sending(part.size)
            pipe.execute()
    if rows is None:
        return
    single = ~is_whole[rows]
    rows, cols = rows[single], cols[single]
    if rows.size:
        text = pack_rows(cell, {k: np.broadcast_to(a, rows.shape)[None, :]
                                for k, a in fields(rows, cols).items()})[0]
        n = cell.itemsize
        for k, (row, col) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
            pipe.setrange(keys[row], len(head) + col * n, text[k * n : (k + 1) * n])


def read_feed_names(client: redis.Redis) -> list[str]:
    """The feed names the feed codes in packed rows stand for."""
    return json.loads(client.get(FEEDNAMES) or "[]")


def write_feed_names(pipe: redis.client.Pipeline, feeds: list[str]) -> None:
    """Queue the feed names the feed codes in value rows stand for."""
    pipe.set(FEEDNAMES, json.dumps(feeds, ensure_ascii=False))


def write_rules(client: redis.Redis, rules: Mapping[str, Mapping[int, Sequence[str]]]) -> None:
    """Replace what the rule codes of each indicator stand for: code -> (label, yellow, red)."""
    pipe = client.pipeline(transaction=True)
    pipe.delete(RULES)
    if rules:
        pipe.hset(RULES, mapping={i: json.dumps(r, ensure_ascii=False) for i, r in rules.items()})
    pipe.execute()


_STATE_BYTES = STATE_CELL.itemsize


def _cell_range(indicator: str, area: dict | None) -> tuple[str, int, int] | None:
    """Key and character range of one area's state cell (None: an area the engine has not published)."""
    if area is None or "pos" not in area:
        return None
    start = area["pos"] * _STATE_BYTES
    return values_key(area["level"], indicator), start, start + _STATE_BYTES - 1


def _read_cells(pipe: redis.client.Pipeline, ranges: list[tuple[str, int, int] | None]) -> tuple[list, list[str]]:
    """Queue the cell reads on ``pipe`` and execute it: its earlier replies, and a cell per range ("" for none)."""
    queued = [r for r in ranges if r is not None]
    for r in queued:
        _queue_raw(pipe, "GETRANGE", *r)
    replies = pipe.execute()
    split = len(replies) - len(queued)
    got = iter(replies[split:])
    return replies[:split], [next(got) if r is not None else b"" for r in ranges]


def _record(cell: bytes, feeds: list[str], rules: dict) -> dict | None:
    """Unpack one state cell into the state record that explains it (None: never written).

    Keys: s state, since, v value, ts data time (oldest input), cov share of grids reporting, num/den
    the events and exposure behind a count, rate or ratio, src feed, y/r thresholds in force and the
    rule that set them, p the state waiting out its minimum (or clear) duration since ps (None: none).
    """
    if len(cell) != _STATE_BYTES or not any(cell):  # no row, or a part of a row SETRANGE padded with zeros
        return None
    c = np.frombuffer(cell, dtype=STATE_CELL)[0]
    label, yellow, red = rules.get(str(int(c["rule"])), ("?", "?", "?"))
    src, s, p, ps = int(c["src"]), int(c["s"]), int(c["p"]), float(c["ps"])
    # a float32 value as the shortest decimal that is it (0.1, not 0.10000000149011612)
    return {"s": STATE_NAMES[s], "since": float(c["since"]), "v": _finite_or_none(float(str(c["v"]))),
            "ts": _finite_or_none(float(cell_times(c["ts"]))), "cov": round(float(c["cov"]), 4),
            "num": _finite_or_none(float(c["num"])), "den": _finite_or_none(float(c["den"])),
            "src": feeds[src] if 0 <= src < len(feeds) else "?",
            "y": yellow, "r": red, "rule": label,
            "p": STATE_NAMES[p] if p != NO_STATE else None, "ps": ps if p != NO_STATE else None}


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def read_states(client: redis.Redis, area_id: str, indicators: Iterable[str] | None = None) -> dict[str, dict]:
    """Read the indicator states of one area (of the live catalog's indicators by default): indicator -> record."""
    indicators = list(client.hkeys(CATALOG) if indicators is None else indicators)
    area = read_areas(client, [area_id]).get(area_id)
    if not indicators:
        return {}
    pipe = client.pipeline(transaction=False)
    pipe.get(FEEDNAMES)  # in the same round trip as the cells that use it
    pipe.hmget(RULES, indicators)
    (feeds, rules), cells = _read_cells(pipe, [_cell_range(i, area) for i in indicators])
    feeds = json.loads(feeds or "[]")
    records = {i: _record(c, feeds, json.loads(r or "{}")) for i, r, c in zip(indicators, rules, cells, strict=True)}
    return {i: rec for i, rec in records.items() if rec is not None}


def read_state_of(client: redis.Redis, indicator: str, area_ids: list[str]) -> dict[str, dict]:
    """State records of one indicator in ``area_ids`` (two round trips): area -> record."""
    if not area_ids:
        return {}
    areas = read_areas(client, area_ids)
    pipe = client.pipeline(transaction=False)
    pipe.get(FEEDNAMES)
    pipe.hget(RULES, indicator)
    (feeds, rules), cells = _read_cells(pipe, [_cell_range(indicator, areas.get(a)) for a in area_ids])
    feeds, rules = json.loads(feeds or "[]"), json.loads(rules or "{}")
    records = {a: _record(c, feeds, rules) for a, c in zip(area_ids, cells, strict=True)}
    return {a: rec for a, rec in records.items() if rec is not None}


def clear_states(client: redis.Redis, indicators: Iterable[str]) -> None:
    """Delete the state rows and warnings (with their ticker sets) of ``indicators`` (after a catalog swap)."""
    indicators = list(indicators)
    client.delete(WARNINGS, ACKED, *[values_key(level, i) for level in LEVELS for i in indicators])
    tickers = [ticker_key(a) for a in client.hkeys(AREAS)]
    for start in range(0, len(tickers), DELETE_CHUNK):
        client.delete(*tickers[start : start + DELETE_CHUNK])
    queue_written(client)


DELETE_CHUNK = 10_000  # keys per DEL: a province has ~130,000 areas
TICKER_BAND = 1e10  # one band of the ticker's rank per (tier, severity, level): wider than any Unix time
ACK_BAND = 16  # bands an acknowledged warning drops by: below all 16 of the unacknowledged (2 x 2 x 4 levels)


def update_warnings(pipe: redis.client.Pipeline, raised: Mapping[str, str], ranked: Mapping[str, float],
                    cleared: list[str], tree: AreaTree) -> None:
    """Queue warning records to set (``indicator@area`` -> JSON) and keys to drop, with their ticker sets.

    ``ranked``: the raised warnings whose rank (:func:`ticker_score`) is new or moved, with it; the
    others keep their place. One command per warnings hash and per ticker set touched. Keys leave
    the sets before their records go and join them after their records are written, so a reader
    never finds a key without its record (short of a client dying mid-pipeline on a cluster, which
    reorders nodes).
    """
    lineage: dict[str, list[str]] = {}
    drop: dict[str, list[str]] = {}
    for key in cleared:
        for area in _lineage(tree, WarningKey.parse(key).area, lineage):
            drop.setdefault(ticker_key(area), []).append(key)
    for ticker, keys in drop.items():
        pipe.zrem(ticker, *keys)
    if cleared:
        pipe.hdel(WARNINGS, *cleared)
        pipe.hdel(ACKED, *cleared)
    if raised:
        pipe.hset(WARNINGS, mapping=raised)
    add: dict[str, dict[str, float]] = {}
    for key, score in ranked.items():
        for area in _lineage(tree, WarningKey.parse(key).area, lineage):
            add.setdefault(ticker_key(area), {})[key] = score
    for ticker, members in add.items():
        pipe.zadd(ticker, members)


class WarningCells(NamedTuple):
    """Warnings of one level to encode, as columns (one entry per warning; codes as in state cells)."""

    indicator: list[str]
    area: list[str]
    state: np.ndarray  # codes into STATE_NAMES
    value: np.ndarray
    ts: np.ndarray
    since: np.ndarray
    rule: list[str]  # each warning's thresholds in force, as :func:`rule_fragments` gives them
    src: np.ndarray  # feed codes into the ``feeds`` given alongside
    cov: np.ndarray
    num: np.ndarray
    den: np.ndarray
    raised: np.ndarray  # the value when the warning took its state
    peak: np.ndarray  # its worst value since
    pending: np.ndarray  # codes into STATE_NAMES, NO_STATE: none
    pending_since: np.ndarray


def rule_fragments(rules: Mapping[int, Sequence[str]]) -> dict[int, str]:
    """The ``"y","r","rule"`` part of a warning record for each rule code of one indicator: code -> text."""
    return {code: f'"y":"{y}","r":"{r}","rule":{json.dumps(label, ensure_ascii=False)}'
            for code, (label, y, r) in rules.items()}


def encode_warnings(level: str, feeds: Sequence[str], w: WarningCells) -> list[str]:
    """JSON records of warnings: a state as :func:`read_states` gives it, with the warning's own fields.

    ``i``, ``a``: the indicator and area (:meth:`WarningKey.of`); ``raised``: the value when the warning
    took its state; ``peak``: its worst value since.

    Formatted in one pass over plain lists: json.dumps per record costs more than the rest of a tick.
    """
    names = [json.dumps(f, ensure_ascii=False) for f in feeds]
    pending = w.pending.tolist()
    pending_since = [t if p != NO_STATE else _NULL for t, p in zip(_finite(w.pending_since), pending, strict=True)]
    return [
        f'{{"i":"{i}","a":"{a}","level":"{level}","s":"{STATE_NAMES[s]}","v":{v!r},"ts":{t!r},"since":{sn!r},{rule},'
        f'"src":{names[src]},"cov":{cov!r},"num":{n!r},"den":{d!r},"raised":{ra!r},"peak":{pk!r},'
        f'"p":{_PENDING_TEXT[p]},"ps":{ps!r}}}'
        for i, a, s, v, t, sn, rule, src, cov, n, d, ra, pk, p, ps in zip(
            w.indicator, w.area, w.state.tolist(), _finite(w.value), _finite(w.ts), _finite(w.since), w.rule,
            w.src.tolist(), np.round(w.cov, 4).tolist(), _finite(w.num), _finite(w.den), _finite(w.raised),
            _finite(w.peak), pending, pending_since, strict=True)
    ]


def _finite(values: np.ndarray) -> list:
    """Return values as a list for JSON text: floats, with ``null`` where not finite (repr of the str is null)."""
    return [v if ok else _NULL for v, ok in zip(values.tolist(), np.isfinite(values).tolist(), strict=True)]


class _Null:
    """Stands in for a non-finite float in hand-formatted JSON."""

    def __repr__(self) -> str:
        return "null"


_NULL = _Null()
_PENDING_TEXT = {NO_STATE: "null"} | {k: f'"{name}"' for k, name in enumerate(STATE_NAMES)}


def ticker_score(state: str, level: str, since: float, macro: bool = True, residents: float = 0.0,
                 acked: bool = False) -> float:
    """Rank of a warning in the ticker sets (lowest first): what is new, big and unseen comes first.

    Unacknowledged before acknowledged (ISA-18.2: an alarm an operator has not seen is the one to show),
    macro indicators before panel ones (the overview shows the macro set), red before yellow, then
    the district before a street before a community before a grid, then the newest onset first, then
    the area with the most residents (to about 150 people: a float's precision at this magnitude).
    """
    band = ((ACK_BAND if acked else 0) + (0 if macro else 8) + (0 if state == "red" else 4)
            + LEVELS.index(level))
    return float(band * TICKER_BAND + (TICKER_BAND - math.floor(since)) - min(float(residents), 9_999_999.0) / 1e7)


def read_acked(client: redis.Redis, keys: Sequence[str]) -> dict[str, float]:
    """The acknowledged episodes among warning ``keys``: key -> the since that was acknowledged."""
    if not keys:
        return {}
    return {k: float(v) for k, v in zip(keys, client.hmget(ACKED, list(keys)), strict=True) if v is not None}


def rank_acknowledged(client: redis.Redis, tree: AreaTree, indicator: str, area: str, since: float) -> bool:
    """Move the warning episode of ``indicator`` in ``area`` since ``since`` below the unacknowledged ones.

    False when that episode is not a warning now (cleared, or a new state since): nothing to move. The
    engine keeps the mark when it re-ranks the same episode (:func:`read_acked`).
    """
    key = warning_key(indicator, area)
    record = read_warning(client, indicator, area)
    score = client.zscore(ticker_key(area), key)
    if record is None or score is None or abs(record["since"] - since) >= 0.001:
        return False
    client.hset(ACKED, key, repr(record["since"]))
    pipe = client.pipeline(transaction=False)
    if score < ACK_BAND * TICKER_BAND:
        for each in _lineage(tree, area, {}):
            pipe.zadd(ticker_key(each), {key: score + ACK_BAND * TICKER_BAND}, xx=True)
    queue_written(pipe)
    pipe.execute()
    return True


def _lineage(tree: AreaTree, area_id: str, known: dict[str, list[str]]) -> list[str]:
    """The area and its ancestors (remembered in ``known``: a tick's warnings share most of them)."""
    if area_id not in known:
        known[area_id] = [area_id, *(a.id for a in tree.ancestors(area_id))]
    return known[area_id]


def read_ticker(client: redis.Redis, area_id: str, count: int | None = None) -> list[dict]:
    """Warnings in and below ``area_id`` in the ticker's order (:func:`ticker_score`): the first ``count``, or all.

    Two round trips (the set's top, then those records and their acknowledgements), whatever the number
    of warnings elsewhere. An acknowledged record carries ``"ack": True``.
    """
    keys = client.zrange(ticker_key(area_id), 0, -1 if count is None else count - 1)
    if not keys:
        return []
    pipe = client.pipeline(transaction=False)
    pipe.hmget(WARNINGS, keys)
    pipe.hmget(ACKED, keys)
    records, acked = pipe.execute()
    out = []
    for raw, ack in zip(records, acked, strict=True):
        if raw is None:  # cleared between the two reads
            continue
        record = json.loads(raw)
        if ack is not None and abs(float(ack) - record["since"]) < 0.001:
            record["ack"] = True
        out.append(record)
    return out


WHOLE_ROW_AREAS = 200  # summaries asked for at once from which the whole row of the level is read
SUMMARY_CELL = np.dtype([
    ("updated", "<f8"), ("data_ts", "<f8"), ("domain_ts", "<f8", (len(DOMAINS),)),
    ("health", "<f4"), ("share", "<f4"), ("domain_score", "<f4", (len(DOMAINS),)),
    ("domain_share", "<f4", (len(DOMAINS),)), ("below", "<i4", (len(LEVELS) - 1, 2)),
    ("counts", "<i2", (len(STATE_NAMES),)), ("domain_counts", "<i2", (len(DOMAINS), len(STATE_NAMES))),
    ("panel_counts", "<i2", (len(PANELS), len(STATE_NAMES))), ("worst", "i1"),
])


def summary_positions(moved: np.ndarray, whole: bool) -> np.ndarray:
    """Positions of the summaries to write: those that ``moved``, or every one (a whole row) if many or ``whole``."""
    positions = np.flatnonzero(moved)
    if positions.size and (whole or positions.size * SPARSE_CELLS >= moved.size):
        return np.arange(moved.size)
    return positions


def queue_summaries(pipe: redis.client.Pipeline, level: str, positions: np.ndarray, width: int,
                    fields: Mapping[str, np.ndarray]) -> None:
    """Queue summaries of the areas at ``positions`` (``fields`` of ``SUMMARY_CELL``, one entry per area).

    Every area of the level (``width`` of them, in order): one whole row; else a SETRANGE per area.
    """
    text = pack_rows(SUMMARY_CELL, {k: np.asarray(a)[None] for k, a in fields.items()})[0]
    if positions.size == width:
        pipe.set(summary_key(level), text)
        return
    n = SUMMARY_CELL.itemsize
    for k, pos in enumerate(positions.tolist()):
        pipe.setrange(summary_key(level), pos * n, text[k * n : (k + 1) * n])


def unpack_summaries(ids: list[str], cells: np.ndarray, brief: bool = False) -> dict[str, dict]:
    """Packed summaries as the dashboard reads them, area -> summary; cells never written are left out.

    ``brief``: health, worst state, counts and data time only (what a map of many areas needs).
    Fields are turned into Python lists column by column: numpy access per cell costs more than the rest.
    """
    written = cells["updated"] > 0
    ids, cells = [a for a, w in zip(ids, written.tolist(), strict=True) if w], cells[written]
    if not ids:
        return {}
    counts = lambda c: dict(zip(STATE_NAMES, c, strict=True))  # noqa: E731
    below = lambda b: {lv: {"red": r, "yellow": y} for lv, (r, y) in zip(LEVELS[1:], b, strict=True)}  # noqa: E731
    out = {a: {"health": h, "share": sh, "worst": STATE_NAMES[w], "counts": counts(c), "below": below(b),
               "data_ts": t, "updated": u}
           for a, h, sh, w, c, b, t, u in zip(ids, _scores(cells["health"]), _shares(cells["share"]),
                                              cells["worst"].tolist(), cells["counts"].tolist(),
                                              cells["below"].tolist(), _nullable(cells["data_ts"]),
                                              cells["updated"].tolist(), strict=True)}
    if brief:
        return out
    domain_ts = _nullable(cells["domain_ts"].ravel())
    domain_score = _scores(cells["domain_score"].ravel())
    domain_share = _shares(cells["domain_share"].ravel())
    domain_counts, panel_counts = cells["domain_counts"].tolist(), cells["panel_counts"].tolist()
    n_d = len(DOMAINS)
    for k, summary in enumerate(out.values()):
        summary["domains"] = {d: {"score": domain_score[k * n_d + j], "share": domain_share[k * n_d + j],
                                  **counts(domain_counts[k][j]), "data_ts": domain_ts[k * n_d + j]}
                              for j, d in enumerate(DOMAINS)}
        summary["panels"] = {p: counts(panel_counts[k][j]) for j, p in enumerate(PANELS)}
    return out


def _scores(values: np.ndarray) -> list[float | None]:
    """Scores as shown, to one decimal; None where unknown (NaN: every indicator stale)."""
    return _nullable(np.round(values.astype(float), 1))


def _shares(values: np.ndarray) -> list[float | None]:
    """Shares of indicators with current data, to three decimals; None where nothing is judged."""
    return _nullable(np.round(values.astype(float), 3))


def _nullable(values: np.ndarray) -> list[float | None]:
    """Floats as a list, None where not finite."""
    return [v if ok else None for v, ok in zip(values.tolist(), np.isfinite(values).tolist(), strict=True)]


def _summary_row(client: redis.Redis, level: str) -> tuple[list[str], np.ndarray]:
    """Ids and packed summaries of every area of a level, in one round trip (a row may end before the ids)."""
    n = SUMMARY_CELL.itemsize
    pipe = client.pipeline(transaction=False)
    pipe.get(ids_key(level))
    _queue_raw(pipe, "GET", summary_key(level))
    ids, row = pipe.execute()
    row = row or b""  # SETRANGE past the end pads with zero bytes: a cell never written ("updated" 0)
    cells = np.frombuffer(row[: len(row) // n * n], dtype=SUMMARY_CELL)
    return json.loads(ids or "[]")[: len(cells)], cells


def read_summary_cells(client: redis.Redis, level: str, area_ids: list[str]) -> np.ndarray | None:
    """The packed summaries (``SUMMARY_CELL``) of every area of a level, if written for exactly ``area_ids``.

    None: published for other areas, or some area's summary never written.
    """
    ids, cells = _summary_row(client, level)
    if ids != area_ids or not (cells["updated"] > 0).all():
        return None
    return cells


def level_totals(client: redis.Redis, level: str) -> tuple[dict[str, int], dict[str, int]]:
    """Areas of a level by their worst state, and their macro indicators by state summed (summarised areas only)."""
    cells = _summary_row(client, level)[1]
    cells = cells[cells["updated"] > 0]
    worst = np.bincount(cells["worst"], minlength=len(STATE_NAMES)).tolist()
    counts = cells["counts"].sum(axis=0, dtype=np.int64).tolist() if cells.size else [0] * len(STATE_NAMES)
    return dict(zip(STATE_NAMES, worst, strict=True)), dict(zip(STATE_NAMES, counts, strict=True))


def read_summaries(client: redis.Redis, level: str, area_ids: list[str] | None = None,
                   brief: bool = False) -> dict[str, dict]:
    """Area summaries of one level (all of them, or only ``area_ids``): area -> summary; unknown areas left out.

    ``brief``: without the domains and panels (see :func:`unpack_summaries`).
    """
    if area_ids is None:
        return unpack_summaries(*_summary_row(client, level), brief=brief)
    return unpack_summaries(*summary_cells(client, level, area_ids), brief=brief)


def summary_cells(client: redis.Redis, level: str, area_ids: list[str]) -> tuple[list[str], np.ndarray]:
    """The packed summaries (``SUMMARY_CELL``) of ``area_ids`` as read, with their ids (unknown areas left out).

    Cells never written may be among them (``updated`` 0): :func:`unpack_summaries` leaves them out.
    """
    if len(area_ids) >= WHOLE_ROW_AREAS:  # one GET of the row beats looking up where each of them is
        wanted = set(area_ids)
        ids, cells = _summary_row(client, level)
        keep = np.fromiter((a in wanted for a in ids), dtype=bool, count=len(ids))
        return [a for a, k in zip(ids, keep.tolist(), strict=True) if k], cells[keep]
    n = SUMMARY_CELL.itemsize
    areas = read_areas(client, area_ids)
    ranges = [(summary_key(level), areas[a]["pos"] * n, areas[a]["pos"] * n + n - 1)
              if a in areas and areas[a]["level"] == level else None for a in area_ids]
    _, texts = _read_cells(client.pipeline(transaction=False), ranges)
    found = [(a, t) for a, t in zip(area_ids, texts, strict=True) if len(t) == n and any(t)]
    return [a for a, _ in found], np.frombuffer(b"".join(t for _, t in found), dtype=SUMMARY_CELL)


def warning_keys(client: redis.Redis) -> list[str]:
    """Keys (``indicator@area``) of every non-normal indicator state now."""
    return client.hkeys(WARNINGS)


def count_warnings(client: redis.Redis) -> int:
    """How many non-normal indicator states there are now."""
    return client.hlen(WARNINGS)


def read_warnings(client: redis.Redis) -> list[dict]:
    """Every non-normal indicator state now, as records."""
    return [json.loads(v) for v in client.hvals(WARNINGS)]


def read_warning(client: redis.Redis, indicator: str, area: str) -> dict | None:
    """The record of the warning of ``indicator`` in ``area`` now (None: no warning there)."""
    raw = client.hget(WARNINGS, warning_key(indicator, area))
    return None if raw is None else json.loads(raw)


def queue_early(pipe: redis.client.Pipeline, records: list[dict]) -> None:
    """Replace the early warnings standing (a few at a time: one small JSON list)."""
    pipe.set(EARLY, json.dumps(records))


def read_early(client: redis.Redis) -> list[dict]:
    """The early warnings standing now, the soonest expected first."""
    raw = client.get(EARLY)
    return sorted(json.loads(raw), key=lambda r: r["at"]) if raw else []


def read_meta(client: redis.Redis) -> dict[str, str]:
    """Engine and catalog metadata as written, field -> text (:func:`meta` reads it typed)."""
    return client.hgetall(META)


@dataclass(frozen=True)
class Meta:
    """What the engine and the catalog reloader last published in ``cv:meta`` (None: never written)."""

    last_tick: float | None = None  # the time the last tick scored at
    tick_duration: float | None = None  # seconds
    tick_samples: int | None = None
    indicators: int | None = None  # in the catalog the last tick scored with
    funnel_cells: int | None = None  # cells judged by funnel limits in the last tick
    catalog_version: str | None = None  # the live catalog's
    catalog_errors: tuple[str, ...] = ()  # of the last reload attempt (empty: it was good)
    catalog_checked: float = 0.0  # when a reload was last attempted (0: never)
    start_written: int | None = None  # state records an engine's first tick has written so far
    start_total: int | None = None  # of how many (None: no engine started since the store was new)
    written: int | None = None  # writes of what screens read so far (:func:`queue_written`; None: none yet)

    @property
    def stamp(self) -> tuple | None:
        """What names the state of everything ticks and acknowledgements write (None: nothing written yet).

        The count of those writes with the last tick's time (a store emptied and filled again counts from
        one again, at other times), the catalog, and a starting engine's progress (it writes in parts).
        """
        if self.written is None:
            return None
        return self.written, self.last_tick, self.catalog_version, self.start_written

    @property
    def starting(self) -> float | None:
        """The share of its records a starting engine has written (None: no engine is starting)."""
        if not self.start_total or self.start_written is None or self.start_written >= self.start_total:
            return None
        return self.start_written / self.start_total


def meta(client: redis.Redis) -> Meta:
    """Read the engine and catalog metadata, typed."""
    raw = read_meta(client)
    number = lambda name, kind: kind(raw[name]) if raw.get(name) else None  # noqa: E731
    return Meta(last_tick=number("last_tick", float), tick_duration=number("tick_duration", float),
                tick_samples=number("tick_samples", int), indicators=number("indicators", int),
                funnel_cells=number("funnel_cells", int), catalog_version=raw.get("catalog_version"),
                catalog_errors=tuple(json.loads(raw.get("catalog_errors") or "[]")),
                catalog_checked=float(raw.get("catalog_checked") or 0),
                start_written=number("start_written", int), start_total=number("start_total", int),
                written=number("written", int))


def read_built(client: redis.Redis, digest: str) -> str | None:
    """The JSON of a page part a dashboard process built from the data of ``digest`` (None: none kept)."""
    return client.get(f"{BUILT}:{digest}")


def write_built(client: redis.Redis, digest: str, body: str, ttl_s: float) -> None:
    """Keep the JSON of a page part built from the data of ``digest`` for the other processes, ``ttl_s`` long."""
    client.set(f"{BUILT}:{digest}", body, ex=max(1, int(ttl_s)))


def claim_build(client: redis.Redis, digest: str, ttl_s: float) -> bool:
    """Whether this process is the first to build the part of ``digest`` (the claim lapses after ``ttl_s``)."""
    return bool(client.set(f"{BUILT}:{digest}:building", 1, nx=True, ex=max(1, int(ttl_s))))


def wait_built(client: redis.Redis, digest: str, timeout_s: float, poll_s: float = 0.02) -> str | None:
    """The JSON of the part of ``digest`` once another process has kept it (None: not within ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while (body := read_built(client, digest)) is None and time.monotonic() < deadline:
        time.sleep(poll_s)
    return body


def read_catalog_version(client: redis.Redis) -> str:
    """The live catalog's version ("" before any engine published one), in one field read."""
    return client.hget(META, "catalog_version") or ""


def queue_tick(pipe: redis.client.Pipeline, now: float, catalog_version: str, indicators: int,
               funnel_cells: int) -> None:
    """Queue what a tick publishes with its writes: when it scored, with which catalog, and the funnel cells."""
    pipe.hset(META, mapping={"last_tick": now, "catalog_version": catalog_version, "indicators": indicators,
                             "funnel_cells": funnel_cells})
    queue_written(pipe)


def queue_written(pipe: redis.client.Pipeline | redis.Redis) -> None:
    """Count one more write of what screens read (a tick's states, an acknowledgement, a catalog swap's clearing).

    Queued after the writes it counts: a reader that reads :func:`meta` first and caches what it reads next
    under :attr:`Meta.stamp` never keeps anything older than that stamp (dashboard/data.py).
    """
    pipe.hincrby(META, "written", 1)


def queue_root(pipe: redis.client.Pipeline, summary: Mapping[str, Any]) -> None:
    """Queue the aggregates of the top area of an engine's tree (floats kept exact: JSON of their repr)."""
    pipe.set(ROOT, json.dumps(summary))


def read_root(client: redis.Redis) -> dict | None:
    """The aggregates an engine last published for the top area of its tree (None: it never ticked)."""
    raw = client.get(ROOT)
    return None if raw is None else json.loads(raw)


def queue_start(pipe: redis.client.Pipeline | redis.Redis, written: int, total: int) -> None:
    """Queue how far a starting engine's first tick got: ``written`` of its ``total`` state records."""
    pipe.hset(META, mapping={"start_written": written, "start_total": total})


def record_tick_time(client: redis.Redis, seconds: float, samples: int) -> None:
    """Publish how long the last tick took and how many samples it scored."""
    client.hset(META, mapping={"tick_duration": seconds, "tick_samples": samples})


def write_feed_health(client: redis.Redis | redis.client.Pipeline, feed: str, health: Mapping[str, Any]) -> None:
    """Publish one feed's health record (or queue it, given a pipeline)."""
    client.hset(FEEDS, feed, to_json(health))


def read_feed_health(client: redis.Redis) -> dict[str, dict]:
    """Health records of every feed, with the engine's counts of its late, duplicate and superseded samples."""
    pipe = client.pipeline(transaction=False)
    pipe.hgetall(FEEDS)
    pipe.hgetall(SCORED)
    records, scored = pipe.execute()
    health = {k: json.loads(v) | dict.fromkeys(SCORED_KINDS, 0) for k, v in records.items()}
    for key, count in scored.items():
        feed, _, kind = key.partition("\t")
        if feed in health:
            health[feed][kind] = int(count)
    return health


def queue_scored(pipe: redis.client.Pipeline, by_feed: Mapping[str, Mapping[str, int]]) -> None:
    """Queue adding the engine's late, duplicate and superseded counts of each feed's samples."""
    for feed, counts in by_feed.items():
        for kind, n in counts.items():
            if n:
                pipe.hincrby(SCORED, f"{feed}\t{kind}", n)


def record_catalog(client: redis.Redis, version: str, errors: list[str]) -> None:
    """Publish which catalog is live and the errors of the last reload attempt (empty: it was good)."""
    client.hset(META, mapping={"catalog_version": version, "catalog_errors": json.dumps(errors, ensure_ascii=False),
                               "catalog_checked": time.time()})


def write_definitions(client: redis.Redis, definitions: Mapping[str, Mapping[str, Any]]) -> None:
    """Replace the published definitions of the live catalog in one transaction."""
    pipe = client.pipeline(transaction=True)
    pipe.delete(CATALOG)
    if definitions:
        pipe.hset(CATALOG, mapping={k: json.dumps(v, ensure_ascii=False) for k, v in definitions.items()})
    pipe.execute()


def read_definitions(client: redis.Redis) -> dict[str, dict]:
    """Definitions of the live catalog: indicator -> definition."""
    return {k: json.loads(v) for k, v in client.hgetall(CATALOG).items()}


def write_areas(client: redis.Redis, areas: Mapping[str, Mapping[str, Any]], chunk: int = 10_000,
                digest: str = "") -> None:
    """Publish the area hierarchy (area -> level, parent, population, children), replacing the old one.

    ``digest``: what names this hierarchy (:func:`areas_digest` returns it once all is written).
    """
    items = [(a, json.dumps(v, ensure_ascii=False)) for a, v in areas.items()]
    client.delete(AREAS_DIGEST)  # a write cut short leaves no digest: the next engine writes them again
    pipe = client.pipeline(transaction=True)
    pipe.delete(AREAS)
    for start in range(0, len(items), chunk):
        pipe.hset(AREAS, mapping=dict(items[start : start + chunk]))
    pipe.execute()
    pipe = client.pipeline(transaction=False)  # other keys: on a cluster they cannot share the transaction
    for level in LEVELS:
        ordered = sorted((v["pos"], a) for a, v in areas.items() if v.get("level") == level and "pos" in v)
        pipe.set(ids_key(level), json.dumps([a for _, a in ordered], ensure_ascii=False))
    if digest:
        pipe.set(AREAS_DIGEST, digest)
    pipe.execute()


def areas_digest(client: redis.Redis) -> str | None:
    """What names the hierarchy last published whole (None: none, or one cut short)."""
    return client.get(AREAS_DIGEST)


def read_areas(client: redis.Redis, area_ids: list[str]) -> dict[str, dict]:
    """Return areas of the published hierarchy (unknown ones left out), in one round trip."""
    raw = client.hmget(AREAS, area_ids) if area_ids else []
    return {a: json.loads(v) for a, v in zip(area_ids, raw, strict=True) if v is not None}


def area_lineage(client: redis.Redis, area_id: str) -> list[tuple[str, str]]:
    """The area and its ancestors up to the root as (id, level), from the published hierarchy."""
    out: list[tuple[str, str]] = []
    while area_id is not None and len(out) <= len(LEVELS):
        area = read_areas(client, [area_id]).get(area_id)
        if area is None:
            break
        out.append((area_id, area["level"]))
        area_id = area.get("parent")
    return out


def read_definition(client: redis.Redis, indicator: str) -> dict | None:
    """Return one indicator's published definition, or None if the live catalog has no such indicator."""
    raw = client.hget(CATALOG, indicator)
    return None if raw is None else json.loads(raw)


def start_scenario(client: redis.Redis, scenario: str, area: str, start: float, minutes: float) -> None:
    """Ask the simulator to play a scenario in an area (it picks it up on its next round)."""
    client.hset(SCENARIOS, scenario_key(scenario, area),
                to_json({"scenario": scenario, "area": area, "start": start, "minutes": minutes}))


def read_scenarios(client: redis.Redis) -> list[dict]:
    """Scenarios asked for and not yet removed."""
    return [json.loads(v) for v in client.hvals(SCENARIOS)]


def stop_scenario(client: redis.Redis, scenario: str, area: str) -> bool:
    """Remove a scenario; False if it was not there."""
    return client.hdel(SCENARIOS, scenario_key(scenario, area)) == 1


def switch_profile(client: redis.Redis, profile: str, on: bool) -> bool:
    """Switch a threshold profile on or off for every engine; False if it already was."""
    return (client.sadd(PROFILES_ON, profile) if on else client.srem(PROFILES_ON, profile)) == 1


def profiles_on(client: redis.Redis) -> set[str]:
    """Profiles an operator has switched on."""
    return set(client.smembers(PROFILES_ON))


def read_orders(client: redis.Redis, order_ids: list[str]) -> dict[str, str]:
    """Records of the work orders in ``order_ids`` that the pipeline holds (one round trip): order -> line."""
    raw = client.hmget(WORKORDERS, order_ids) if order_ids else []
    return {o: v for o, v in zip(order_ids, raw, strict=True) if v is not None}


def write_orders(client: redis.Redis | redis.client.Pipeline, records: Mapping[str, str]) -> None:
    """Store work-order records (order -> line), replacing older versions (or queue them, given a pipeline)."""
    if records:
        client.hset(WORKORDERS, mapping=records)


def all_orders(client: redis.Redis) -> dict[str, str]:
    """Every work-order record the pipeline holds: order -> line."""
    return client.hgetall(WORKORDERS)


def drop_orders(client: redis.Redis, order_ids: list[str]) -> None:
    """Forget work orders (closed long enough ago that no window counts them)."""
    if order_ids:
        client.hdel(WORKORDERS, *order_ids)


def checkpoint_field(feed: str, file_id: str) -> str:
    """Return the checkpoint's field of one file (by its identity) replayed by one feed."""
    return f"{feed}@{file_id}"


def write_checkpoint(client: redis.Redis | redis.client.Pipeline, field: str, rows: int) -> None:
    """Record how many rows of a file a replay feed has delivered (or queue it, given a pipeline)."""
    client.hset(CHECKPOINTS, field, rows)


def read_checkpoint(client: redis.Redis, field: str) -> int:
    """Rows of a file (:func:`checkpoint_field`) a replay feed delivered before (0: start from the top)."""
    return int(client.hget(CHECKPOINTS, field) or 0)


def receipts_key(feed: str) -> str:
    """Key of the receipts of an MQTT feed's written messages (message id -> digest)."""
    return f"{PREFIX}:receipts:{feed}"


def queue_receipts(pipe: redis.client.Pipeline, feed: str, written: Mapping[int, str], forget: Iterable[int]) -> None:
    """Queue on ``pipe``: drop the receipts of acknowledged messages, then keep those of the ``written`` ones.

    In that order: a message id the broker reused since keeps its new receipt.
    """
    forget = list(forget)
    if forget:
        pipe.hdel(receipts_key(feed), *forget)
    if written:
        pipe.hset(receipts_key(feed), mapping=written)


def read_receipts(client: redis.Redis, feed: str, mids: list[int]) -> list[str | None]:
    """The receipts of these message ids (None where none is kept)."""
    return client.hmget(receipts_key(feed), mids) if mids else []
