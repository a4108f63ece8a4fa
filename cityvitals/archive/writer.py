"""The archiver: the sample stream to Parquet through a consumer group of its own.

A round reads up to ``max_entries`` entries, writes them (one file per day and level they touch,
named after the round's first and last entry ids) and only then acknowledges them. A restarted
archiver first reads what it never acknowledged: the same entries, so the same file names, and a
file written before the kill is replaced by the same rows rather than doubled.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import redis

from cityvitals import store
from cityvitals.archive.files import (
    COMPACTED,
    UNKNOWN_LEVEL,
    compact,
    expire,
    files,
    partition_dir,
    partitions,
    write_atomic,
)
from cityvitals.archive.parse import parse_entries
from cityvitals.leader import Leadership
from cityvitals.outage import Outage

log = logging.getLogger(__name__)
SEEN_BATCHES = 100_000  # batch ids remembered to drop a resent entry (feeds resend within seconds)


@dataclass
class RoundReport:
    """What one round did."""

    entries: int = 0
    samples: int = 0  # written
    bad: int = 0  # lines that did not parse, or with a time that has no day: counted, logged, skipped
    resent: int = 0  # entries whose batch was archived already
    files: int = 0


class Archiver:
    """Write every sample of the stream to Parquet partitioned by day and level."""

    def __init__(self, client: redis.Redis, root: Path, levels: Mapping[str, str], consumer: str | None = None,
                 keep_days: float = 90.0, max_entries: int = 200, max_files: int = 24) -> None:
        self.client, self.root, self.levels = client, Path(root), levels
        self.consumer = consumer or f"archive-{socket.gethostname()}"  # stable: a restart finds its pending entries
        self.keep_days, self.max_entries, self.max_files = keep_days, max_entries, max_files
        self._recovering = True
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._level_names = sorted({*levels.values(), UNKNOWN_LEVEL})
        store.ensure_group(client, store.ARCHIVE_GROUP)

    def recover(self) -> None:
        """Read the unacknowledged entries first at the next round (after a restart, a take-over or an error)."""
        self._recovering = True

    def round(self) -> RoundReport:
        """Archive one read of entries, then acknowledge them; on a Redis or disk error, read them again next round."""
        try:
            return self._round()
        except (redis.RedisError, OSError):
            self._recovering = True
            raise

    def _round(self) -> RoundReport:
        entries: list[store.RawEntry] = []
        if self._recovering:  # alone in its round: the same entries as before, so the same file names
            entries = store.read_raw_entries(self.client, self.consumer, store.ARCHIVE_GROUP, pending=True,
                                             count=self.max_entries)
            self._recovering = len(entries) == self.max_entries
        if not entries:
            entries = store.read_raw_entries(self.client, self.consumer, store.ARCHIVE_GROUP, count=self.max_entries)
        if not entries:
            return RoundReport()
        report, batches = self.write(entries)
        store.ack(self.client, [e.entry_id for e in entries], group=store.ARCHIVE_GROUP)
        for bid in batches:
            self._seen[bid] = None
        while len(self._seen) > SEEN_BATCHES:
            self._seen.popitem(last=False)
        return report

    def write(self, entries: list[store.RawEntry]) -> tuple[RoundReport, list[str]]:
        """Write the samples of ``entries`` (not acknowledged) to disk; also the batch ids written."""
        parsed = parse_entries(entries, self._seen)
        files = self._write(parsed.table, f"{entries[0].entry_id}_{entries[-1].entry_id}.parquet")
        return RoundReport(len(entries), len(parsed.table), parsed.bad, parsed.resent, files), parsed.batches

    def _write(self, table: pa.Table, name: str) -> int:
        """Write ``table`` as one file per (day, level) partition; returns the files written."""
        if not len(table):
            return 0
        areas = table["area"].combine_chunks().dictionary_encode()
        level_of = np.array([self._level_names.index(self.levels.get(a, UNKNOWN_LEVEL))
                             for a in areas.dictionary.to_pylist()], dtype=np.int64)
        day = np.floor(table["ts"].to_numpy() / 86400).astype(np.int64)
        key = day * len(self._level_names) + level_of[areas.indices.to_numpy()]
        order = np.argsort(key, kind="stable")
        starts = np.flatnonzero(np.r_[True, np.diff(key[order]) != 0])
        for start, end in zip(starts, np.r_[starts[1:], len(order)], strict=True):
            k = int(key[order[start]])
            day_text = datetime.fromtimestamp(k // len(self._level_names) * 86400, UTC).strftime("%Y-%m-%d")
            level = self._level_names[k % len(self._level_names)]
            write_atomic(table.take(order[start:end]), partition_dir(self.root, day_text, level) / name)
        return len(starts)

    def maintain(self, now: datetime | None = None) -> tuple[list[str], int]:
        """Delete the days past retention and compact partitions; returns the days deleted and partitions compacted.

        Once its day is over a partition is merged into one file. Before that, its round files are
        merged into one more file whenever there are ``max_files`` of them: today's growing data is
        not rewritten every time. Run it between rounds (a round rewriting a file that is being
        compacted would be lost).
        """
        now = now or datetime.now(UTC)
        gone = expire(self.root, self.keep_days, now)
        today, compacted = now.strftime("%Y-%m-%d"), 0
        for day, _level, directory in partitions(self.root):
            paths = files(directory)
            if day >= today:
                paths = [p for p in paths if not p.name.startswith(COMPACTED)]
                paths = paths if len(paths) >= self.max_files else []
            if len(paths) > 1:
                compact(paths)
                compacted += 1
        return gone, compacted


class ArchiveJob:
    """The archiver's periodic job: archive what waits while this process leads the archive role."""

    def __init__(self, archiver: Archiver, leadership: Leadership, budget_s: float = 30.0,
                 maintain_every_s: float = 600.0) -> None:
        self.archiver, self.leadership = archiver, leadership
        self.budget_s, self.maintain_every_s = budget_s, maintain_every_s
        self.leading, self._maintained = False, -math.inf
        self.outage = Outage(log)

    def __call__(self) -> None:
        if not self.leadership.held():
            self.leading = False
            return
        try:
            self._run()
        except (redis.RedisError, OSError) as exc:  # logged once, not every round: it retries by itself
            self.outage.failed("archive: %s; retrying every round, nothing acknowledged is lost", exc)
            return
        self.outage.worked("archive: writing again")

    def _run(self) -> None:
        arch = self.archiver
        if not self.leading:  # what a previous leader read and never acknowledged is ours to write now
            claimed = store.claim_pending(arch.client, arch.consumer, group=store.ARCHIVE_GROUP)
            log.info("archive: leading now (%d unacknowledged entries claimed)", claimed)
            arch.recover()
            self.leading = True
        deadline = time.monotonic() + self.budget_s
        while arch.round().entries == arch.max_entries and time.monotonic() < deadline:
            pass  # a backlog: keep going, within the job's time budget
        if time.monotonic() - self._maintained > self.maintain_every_s:
            gone, compacted = arch.maintain()
            self._maintained = time.monotonic()
            if gone or compacted:
                log.info("archive: %d day(s) past retention deleted, %d partition(s) compacted", len(gone), compacted)
