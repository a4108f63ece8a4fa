r"""The Redis key layout and every read and write of live data: the one module that knows the keys.

Layout (all keys start with ``cv:``):

- ``cv:samples``           stream; one entry per ingest batch: ``src`` (feed name), ``n``, ``data``
                           (lines ``metric\\tarea\\tts\\tvalue``) and ``bid`` (batch id, the same when
                           a feed resends after a failed write, so the engine scores it once). Batching
                           keeps round trips per sample low; consumer groups make the engine resumable.
- ``cv:deadletter``        stream of refused input: ``src``, ``reason``, ``item``.
- ``cv:latest:<metric>``   string: the latest value of one metric in every grid, packed like a value row
                           (value, sample time, feed code per grid, in the grids' ``pos`` order) behind
                           ``<fingerprint of the grid list>:``; written by the engine, read on restart.
- ``cv:state:<indicator>`` hash area -> JSON of the slow part of a state record (state, since,
                           thresholds in force and the rule that set them), every level in one hash,
                           rewritten only when one of them changes; the children of an area are one
                           HMGET away (for "why is this red").
- ``cv:values:<level>:<indicator>`` string: the fast part of the records of one indicator in every
                           area of one level, in the order of the areas' ``pos`` in ``cv:areas``: per
                           area 24 bytes (value f8, data time f8, coverage f4, feed code i2, padding),
                           base64, so area k is the 32 characters at 32k (GETRANGE reads one area,
                           SETRANGE writes one). Feeds deliver a metric for many areas at once, so a
                           tick rewrites a few whole rows, or patches single areas of a row.
- ``cv:feednames``         JSON list: the feed names the feed codes in value rows stand for.
- ``cv:summary:<level>``   hash area -> JSON area summary (health, domain scores, counts, worst).
- ``cv:warnings``          hash ``indicator@area`` -> JSON of every non-normal state now.
- ``cv:meta``              hash: last tick time and duration, catalog version and errors, ...
- ``cv:feeds``             hash feed -> JSON health (last sample, rate, errors, lag).
- ``cv:catalog``           hash indicator -> JSON definition of the live catalog (names, units, rules).
- ``cv:areas``             hash area -> JSON ``{level, parent, pop, children}``: the hierarchy as the
                           engine uses it, so explanations need nothing but Redis.
- ``cv:checkpoints``       hash replay feed -> rows of its file delivered (where a restart resumes).
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
- ``cv:LIMITER/...``       rate-limit counters, owned by Flask-Limiter (cityvitals/web.py).

Every key stands alone (no multi-key command or transaction spans two keys), so the layout works
unchanged on a Redis Cluster (``REDIS_URL=redis+cluster://host:port``). The one transaction, a led
feed's write WATCHing its lock (cityvitals/leader.py), is made on one Redis server only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import redis

from cityvitals.areas.model import LEVELS

PREFIX = "cv"
SAMPLES = f"{PREFIX}:samples"
DEADLETTER = f"{PREFIX}:deadletter"
WARNINGS = f"{PREFIX}:warnings"
META = f"{PREFIX}:meta"
FEEDS = f"{PREFIX}:feeds"
CATALOG = f"{PREFIX}:catalog"
AREAS = f"{PREFIX}:areas"
SCENARIOS = f"{PREFIX}:scenarios"
PROFILES_ON = f"{PREFIX}:profiles_on"
WORKORDERS = f"{PREFIX}:workorders"
CHECKPOINTS = f"{PREFIX}:checkpoints"
FEEDNAMES = f"{PREFIX}:feednames"
ENGINE_GROUP = "engine"
STREAM_MAXLEN = 200_000  # entries (batches), trimmed approximately; consumers keep far behind this


def latest_key(metric: str) -> str:
    """Key of the latest-value hash of ``metric``."""
    return f"{PREFIX}:latest:{metric}"


def state_key(indicator: str) -> str:
    """Key of the state hash of ``indicator`` (area -> record)."""
    return f"{PREFIX}:state:{indicator}"


def values_key(level: str, indicator: str) -> str:
    """Key of the value row of ``indicator`` over the areas of ``level``."""
    return f"{PREFIX}:values:{level}:{indicator}"


def summary_key(level: str) -> str:
    """Key of the area-summary hash for one hierarchy level."""
    return f"{PREFIX}:summary:{level}"


class Sample(NamedTuple):
    """One measured number for one area at one time (``ts`` in Unix seconds)."""

    metric: str
    area: str
    ts: float
    value: float


def encode_batch(samples: Iterable[tuple[str, str, float, float]]) -> tuple[str, int]:
    """Pack samples (or plain tuples in their field order) into the stream's line format; returns text and count."""
    lines = [f"{metric}\t{area}\t{ts!r}\t{value!r}" for metric, area, ts, value in samples]
    return "\n".join(lines), len(lines)


