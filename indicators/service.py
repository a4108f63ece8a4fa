"""The engine's I/O: read samples from the store, score, write states back, log to SQL."""

from __future__ import annotations

import logging
import math
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import redis
from sqlalchemy.engine import Engine as SqlEngine

from cityvitals import store
from cityvitals.areas import LEVELS, AreaTree
from cityvitals.vocabulary import STATE_NAMES
from indicators import health
from indicators.compiled import compile_catalog
from indicators.engine import Engine, LevelResult, TickResult, cells_at, cells_of
from indicators.history import DomainHistory, append_history, log_transitions, unlogged, utc
from indicators.loader import Catalog
from indicators.states import State

log = logging.getLogger(__name__)
SEEN_BATCHES = 100_000  # batch ids remembered to drop a resent entry (feeds resend within seconds)


@dataclass
class TickReport:
    """Figures of one tick, for logs, metrics and the benchmark."""

    samples: int = 0  # samples of the entries scored (a resent entry already scored is left out)
    entries: int = 0
    late: int = 0  # samples older than the value held: counted, not applied
    duplicates: int = 0  # samples with the time of the value held: counted once
    resent: int = 0  # entries whose batch id was scored already (a feed resent after a lost reply)
    cells: int = 0  # state cells written (a cell moved: its value, data time, state or pending state)
    transitions: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


