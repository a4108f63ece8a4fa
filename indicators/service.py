"""The engine's I/O: read samples from the store, score, write states back, log to SQL."""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass, field

import numpy as np
import redis
from sqlalchemy.engine import Engine as SqlEngine

from cityvitals import store
from cityvitals.areas import AreaTree
from indicators import health
from indicators.engine import Engine, LevelResult, TickResult
from indicators.history import append_history, log_transitions, utc
from indicators.loader import Catalog
from indicators.states import State

log = logging.getLogger(__name__)
STATE_LABELS = np.array([state.label for state in State])  # indexed by the State value


@dataclass
class TickReport:
    """Figures of one tick, for logs, metrics and the benchmark."""

    samples: int = 0
    entries: int = 0
    records: int = 0
    transitions: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


class EngineService:
    """Run the engine against Redis (and SQL for the warnings log and history)."""

    def __init__(self, client: redis.Redis, sql: SqlEngine | None, tree: AreaTree, catalog: Catalog,
                 consumer: str | None = None, history_levels: tuple[str, ...] = ("district", "street"),
                 history_step_s: float = 60.0, retention_s: float = 7 * 86400, max_entries: int = 2000) -> None:
        self.client, self.sql, self.tree = client, sql, tree
        self.engine = Engine(tree, catalog)
        self.consumer = consumer or f"{socket.gethostname()}-{id(self):x}"
        self.history_levels, self.history_step_s, self.retention_s = history_levels, history_step_s, retention_s
        self.max_entries = max_entries
        self._next_history = 0.0
        self._recovering = True  # first read this consumer's unacknowledged entries from a previous run
        store.ensure_group(client)
        self.publish_catalog()
        self.restore()

    def restore(self) -> int:
        """Rebuild the in-memory values from the latest values in Redis (after a restart)."""
        restored = 0
        for metric, by_area in store.read_latest(self.client, self.engine.metric_ids).items():
            if by_area:
                values, ts, feeds = zip(*by_area.values(), strict=True)
                restored += self.engine.load_metric(metric, list(by_area), np.array(values), np.array(ts), list(feeds))
        return restored

    def publish_catalog(self) -> None:
        """Publish the live catalog's definitions, so every dashboard process shows the same ones."""
        cat = self.engine.catalog
        store.write_definitions(self.client, {
            i.id: {**i.model_dump(mode="json"), "position": cat.positions.get(i.id, "")} for i in cat.indicators})
        store.record_catalog(self.client, cat.version, errors=[])

    def set_catalog(self, catalog: Catalog) -> None:
        """Swap in a new validated catalog and restore values of metrics it newly reads."""
        self.engine.set_catalog(catalog, time.time())
        self.publish_catalog()
        self.restore()
        self.client.delete(*[store.state_key(a) for level in self.engine.parents for a in self.tree.ids(level)])
        self.client.delete(store.WARNINGS)

    def tick(self, now: float | None = None) -> TickReport:
        """Consume new samples, score, write what changed, then acknowledge the samples."""
        report = TickReport()
        t0 = time.perf_counter()
        entry_ids, touched = self._consume(report)
        t1 = time.perf_counter()
        now = time.time() if now is None else now
        result = self.engine.tick(now)
        t2 = time.perf_counter()
        self._write(result, touched, report)
        store.ack(self.client, entry_ids)
        t3 = time.perf_counter()
        self._log(result, now)
        report.seconds = {"consume": t1 - t0, "score": t2 - t1, "write": t3 - t2, "sql": time.perf_counter() - t3}
        return report

    def _consume(self, report: TickReport) -> tuple[list[str], dict[str, set[str]]]:
        """Read the entries waiting for this consumer (bounded per tick) into the engine."""
        entries: list[store.Entry] = []
        if self._recovering:  # after a restart: first what this consumer read but never acknowledged
            entries = store.read_entries(self.client, self.consumer, pending=True, count=self.max_entries)
            self._recovering = len(entries) == self.max_entries
        while len(entries) < self.max_entries:
            batch = store.read_entries(self.client, self.consumer, count=min(500, self.max_entries - len(entries)))
            if not batch:
                break
            entries += batch
        touched: dict[str, set[str]] = {}
        for entry in entries:
            self.engine.ingest(entry.samples, entry.source)
            for s in entry.samples:
                touched.setdefault(s.metric, set()).add(s.area)
            report.samples += len(entry.samples)
        report.entries = len(entries)
        return [e.entry_id for e in entries], touched

    def _write(self, result: TickResult, touched: dict[str, set[str]], report: TickReport) -> None:
        """Write latest values, changed state records, summaries, warnings and meta in one pipeline."""
        pipe = self.client.pipeline(transaction=False)
        for metric, areas in touched.items():
            if metric in self.engine.metric_pos:
                latest = self.engine.latest(metric, areas)
                store.write_latest(pipe, metric, {a: store.pack_latest(*x) for a, x in latest.items()})
        for level in result.levels.values():
            report.records += self._write_level(pipe, level, result.now)
        report.transitions = len(result.transitions)
        pipe.hset(store.META, mapping={"last_tick": result.now, "catalog_version": self.engine.catalog.version,
                                       "indicators": len(self.engine.ind_ids)})
        pipe.execute()

    def _write_level(self, pipe: redis.client.Pipeline, lv: LevelResult, now: float) -> int:
        cols, rows = np.nonzero(lv.dirty.T)  # area-major, so each area's fields are contiguous
        if rows.size:
            records = store.pack_states(STATE_LABELS[lv.state[rows, cols]], lv.value[rows, cols], lv.ts[rows, cols],
                                        lv.since[rows, cols], self.engine.limit_texts(lv.limits, rows, cols),
                                        lv.coverage[rows, cols])
            indicators = self._ind_array[rows]
            bounds = np.flatnonzero(np.diff(cols)) + 1
            for start, end in zip(np.r_[0, bounds].tolist(), np.r_[bounds, rows.size].tolist(), strict=True):
                pipe.hset(store.state_key(lv.area_ids[cols[start]]),
                          mapping=dict(zip(indicators[start:end], records[start:end], strict=True)))
            warn = np.flatnonzero(lv.state[rows, cols] >= State.YELLOW)
            if warn.size:
                pipe.hset(store.WARNINGS, mapping={
                    store.warning_field(indicators[k], lv.area_ids[cols[k]]): f"{lv.level}|{records[k]}"
                    for k in warn.tolist()})
        cleared_rows, cleared_cols = np.nonzero(lv.cleared)
        if cleared_rows.size:
            pipe.hdel(store.WARNINGS, *[store.warning_field(self.engine.ind_ids[r], lv.area_ids[c])
                                        for r, c in zip(cleared_rows.tolist(), cleared_cols.tolist(), strict=True)])
        columns = np.flatnonzero(lv.dirty_areas)
        if columns.size:
            cat = self.engine.catalog
            tiers = np.array([i.tier for i in cat.indicators])
            groups = np.array([i.group for i in cat.indicators])
            weights = np.array([i.weight for i in cat.indicators])
            sums = health.summaries(lv.state, tiers, groups, weights, columns)
            oldest = np.nanmin(np.where(np.isfinite(lv.ts[:, columns]), lv.ts[:, columns], np.inf), axis=0)
            pipe.hset(store.summary_key(lv.level), mapping={
                lv.area_ids[c]: store.to_json({**s, "data_ts": float(t) if np.isfinite(t) else None, "updated": now})
                for c, s, t in zip(columns, sums, oldest, strict=True)})
        return int(rows.size)

    @property
    def _ind_array(self) -> np.ndarray:
        return np.array(self.engine.ind_ids, dtype=object)

    def _log(self, result: TickResult, now: float) -> None:
        """Write transitions to the warnings log and, once per history step, coarse history."""
        if self.sql is None:
            return
        log_transitions(self.sql, [
            {"at": utc(t.at), "indicator": t.indicator, "level": t.level, "area": t.area, "from_state": t.from_state,
             "to_state": t.to_state, "value": t.value if np.isfinite(t.value) else None, "yellow": t.yellow, "red": t.red}
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

