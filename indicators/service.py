"""The engine's tick loop: read samples from the store, score, hand what changed to the writers, acknowledge.

What is written where lives beside it: ``state_writer`` and ``warning_writer`` (Redis), ``sql_recorder`` (SQL).
"""

from __future__ import annotations

import hashlib
import logging
import socket
import time
from collections import OrderedDict, deque
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import redis
from sqlalchemy.engine import Engine as SqlEngine

from cityvitals import store
from cityvitals.areas import LEVELS, AreaTree
from indicators import classify, snapshot
from indicators.compiled import compile_catalog
from indicators.engine import Engine, TickResult
from indicators.forecast import EarlyWarnings
from indicators.loader import Catalog
from indicators.province import root_summary
from indicators.snapshot import SnapshotKey
from indicators.sql_recorder import SqlRecorder
from indicators.state_writer import StateWriter
from indicators.value_recorder import ValueRecorder
from indicators.warning_writer import WarningWriter

log = logging.getLogger(__name__)
SEEN_BATCHES = 100_000  # batch ids remembered to drop a resent entry (feeds resend within seconds)


@dataclass
class TickReport:
    """Figures of one tick, for logs, metrics and the benchmark."""

    samples: int = 0  # samples of the entries scored (a resent entry already scored is left out)
    entries: int = 0
    late: int = 0  # samples truly out of order: counted, not applied
    duplicates: int = 0  # samples with the time of the value held: counted once
    superseded: int = 0  # in-order samples a newer one of their cell replaced within the tick
    by_feed: dict[str, dict[str, int]] = field(default_factory=dict)  # late/duplicate/superseded per feed
    resent: int = 0  # entries whose batch id was scored already (a feed resent after a lost reply)
    cells: int = 0  # state cells written (a cell moved: its value, data time, state or pending state)
    transitions: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def definitions(cat: Catalog) -> dict[str, dict]:
    """The catalog's indicators as the dashboards read them (with their file positions): id -> definition."""
    return {i.id: {**i.model_dump(mode="json"), "position": cat.positions.get(i.id, "")} for i in cat.indicators}