class Columns(NamedTuple):
    """Samples of one stream entry as columns, for vectorised ingestion."""

    metric: list[str]
    area: list[str]
    ts: np.ndarray
    value: np.ndarray


def decode_columns(data: str) -> Columns:
    """Unpack a stream entry's ``data`` field into columns (the inverse of :func:`encode_batch`)."""
    fields = data.replace("\n", "\t").split("\t") if data else []
    if len(fields) % 4:
        raise ValueError(f"stream entry has {len(fields)} fields, not a multiple of 4")
    return Columns(fields[0::4], fields[1::4], np.array(fields[2::4], dtype=float),
                   np.array(fields[3::4], dtype=float))


def append_samples(client: redis.Redis, source: str, samples: list[Sample], batch: int = 1000) -> int:
    """Append already-validated samples to the stream in batches; returns how many were written."""
    pipe = client.pipeline(transaction=False)
    queue_samples(pipe, source, samples, batch=batch)
    pipe.execute()
    return len(samples)


def queue_samples(pipe: redis.client.Pipeline, source: str, samples: Sequence[tuple[str, str, float, float]],
                  bid: str = "", batch: int = 1000) -> None:
    """Queue already-validated samples on ``pipe``, one entry per ``batch``; entry k of batch ``bid`` is ``bid.k``."""
    for k, start in enumerate(range(0, len(samples), batch)):
        data, n = encode_batch(samples[start : start + batch])
        fields = {"src": source, "n": n, "data": data}
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