class EngineService:
    """Run the engine against Redis (and SQL for the warnings log and history)."""

    def __init__(self, client: redis.Redis, sql: SqlEngine | None, tree: AreaTree, catalog: Catalog,
                 consumer: str | None = None, history_levels: tuple[str, ...] = ("district", "street"),
                 history_step_s: float = 60.0, retention_s: float = 7 * 86400, max_entries: int = 2000) -> None:
        self.client, self.sql, self.tree = client, sql, tree
        self.engine = Engine(tree, compile_catalog(catalog))
        # Stable across restarts, so a restarted engine finds what it read but never acknowledged;
        # several engines on one host must be given distinct names.
        self.consumer = consumer or f"engine-{socket.gethostname()}"
        self.history_levels, self.history_step_s, self.retention_s = history_levels, history_step_s, retention_s
        self.max_entries = max_entries
        self._next_history = 0.0
        self._recovering = True  # first read this consumer's unacknowledged entries from a previous run
        self._failed = False  # a tick died on a Redis error: memory may hold what Redis never got
        self._seen: OrderedDict[str, None] = OrderedDict()  # batch ids scored and written
        self._feed_names: list[str] = []  # the feed names last published
        self._latest_head = store.latest_head(tree.ids("grid"))  # names the grid list of latest rows
        self._rules: tuple[Catalog | None, dict] = (None, {})  # JSON of each (indicator row, rule code)'s thresholds
        self._latest_rows: set[int] = set()  # metric rows whose latest row exists in Redis (written or restored)
        self._value_levels: set[str] = set()  # levels whose value rows this engine wrote whole once
        self._residents = {level: tree.population(level) for level in self.engine.parents}
        self._ancestors: dict[tuple[str, str], np.ndarray] | None = None  # (level, above) -> ancestor index
        self._below: dict[str, np.ndarray] = {}  # per level: red/yellow areas below each area, as last written
        self._peaks: dict[str, tuple[float, float]] = {}  # warning key -> (value that raised it, worst value since)
        store.ensure_group(client)
        self.publish_areas()
        self.publish_catalog()
        self.restore()

    def restore(self) -> int:
        """Rebuild the in-memory values from the latest values in Redis (after a restart)."""
        eng = self.engine
        eng.adopt_feeds(store.read_feed_names(self.client))  # codes in the rows are the published ones
        rows = store.read_latest(self.client, eng.metric_ids, eng.grid_ids)
        restored = sum(eng.load_latest(metric, cells) for metric, cells in rows.items())
        self._latest_rows = {eng.metric_pos[m] for m in rows}
        eng.take_touched()  # these are already in Redis
        warnings = store.read_warnings(self.client)
        eng.restore_states(warnings)
        self._peaks = {str(store.WarningKey.of(w)): (w["raised"], w["peak"]) for w in warnings
                       if w.get("raised") is not None and w.get("peak") is not None}
        if self.sql is not None:  # a previous engine may have died between writing Redis and logging to SQL
            log_transitions(self.sql, unlogged(self.sql, warnings))
        return restored

    def take_over(self) -> int:
        """Become the engine that leads: claim the entries others left unacknowledged, catch up from Redis."""
        claimed = store.claim_pending(self.client, self.consumer)
        self.restore()
        self._recovering = True
        return claimed

    def publish_areas(self) -> None:
        """Publish the hierarchy the engine rolls up over, so explanations read only Redis."""
        tree = self.tree
        store.write_areas(self.client, {
            a: {"level": level, "pos": pos, "parent": tree[a].parent, "pop": tree[a].population,
                "children": [c.id for c in tree.children(a)] if level != "grid" else []}
            for level in self.engine.parents for pos, a in enumerate(tree.ids(level))})

    def publish_catalog(self) -> None:
        """Publish the live catalog's definitions, so every dashboard process shows the same ones."""
        cat = self.engine.catalog
        store.write_definitions(self.client, {
            i.id: {**i.model_dump(mode="json"), "position": cat.positions.get(i.id, "")} for i in cat.indicators})
        store.write_rules(self.client, self.engine.rules)
        store.record_catalog(self.client, cat.version, errors=[])

    def set_catalog(self, catalog: Catalog) -> None:
        """Swap in a new validated catalog and restore values of metrics it newly reads."""
        old_ids = list(self.engine.ind_ids)
        self.engine.set_catalog(compile_catalog(catalog), time.time())
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
        self.engine = Engine(self.tree, self.engine.compiled)
        self.restore()
        self._recovering = True
        self._failed = False

    def _tick(self, now: float | None) -> TickReport:
        report = TickReport()
        t0 = time.perf_counter()
        entry_ids, batches = self._consume(report)
        t1 = time.perf_counter()
        now = time.time() if now is None else now
        self.engine.switched_on = store.profiles_on(self.client)
        result = self.engine.tick(now)
        t2 = time.perf_counter()
        self._write(result, report)
        self._remember(batches)
        store.ack(self.client, entry_ids)
        t3 = time.perf_counter()
        self._log(result, now)
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
        report.entries = len(entries)
        return [e.entry_id for e in entries], batches

    def _write(self, result: TickResult, report: TickReport) -> None:
        """Write changed latest values, changed state records, summaries, warnings and meta.

        One pipeline, sent in parts of about ``WRITE_CHUNK`` cells so that a first tick at province
        scale (every record once) does not hold all of them in memory.
        """
        pipe = self.client.pipeline(transaction=False)
        if self.engine.feeds != self._feed_names:  # a new feed: name it before any packed row uses it
            store.write_feed_names(pipe, self.engine.feeds)
            self._feed_names = list(self.engine.feeds)
        self._write_latest(pipe)
        self._mark_below(result)
        for level in result.levels.values():
            report.cells += self._write_level(pipe, level, result.now)
        report.transitions = len(result.transitions)
        store.queue_tick(pipe, result.now, self.engine.catalog.version, len(self.engine.ind_ids),
                         self.engine.funnel_cells)
        pipe.execute()

    def _mark_below(self, result: TickResult) -> None:
        """Count the red and yellow areas below every area; an area whose counts moved has its summary rewritten."""
        macro = self._catalog_arrays()[0] == "macro"
        worst = {level: health.worst(lv.state[macro]) for level, lv in result.levels.items()}
        if self._ancestors is None:
            self._ancestors = {(lower, level): self.engine._ancestor(lower, level)
                               for k, level in enumerate(LEVELS) for lower in LEVELS[k + 1:]}
        below = health.below_counts(worst, self._ancestors)
        for level, lv in result.levels.items():
            old = self._below.get(level)
            if old is not None:
                lv.dirty_areas |= (old != below[level]).any(axis=(1, 2))
        self._below = below

    def _write_latest(self, pipe: redis.client.Pipeline) -> None:
        """Persist the latest values that changed (read back on restart)."""
        eng = self.engine
        rows, cols = eng.take_touched()
        head = self._latest_head
        known = np.zeros(len(eng.metric_ids), dtype=bool)
        known[list(self._latest_rows)] = True
        store.queue_latest(pipe, head, eng.metric_ids, rows, cols, len(eng.grid_ids),
                           lambda r, c: {"v": eng.values[r, c], "ts": eng.ts[r, c], "src": eng.feed[r, c]}, known)
        self._latest_rows.update(rows.tolist())

    def _write_level(self, pipe: redis.client.Pipeline, lv: LevelResult, now: float) -> int:
        """Queue one level's state cells that moved, warnings and summaries; returns how many cells moved."""
        written = self._write_values(pipe, lv)
        self._write_warnings(pipe, lv)
        self._write_summaries(pipe, lv, now)
        return written

    def _write_values(self, pipe: redis.client.Pipeline, lv: LevelResult) -> int:
        """Queue the state cells that moved (every row exists once the first tick wrote it); returns how many."""
        eng = self.engine
        rows, cols = np.nonzero(lv.dirty)
        store.queue_values(pipe, lv.level, eng.ind_ids, rows, cols, len(lv.area_ids), lambda r, c: {
                               "v": lv.value[r, c], "ts": lv.ts[r, c], "since": lv.since[r, c],
                               "ps": lv.pending_since[r, c], "cov": lv.coverage[r, c],
                               "num": lv.num[r, c], "den": lv.den[r, c],
                               "src": eng.source_codes(lv.level, r, c), "rule": cells_at(lv.limits.source, r, c),
                               "s": lv.state[r, c], "p": lv.pending[r, c]},
                           np.array([lv.level in self._value_levels] * len(eng.ind_ids)))
        self._value_levels.add(lv.level)
        return int(rows.size)

    def _write_warnings(self, pipe: redis.client.Pipeline, lv: LevelResult) -> None:
        """Queue every moved warning cell's full record; drop only the cells that left a warning."""
        ids, areas = self.engine.ind_ids, lv.area_ids
        rows, cols = np.nonzero(lv.dirty & (lv.state >= State.YELLOW))
        keys = [store.warning_key(ids[r], areas[c]) for r, c in zip(rows.tolist(), cols.tolist(), strict=True)]
        records = self._warning_records(lv, rows, cols, self._peak_values(lv, keys, rows, cols))
        raised = dict(zip(keys, records, strict=True))
        # a warning's rank in the ticker moves only with its state (and so its since)
        macro, residents = self._catalog_arrays()[0] == "macro", self._residents[lv.level]
        ranked = {k: store.ticker_score(STATE_NAMES[s], lv.level, t, macro[r], residents[c])
                  for k, r, c, s, t, moved in zip(keys, rows.tolist(), cols.tolist(), lv.state[rows, cols].tolist(),
                                                  lv.since[rows, cols].tolist(), lv.changed[rows, cols].tolist(),
                                                  strict=True) if moved}
        if lv.fresh_start:  # drop what an earlier engine left for this level and is no warning now
            mine = set(areas)
            gone = [k for k in store.warning_keys(self.client)
                    if store.WarningKey.parse(k).area in mine and k not in raised]
        else:
            gone_rows, gone_cols = np.nonzero(lv.dirty & lv.cleared)
            gone = [store.warning_key(ids[r], areas[c])
                    for r, c in zip(gone_rows.tolist(), gone_cols.tolist(), strict=True)]
        for key in gone:
            self._peaks.pop(key, None)
        store.update_warnings(pipe, raised, ranked, gone, self.tree)

    def _peak_values(self, lv: LevelResult, keys: list[str], rows: np.ndarray,
                     cols: np.ndarray) -> tuple[list, list]:
        """The value that raised each warning (when it took its state) and its worst value since."""
        values, changed = lv.value[rows, cols].tolist(), lv.changed[rows, cols].tolist()
        higher = self.engine.compiled.higher[rows].tolist()
        raised, peak = [], []
        for key, v, new, up in zip(keys, values, changed, higher, strict=True):
            was = self._peaks.get(key)
            if was is None or (new and not lv.fresh_start):  # a start marks every cell new: keep what was restored
                was = (v, v)
            elif math.isfinite(v):
                was = (was[0], max(was[1], v) if up else min(was[1], v))
            self._peaks[key] = was
            raised.append(was[0])
            peak.append(was[1])
        return raised, peak

    def _write_summaries(self, pipe: redis.client.Pipeline, lv: LevelResult, now: float) -> None:
        """Queue the summaries of the areas whose summary moved (all of them on a first tick, as one row)."""
        columns = store.summary_positions(lv.dirty_areas, lv.fresh_start)
        if not columns.size:
            return
        fields = health.summary_fields(lv.state, lv.judged, *self._catalog_arrays(), columns)
        oldest = lv.oldest[:, columns]
        store.queue_summaries(pipe, lv.level, columns, len(lv.area_ids), {
            **fields, "below": self._below[lv.level][columns], "data_ts": oldest[0], "domain_ts": oldest[1:].T,
            "updated": np.full(columns.size, now)})

    def _warning_records(self, lv: LevelResult, rows: np.ndarray, cols: np.ndarray,
                         peaks: tuple[list, list]) -> list[str]:
        """JSON records of the given cells (``store.encode_warnings``): enough to explain each on screen."""
        ids, rules = self.engine.ind_ids, self._rule_texts()
        return store.encode_warnings(lv.level, self.engine.feeds, store.WarningCells(
            [ids[r] for r in rows.tolist()], [lv.area_ids[c] for c in cols.tolist()], lv.state[rows, cols],
            lv.value[rows, cols], lv.ts[rows, cols], lv.since[rows, cols],
            [rules[r][k] for r, k in zip(rows.tolist(), cells_of(lv.limits.source, rows, cols), strict=True)],
            self.engine.source_codes(lv.level, rows, cols), lv.coverage[rows, cols], lv.num[rows, cols],
            lv.den[rows, cols], np.array(peaks[0], dtype=float), np.array(peaks[1], dtype=float),
            lv.pending[rows, cols], lv.pending_since[rows, cols]))

    def _rule_texts(self) -> dict[int, dict[int, str]]:
        """Per indicator row and rule code, the ``"y","r","rule"`` part of a record (built once per catalog)."""
        cat = self.engine.catalog
        if self._rules[0] is not cat:
            self._rules = (cat, {row: store.rule_fragments(self.engine.rules[ind])
                                 for row, ind in enumerate(self.engine.ind_ids)})
        return self._rules[1]

    def _log(self, result: TickResult, now: float) -> None:
        """Write transitions to the warnings log and, once per history step, coarse history."""
        if self.sql is None:
            return
        log_transitions(self.sql, [
            {"at": utc(t.at), "indicator": t.indicator, "level": t.level, "area": t.area,
             "from_state": t.from_state, "to_state": t.to_state,
             "value": t.value if np.isfinite(t.value) else None, "yellow": t.yellow, "red": t.red}
            for t in result.transitions])
        if now >= self._next_history:
            self._next_history = now + self.history_step_s
            rows = [
                {"at": utc(now), "indicator": ind, "area": area,
                 "value": float(lv.value[r, c]) if np.isfinite(lv.value[r, c]) else None,
                 "state": State(lv.state[r, c]).label}
                for level in self.history_levels for lv in [result.levels[level]]
                for c, area in enumerate(lv.area_ids) for r, ind in enumerate(self.engine.ind_ids)
            ]
            append_history(self.sql, rows, self.retention_s, now)
            append_history(self.sql, self._domain_rows(result, now), self.retention_s, now, DomainHistory)

    def _catalog_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Tier, group and weight of every indicator, in the engine's row order."""
        c = self.engine.compiled
        return c.tiers, c.groups, c.weights

    def _domain_rows(self, result: TickResult, now: float) -> list[dict]:
        """Domain scores and health index of the history levels' areas, for the tiles' sparklines."""
        tiers, groups, weights = self._catalog_arrays()
        rows = []
        for level in self.history_levels:
            lv = result.levels[level]
            for domain, scores in health.domain_scores(lv.state, lv.judged, tiers, groups, weights).items():
                rows += [{"at": utc(now), "area": a, "domain": domain, "score": s}
                         for a, s in zip(lv.area_ids, scores, strict=True)]
        return rows