class EngineService:
    """Run the engine against Redis (and SQL for the warnings log and history)."""

    def __init__(self, client: redis.Redis, sql: SqlEngine | None, tree: AreaTree, catalog: Catalog,
                 consumer: str | None = None, history_levels: tuple[str, ...] = ("district", "street"),
                 history_step_s: float = 60.0, retention_s: float = 7 * 86400, max_entries: int = 2000,
                 values: ValueRecorder | None = None, early_log: bool = False, tz: str = "Asia/Shanghai",
                 snapshot_dir: Path | None = None) -> None:
        """``snapshot_dir``: where :meth:`save_snapshot` writes what the engine keeps, and a restart looks for it."""
        self.client, self.tree = client, tree
        self.engine = Engine(tree, compile_catalog(catalog), tz)
        self.early_log = early_log  # keep every early-warning event in memory (a run on a virtual clock)
        self.early = EarlyWarnings(self.engine, early_log)
        # Stable across restarts, so a restarted engine finds what it read but never acknowledged;
        # several engines on one host must be given distinct names.
        self.consumer = consumer or f"engine-{socket.gethostname()}"
        self.max_entries = max_entries
        self.states, self.warnings = StateWriter(tree), WarningWriter(client, tree)
        self.recorder = None if sql is None else SqlRecorder(sql, history_levels, history_step_s, retention_s)
        self.values = values  # every level's values, for trends at any level (cityvitals/archive/values.py)
        self._recovering = True  # first read this consumer's unacknowledged entries from a previous run
        self._failed = False  # a tick died on a Redis error: memory may hold what Redis never got
        self._seen: OrderedDict[str, None] = OrderedDict()  # batch ids scored and written
        self._started = False  # the first tick (every record written) is done: see _write_first
        self.snapshot_dir = snapshot_dir
        self._last_tick: float | None = None  # the time of the last tick written whole
        self.tree_digest = self._tree_digest()
        self._resume_from = self._resumable()  # what the engine before left, read before ours is published
        store.ensure_group(client)
        self.publish_areas()
        self.publish_catalog()
        self.snapshot_taken = self._take_snapshot()
        self.restore(grids=not self.snapshot_taken)

    def save_snapshot(self) -> Path | None:
        """Write what the engine keeps from its last tick to ``snapshot_dir``; returns where (None: nothing to save).

        For a stop (``indicators/snapshot.py``): a restart then goes on from it instead of scoring
        every indicator anew, if no tick was written since. Only after a tick written whole, with
        the engine not moved since (a tick scored but not written would not be what the store holds).
        """
        eng = self.engine
        if self.snapshot_dir is None or not self._started or self._failed or self._last_tick is None:
            return None
        if any(eng.tracks[level].last_now != self._last_tick for level in eng.parents):
            return None
        kept = eng.kept()
        if kept is None:
            return None
        arrays, scalars = kept
        arrays |= {f"{level}.below": below for level, below in self.states.below.items()}
        arrays["latest_rows"] = np.array(sorted(self.states.latest_rows), dtype=np.int64)
        key = SnapshotKey(self.tree_digest, eng.catalog.version, self._last_tick)
        return snapshot.save(self.snapshot_dir, key, arrays, scalars)

    def _take_snapshot(self) -> bool:
        """Go on from the snapshot of the tick the engine before wrote last, if there is one; returns whether.

        Everything it holds is then as that engine left it (the grids' latest values in Redis are those
        of that tick, written by it): no level is read back from the store, no record written again, and
        the first tick computes only what arrived since.
        """
        if self.snapshot_dir is None or self._resume_from is None or self._resume_from[1] != set(self.engine.parents):
            return False
        last_tick = self._resume_from[0]
        found = snapshot.load(self.snapshot_dir, SnapshotKey(self.tree_digest, self.engine.catalog.version, last_tick))
        if found is None:
            return False
        arrays, scalars = found
        try:
            self.engine.take_kept(arrays, scalars)
        except (ValueError, KeyError) as exc:
            log.warning("engine snapshot in %s does not fit (%s): scoring from nothing", self.snapshot_dir, exc)
            return False
        self.engine.expect_written(last_tick)
        self.states.restored(set(arrays["latest_rows"].tolist()))
        self.states.resumed(set(self.engine.parents), {level: arrays[f"{level}.below"] for level in self.engine.parents
                                                        if f"{level}.below" in arrays})
        self._resume_from, self._started, self._last_tick = None, True, last_tick
        log.info("went on from the engine snapshot of the tick at %.3f in %s", last_tick, self.snapshot_dir)
        return True

    def restore(self, grids: bool = True) -> int:
        """Rebuild the in-memory values from the latest values in Redis (after a restart); returns how many.

        ``grids=False``: the grids' values and the states are the engine's already (a snapshot of the
        store's last tick, :meth:`_take_snapshot`): only the levels' own values and the warnings are read.
        """
        eng = self.engine
        eng.adopt_feeds(store.read_feed_names(self.client))  # codes in the rows are the published ones
        restored = 0
        if grids:
            rows = store.read_latest(self.client, eng.metric_ids, eng.grid_ids)
            restored = sum(eng.load_latest(metric, cells) for metric, cells in rows.items())
            self.states.restored({eng.metric_pos[m] for m in rows})
            eng.take_touched()  # these are already in Redis
        for level, own in eng.own.items():
            rows = store.read_latest(self.client, own.metric_ids, own.area_ids, level)
            restored += sum(own.load(metric, cells) for metric, cells in rows.items())
            own.take_touched()
        warnings = store.read_warnings(self.client)
        if grids:
            eng.restore_states(warnings)
        self.warnings.restore(warnings)
        if self.recorder is not None:  # a previous engine may have died between writing Redis and logging to SQL
            self.recorder.catch_up(warnings)
        return restored

    def take_over(self) -> int:
        """Become the engine that leads: claim the entries others left unacknowledged, catch up from Redis."""
        claimed = store.claim_pending(self.client, self.consumer)
        self.restore()
        if not self._started:
            self._resume_from = self._resumable()
        self._recovering = True
        return claimed

    def _resumable(self) -> tuple[float, set[str]] | None:
        """When the engine before last ticked, and the levels it wrote for our areas; None: nothing to take back.

        Its records are ours to go on from only if it wrote them under our catalog and finished its
        first tick (every record written once).
        """
        last = store.meta(self.client)
        if last.last_tick is None or last.starting is not None or last.catalog_version != self.engine.catalog.version:
            return None
        return last.last_tick, {level for level in self.engine.parents
                                if store.read_level_ids(self.client, level) == self.tree.ids(level)}

    def _resume_in_background(self) -> None:
        """Start taking back what the engine before wrote (:meth:`_resume`) while the first tick rolls up."""
        last_tick, levels = self._resume_from
        self._resume_from = None
        limits = self.engine.expect_written(last_tick)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="resume")
        self.engine.resuming = pool.submit(self._resume, limits, last_tick, levels)
        pool.shutdown(wait=False)  # its one thread ends with the task

    def _resume(self, limits: dict[str, classify.Limits], last_tick: float, levels: set[str]) -> None:
        """Take back the states and records the engine before wrote (:meth:`Engine.resume`), level by level.

        Levels taken back whole are patched from now on like any tick's; if every level was, there is
        no first tick writing everything (nor a "starting" share): the store holds a whole state already.
        A level that starts over keeps at least its warnings.
        """
        eng, below, resumed = self.engine, {}, set()
        for level in levels:
            ids = self.tree.ids(level)
            summaries = store.read_summary_cells(self.client, level, ids)
            oldest = None if summaries is None else np.vstack([summaries["data_ts"][None], summaries["domain_ts"].T])
            if eng.resume(level, store.read_state_rows(self.client, level, eng.ind_ids, len(ids)), limits[level],
                          last_tick, oldest):
                resumed.add(level)
                if summaries is not None:
                    below[level] = summaries["below"].copy()
        lost = set(eng.parents) - resumed
        if lost:
            eng.take_back_warnings(store.read_warnings(self.client), lost)
        self.states.resumed(resumed, below)
        self._started = not lost

    def publish_areas(self) -> None:
        """Publish the hierarchy the engine rolls up over, so explanations read only Redis.

        The same hierarchy published whole already is left as it is: a restarted engine at province
        scale would otherwise rewrite 120,000 records for nothing.
        """
        tree, digest = self.tree, self.tree_digest
        if store.areas_digest(self.client) == digest:
            return
        store.write_areas(self.client, {
            a: {"level": level, "pos": pos, "parent": tree[a].parent, "pop": tree[a].population,
                "children": [c.id for c in tree.children(a)] if level != "grid" else []}
            for level in self.engine.parents for pos, a in enumerate(tree.ids(level))}, digest=digest)

    def _tree_digest(self) -> str:
        """A digest of what :meth:`publish_areas` publishes: each level's ids, populations and parents."""
        h = hashlib.sha1()
        for level in self.engine.parents:
            h.update("\n".join(self.tree.ids(level)).encode() + b"\0")
            h.update(np.ascontiguousarray(self.tree.population(level)).tobytes())
            if level == LEVELS[0]:  # the top areas' parents (a province above them, or none) are ids
                h.update(repr([self.tree[a].parent for a in self.tree.ids(level)]).encode())
            else:
                h.update(np.ascontiguousarray(self.tree.parent_index(level)).tobytes())
        return h.hexdigest()

    def publish_catalog(self) -> None:
        """Publish the live catalog's definitions, so every dashboard process shows the same ones."""
        cat = self.engine.catalog
        store.write_definitions(self.client, definitions(cat))
        store.write_rules(self.client, self.engine.rules)
        store.record_catalog(self.client, cat.version, errors=[])

    def set_catalog(self, catalog: Catalog) -> None:
        """Swap in a new validated catalog and restore values of metrics it newly reads."""
        old_ids = list(self.engine.ind_ids)
        self.engine.set_catalog(compile_catalog(catalog), time.time())
        self.early = EarlyWarnings(self.engine, self.early_log)  # the new catalog's forecast rules
        self.publish_catalog()
        self.restore()
        store.clear_states(self.client, set(old_ids) | set(self.engine.ind_ids))

    def tick(self, now: float | None = None) -> TickReport:
        """Consume new samples, score, write what changed, then acknowledge the samples.

        A Redis error is raised after marking the tick failed: the next tick starts over as a
        restarted engine does (values from Redis, then the unacknowledged entries), so nothing the
        failed tick read is lost or scored twice.
        """
        if self._failed:
            self._start_over()
        try:
            return self._tick(now)
        except (redis.RedisError, OSError):
            self._failed = True
            raise

    def _start_over(self) -> None:
        """Forget what is in memory and rebuild it from Redis, then re-read the unacknowledged entries."""
        if self.engine.resuming is not None:  # a restart's reading back cut short by the error: let it end first
            wait([self.engine.resuming])
        self.engine = Engine(self.tree, self.engine.compiled, self.engine.tz.key)
        self.early = EarlyWarnings(self.engine, self.early_log)
        self.restore()
        self._recovering = True
        self._failed = False
        self._started = False

    def _tick(self, now: float | None) -> TickReport:
        report = TickReport()
        t0 = time.perf_counter()
        entry_ids, batches = self._consume(report)
        t1 = time.perf_counter()
        now = time.time() if now is None else now
        self.engine.switched_on = store.profiles_on(self.client)
        if self._resume_from is not None:
            self._resume_in_background()
        elif not self._started:  # screens say "starting" from now on, not nothing, until every record is written
            store.queue_start(self.client, 0, self._records())
        result = self.engine.tick(now)
        early = self.early.update(result)
        t2 = time.perf_counter()
        self._write(result, report, early)
        self._remember(batches)
        store.ack(self.client, entry_ids)
        t3 = time.perf_counter()
        if self.recorder is not None:
            self.recorder.record(self.engine, result, now)
        if self.values is not None:
            self.values.record(self.engine, result, now)
        self._last_tick = now
        report.seconds = {"consume": t1 - t0, "score": t2 - t1, "write": t3 - t2, "sql": time.perf_counter() - t3}
        store.record_tick_time(self.client, time.perf_counter() - t0, report.samples)
        return report

    def _remember(self, batches: list[str]) -> None:
        """Keep the batch ids just written (the newest ``SEEN_BATCHES``)."""
        for bid in batches:
            self._seen[bid] = None
        while len(self._seen) > SEEN_BATCHES:
            self._seen.popitem(last=False)

    def _fresh(self, entries: list[store.Entry], report: TickReport) -> tuple[list[store.Entry], list[str]]:
        """Entries whose batch was not scored yet (each batch once), and their batch ids."""
        fresh, batches, this_tick = [], [], set()
        for entry in entries:
            if entry.batch and (entry.batch in self._seen or entry.batch in this_tick):
                report.resent += 1
                continue
            if entry.batch:
                this_tick.add(entry.batch)
                batches.append(entry.batch)
            fresh.append(entry)
        return fresh, batches

    def _consume(self, report: TickReport) -> tuple[list[str], list[str]]:
        """Read the entries waiting for this consumer (bounded per tick) into the engine.

        Returns the ids of every entry read (to acknowledge) and the batch ids of those scored.
        """
        entries: list[store.Entry] = []
        if self._recovering:  # after a restart: first what this consumer read but never acknowledged
            entries = store.read_entries(self.client, self.consumer, pending=True, count=self.max_entries)
            self._recovering = len(entries) == self.max_entries
        while len(entries) < self.max_entries:
            batch = store.read_entries(self.client, self.consumer, count=min(500, self.max_entries - len(entries)))
            if not batch:
                break
            entries += batch
        fresh, batches = self._fresh(entries, report)
        by_feed: dict[str, list[store.Columns]] = {}
        for entry in fresh:  # one vectorised ingest per feed, not one per entry
            by_feed.setdefault(entry.source, []).append(entry.samples)
        for feed, parts in by_feed.items():
            joined = store.Columns([m for p in parts for m in p.metric], [a for p in parts for a in p.area],
                                   np.concatenate([p.ts for p in parts]), np.concatenate([p.value for p in parts]))
            stats = self.engine.ingest_columns(joined, feed)
            report.samples += len(joined.metric)
            report.late += stats.late
            report.duplicates += stats.duplicate
            report.superseded += stats.superseded
            report.by_feed[feed] = {"late": stats.late, "duplicate": stats.duplicate, "superseded": stats.superseded}
        report.entries = len(entries)
        return [e.entry_id for e in entries], batches

    def _write(self, result: TickResult, report: TickReport, early: bool) -> None:
        """Write changed latest values, changed state records, summaries, warnings, meta and early warnings.

        One pipeline, sent in parts of about ``store.WRITE_CHUNK`` cells so that a first tick at
        province scale (every record once) does not hold all of them in memory; a first tick also
        sends each level whole, from the top, with the share of records written (:class:`StartProgress`),
        each part sent while the next is packed (:class:`BackgroundPipeline`).
        """
        if self._started:
            pipe = self.client.pipeline(transaction=False)
            self._queue(pipe, result, report, early, None)
            pipe.execute()
            return
        background = BackgroundPipeline(self.client)
        try:
            self._queue(background, result, report, early,
                        StartProgress(background, len(self.engine.ind_ids), self._records()))
            background.execute()
        finally:
            background.wait()
        self._started = True

    def _queue(self, pipe: redis.client.Pipeline, result: TickResult, report: TickReport, early: bool,
               start: StartProgress | None) -> None:
        """Queue what :meth:`_write` writes; ``start``: a first tick's progress, which sends each level."""
        eng = self.engine
        self.states.queue_feed_names(pipe, eng)
        self.states.queue_latest(pipe, eng)
        self.states.mark_below(eng, result)
        for lv in result.levels.values():
            if start is not None:
                start.begin(len(lv.area_ids))
            report.cells += self.states.queue_values(pipe, eng, lv, start and start.sending)
            self.warnings.queue(pipe, eng, lv)
            self.states.queue_summaries(pipe, eng, lv, result.now)
            if start is not None:
                start.end()
        report.transitions = len(result.transitions)
        store.queue_root(pipe, root_summary(eng, result))  # what a province of several engines combines
        store.queue_tick(pipe, result.now, eng.catalog.version, len(eng.ind_ids), eng.funnel_cells)
        store.queue_scored(pipe, report.by_feed)
        if early:  # an early warning raised or ended
            store.queue_early(pipe, self.early.records())

    def _records(self) -> int:
        """State records of every indicator at every level: what a first tick writes."""
        return len(self.engine.ind_ids) * sum(len(self.tree.ids(level)) for level in self.engine.parents)