def ensure_group(client: redis.Redis, group: str = ENGINE_GROUP) -> None:
    """Create the consumer group on the sample stream (from its start) if it does not exist."""
    try:
        client.xgroup_create(SAMPLES, group, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


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


def grid_fingerprint(grid_ids: Iterable[str]) -> str:
    """Name a grid list by its content: latest rows written for another list of grids are not read back."""
    return hashlib.sha1("\n".join(grid_ids).encode()).hexdigest()[:LATEST_HEAD - 1]


LATEST_HEAD = 13  # characters of "<fingerprint>:" before the cells of a latest row


def read_latest(client: redis.Redis, metrics: Iterable[str], grid_ids: list[str]) -> dict[str, np.ndarray]:
    """Read the latest values of ``metrics`` for ``grid_ids``: metric -> cells (``CELL`` records, one per grid).

    Rows written for another grid list, or never written, are left out.
    """
    metrics, head = list(metrics), grid_fingerprint(grid_ids) + ":"
    pipe = client.pipeline(transaction=False)
    for metric in metrics:
        pipe.get(latest_key(metric))
    return {m: np.frombuffer(base64.b64decode(raw[LATEST_HEAD:]), dtype=CELL)
            for m, raw in zip(metrics, pipe.execute(), strict=True)
            if raw is not None and raw.startswith(head) and len(raw) == LATEST_HEAD + len(grid_ids) * CELL_CHARS}


def to_json(record: Mapping[str, Any]) -> str:
    """Serialise a record compactly; NaN becomes null so browsers can parse it."""
    return json.dumps(
        {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def write_states(pipe: redis.client.Pipeline, indicator: str, records: Mapping[str, str]) -> None:
    """Queue slow state records (already JSON) of one indicator, area -> record, on ``pipe``."""
    if records:
        pipe.hset(state_key(indicator), mapping=records)


CELL = np.dtype([("v", "<f8"), ("ts", "<f8"), ("cov", "<f4"), ("src", "<i2"), ("pad", "V2")])
CELL_CHARS = CELL.itemsize // 3 * 4  # base64 characters per area; 24 bytes encode without padding


def pack_rows(value: np.ndarray, ts: np.ndarray, cov: np.ndarray, src: np.ndarray) -> list[str]:
    """Pack (rows x areas) arrays into one base64 text per row (a row's areas in order).

    One encoding pass over all rows: a cell is a multiple of 3 bytes, so the encoding of the
    whole block is the concatenation of the rows' (and of the cells') encodings.
    """
    cells = np.zeros(value.shape, dtype=CELL)
    cells["v"], cells["ts"], cells["cov"], cells["src"] = value, ts, cov, src
    text = base64.b64encode(cells.tobytes()).decode("ascii")
    width = value.shape[1] * CELL_CHARS
    return [text[k * width : (k + 1) * width] for k in range(value.shape[0])]


def set_row(pipe: redis.client.Pipeline, key: str, row: str) -> None:
    """Queue a whole packed row (a value row, or a latest row with its head)."""
    pipe.set(key, row)


def set_cell(pipe: redis.client.Pipeline, key: str, offset: int, pos: int, cell: str) -> None:
    """Queue one packed cell into its row (``offset``: characters before the first cell), leaving the rest alone."""
    pipe.setrange(key, offset + pos * CELL_CHARS, cell)


def read_feed_names(client: redis.Redis) -> list[str]:
    """The feed names the feed codes in packed rows stand for."""
    return json.loads(client.get(FEEDNAMES) or "[]")


def write_feed_names(pipe: redis.client.Pipeline, feeds: list[str]) -> None:
    """Queue the feed names the feed codes in value rows stand for."""
    pipe.set(FEEDNAMES, json.dumps(feeds, ensure_ascii=False))


def _cell_range(indicator: str, area: dict | None) -> tuple[str, int, int] | None:
    """Key and character range of one area's packed values (None: an area the engine has not published)."""
    if area is None or "pos" not in area:
        return None
    start = area["pos"] * CELL_CHARS
    return values_key(area["level"], indicator), start, start + CELL_CHARS - 1


def _read_cells(pipe: redis.client.Pipeline, ranges: list[tuple[str, int, int] | None]) -> tuple[list, list[str]]:
    """Queue the cell reads on ``pipe`` and execute it: its earlier replies, and a cell per range ("" for none)."""
    queued = [r for r in ranges if r is not None]
    for r in queued:
        pipe.getrange(*r)
    replies = pipe.execute()
    split = len(replies) - len(queued)
    got = iter(replies[split:])
    return replies[:split], [next(got) if r is not None else "" for r in ranges]


def _merge(slow: str, cell: str, feeds: list[str]) -> dict:
    """Join a slow record with its packed values into the full state record."""
    record = json.loads(slow)
    if len(cell) != CELL_CHARS or cell[0] == "\0":  # never written (a row SETRANGE padded with zeros)
        return record | {"v": None, "ts": None, "cov": 0.0, "src": "?"}
    (value, ts, cov, src, _), = np.frombuffer(base64.b64decode(cell), dtype=CELL).tolist()
    return record | {"v": _finite_or_none(value), "ts": _finite_or_none(ts), "cov": round(cov, 4),
                     "src": feeds[src] if 0 <= src < len(feeds) else "?"}


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def read_states(client: redis.Redis, area_id: str, indicators: Iterable[str] | None = None) -> dict[str, dict]:
    """Read the indicator states of one area (of the live catalog's indicators by default): indicator -> record."""
    indicators = list(client.hkeys(CATALOG) if indicators is None else indicators)
    area = read_areas(client, [area_id]).get(area_id)
    pipe = client.pipeline(transaction=False)
    pipe.get(FEEDNAMES)  # in the same round trip as the rows that use it
    for indicator in indicators:
        pipe.hget(state_key(indicator), area_id)
    (feeds, *slow), cells = _read_cells(pipe, [_cell_range(i, area) for i in indicators])
    feeds = json.loads(feeds or "[]")
    return {i: _merge(raw, c, feeds) for i, raw, c in zip(indicators, slow, cells, strict=True) if raw is not None}


def read_state_of(client: redis.Redis, indicator: str, area_ids: list[str]) -> dict[str, dict]:
    """State records of one indicator in ``area_ids`` (two round trips): area -> record."""
    if not area_ids:
        return {}
    areas = read_areas(client, area_ids)
    pipe = client.pipeline(transaction=False)
    pipe.get(FEEDNAMES)
    pipe.hmget(state_key(indicator), area_ids)
    (feeds, slow), cells = _read_cells(pipe, [_cell_range(indicator, areas.get(a)) for a in area_ids])
    feeds = json.loads(feeds or "[]")
    return {a: _merge(v, c, feeds) for a, v, c in zip(area_ids, slow, cells, strict=True) if v is not None}


def clear_states(client: redis.Redis, indicators: Iterable[str]) -> None:
    """Delete the state records, value rows and warnings of ``indicators`` (after a catalog swap)."""
    indicators = list(indicators)
    client.delete(WARNINGS, *[state_key(i) for i in indicators])
    for level in LEVELS:
        client.delete(*[values_key(level, i) for i in indicators])


def update_warnings(pipe: redis.client.Pipeline, raised: Mapping[str, str], cleared: list[str]) -> None:
    """Queue warning records to set (``indicator@area`` -> JSON) and keys to drop, one command each."""
    if raised:
        pipe.hset(WARNINGS, mapping=raised)
    if cleared:
        pipe.hdel(WARNINGS, *cleared)


def read_summaries(client: redis.Redis, level: str, area_ids: list[str] | None = None) -> dict[str, dict]:
    """Area summaries of one level (all of them, or only ``area_ids``) in one round trip."""
    key = summary_key(level)
    if area_ids is None:
        raw = client.hgetall(key)
    else:
        values = client.hmget(key, area_ids) if area_ids else []
        raw = {a: v for a, v in zip(area_ids, values, strict=True) if v is not None}
    return {a: json.loads(v) for a, v in raw.items()}


def warning_keys(client: redis.Redis) -> list[str]:
    """Keys (``indicator@area``) of every non-normal indicator state now."""
    return client.hkeys(WARNINGS)


def read_warnings(client: redis.Redis) -> list[dict]:
    """Every non-normal indicator state now, as records."""
    return [json.loads(v) for v in client.hvals(WARNINGS)]


def read_meta(client: redis.Redis) -> dict[str, str]:
    """Engine and catalog metadata (last tick, durations, catalog errors)."""
    return client.hgetall(META)


def write_feed_health(client: redis.Redis | redis.client.Pipeline, feed: str, health: Mapping[str, Any]) -> None:
    """Publish one feed's health record (or queue it, given a pipeline)."""
    client.hset(FEEDS, feed, to_json(health))


def read_feed_health(client: redis.Redis) -> dict[str, dict]:
    """Health records of every feed."""
    return {k: json.loads(v) for k, v in client.hgetall(FEEDS).items()}


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


def write_areas(client: redis.Redis, areas: Mapping[str, Mapping[str, Any]], chunk: int = 10_000) -> None:
    """Publish the area hierarchy (area -> level, parent, population, children), replacing the old one."""
    pipe = client.pipeline(transaction=True)
    pipe.delete(AREAS)
    items = [(a, json.dumps(v, ensure_ascii=False)) for a, v in areas.items()]
    for start in range(0, len(items), chunk):
        pipe.hset(AREAS, mapping=dict(items[start : start + chunk]))
    pipe.execute()


def read_areas(client: redis.Redis, area_ids: list[str]) -> dict[str, dict]:
    """Return areas of the published hierarchy (unknown ones left out), in one round trip."""
    raw = client.hmget(AREAS, area_ids) if area_ids else []
    return {a: json.loads(v) for a, v in zip(area_ids, raw, strict=True) if v is not None}


def read_definition(client: redis.Redis, indicator: str) -> dict | None:
    """Return one indicator's published definition, or None if the live catalog has no such indicator."""
    raw = client.hget(CATALOG, indicator)
    return None if raw is None else json.loads(raw)


def start_scenario(client: redis.Redis, scenario: str, area: str, start: float, minutes: float) -> None:
    """Ask the simulator to play a scenario in an area (it picks it up on its next round)."""
    client.hset(SCENARIOS, f"{scenario}@{area}",
                to_json({"scenario": scenario, "area": area, "start": start, "minutes": minutes}))


def read_scenarios(client: redis.Redis) -> list[dict]:
    """Scenarios asked for and not yet removed."""
    return [json.loads(v) for v in client.hvals(SCENARIOS)]


def stop_scenario(client: redis.Redis, scenario: str, area: str) -> bool:
    """Remove a scenario; False if it was not there."""
    return client.hdel(SCENARIOS, f"{scenario}@{area}") == 1


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


def write_orders(client: redis.Redis, records: Mapping[str, str]) -> None:
    """Store work-order records (order -> line), replacing older versions."""
    if records:
        client.hset(WORKORDERS, mapping=records)


def all_orders(client: redis.Redis) -> dict[str, str]:
    """Every work-order record the pipeline holds: order -> line."""
    return client.hgetall(WORKORDERS)


def drop_orders(client: redis.Redis, order_ids: list[str]) -> None:
    """Forget work orders (closed long enough ago that no window counts them)."""
    if order_ids:
        client.hdel(WORKORDERS, *order_ids)


def write_checkpoint(client: redis.Redis | redis.client.Pipeline, feed: str, rows: int) -> None:
    """Record how many rows of its file a replay feed has delivered (or queue it, given a pipeline)."""
    client.hset(CHECKPOINTS, feed, rows)


def read_checkpoint(client: redis.Redis, feed: str) -> int:
    """Rows of its file a replay feed delivered before (0: start from the top)."""
    return int(client.hget(CHECKPOINTS, feed) or 0)


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