class BackgroundPipeline:
    """A pipeline whose ``execute`` sends on a thread of its own, in order, while the next part is queued.

    A first tick at province scale packs and sends gigabytes: sending one part (the socket, and
    redis-server storing it) overlaps packing the next. At most one part waits behind the one
    being sent, so memory holds about three parts. :meth:`wait` returns once all are sent (and
    raises what sending raised).
    """

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._pipe = client.pipeline(transaction=False)
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="first-tick-writer")
        self._sent: deque[Future] = deque()

    def __getattr__(self, name: str) -> object:
        """Queue commands on the part being filled."""
        return getattr(self._pipe, name)

    def execute(self) -> None:
        """Hand the part queued so far to the sender and start the next; wait while one more is waiting."""
        self._sent.append(self._sender.submit(self._pipe.execute))
        self._pipe = self._client.pipeline(transaction=False)
        while len(self._sent) > 2:
            self._sent.popleft().result()

    def wait(self) -> None:
        """Return once every part was sent; the first error sending raised is raised here."""
        try:
            while self._sent:
                self._sent.popleft().result()
        finally:
            self._sender.shutdown(wait=True, cancel_futures=True)


class StartProgress:
    """How many state records a first tick has sent, published with each part (screens say "starting: n%")."""

    def __init__(self, pipe: redis.client.Pipeline, rows: int, total: int) -> None:
        self.pipe, self.rows, self.total = pipe, rows, total
        self.written = self.level_start = self.width = 0

    def begin(self, width: int) -> None:
        """A level of ``width`` areas is next (levels go from the top: the district is complete first)."""
        self.width = width

    def sending(self, rows: int) -> None:
        """Count ``rows`` whole rows of the level about to be sent, with the count going out with them."""
        self.written += rows * self.width
        store.queue_start(self.pipe, self.written, self.total)

    def end(self) -> None:
        """Count the level whole and send it: its summaries and warnings go out with its last rows."""
        self.level_start += self.rows * self.width
        self.written = self.level_start
        store.queue_start(self.pipe, self.written, self.total)
        self.pipe.execute()
