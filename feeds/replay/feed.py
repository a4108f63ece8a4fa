"""The replay feed: rows of an export through the ingest path, paced, with a checkpoint in Redis.

The checkpoint (rows done) travels with the batch that completes it, so through a Redis outage it
waits in the ingest buffer with its rows and is never written ahead of them: a replay that dies
while Redis is away resumes at the first row not in Redis. While the buffer has no room the replay
pauses rather than let rows overflow, and at the end it waits until its rows are delivered.
"""

from __future__ import annotations

import logging
import math
import time

from tqdm import tqdm

from cityvitals import store
from feeds.ingest import STORE_ERRORS, Checked, Ingestor, IngestResult, check_columns
from feeds.replay.apply import Long, apply
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.reader import file_identity, paced, read_table
from feeds.replay.report import FileReport

log = logging.getLogger(__name__)
WAIT_S = 0.05  # between looks at the buffer while Redis is away


class ReplayFeed:
    """Replay one file; ``run`` resumes after the last row delivered (kept in Redis) and returns rows sent."""

    def __init__(self, cfg: ReplayFeedConfig, ingestor: Ingestor) -> None:
        self.cfg, self.ingestor = cfg, ingestor
        self.stopped = False
        self.rows: int | None = None  # of the file, once read
        self.report: FileReport | None = None  # of the last run

    def run(self, max_rows: int | None = None, progress: bool = True) -> int:
        """Replay from the checkpoint to the end (or ``max_rows`` samples); bad rows are refused with their number."""
        cfg = self.cfg
        file_id = file_identity(cfg.file)
        self.ingestor.checkpoint_field = store.checkpoint_field(cfg.name, file_id)
        long = self.samples()
        self.rows = len(long)
        start = self._checkpoint()
        report = self.report = FileReport(str(cfg.file), file_id, len(long), start, empty=long.empty,
                                          done_before=start >= len(long) > 0)
        end = len(long) if max_rows is None else min(len(long), start + max_rows)
        speed = None if cfg.speed == "max" else float(cfg.speed)
        done = start
        with tqdm(total=len(long), initial=start, unit="row", desc=cfg.name, disable=not progress) as bar:
            for first, stop in paced(long.ts[:end], speed, start, cfg.batch):
                self._wait_for_room(stop - first)
                report.add(first, stop, self._submit(long, first, stop))
                bar.update(stop - first)
                done = stop
                if self.stopped:
                    break
        self._wait_delivered()
        report.finish(long.cells(), long.ts)
        return done - start

    def _submit(self, long: Long, first: int, stop: int) -> IngestResult:
        """Submit samples ``first:stop``: as columns when they name their area, else as items (points)."""
        # Row numbers as a person finds them in the file: the header is line 1.
        where = lambda i: f"row {long.line[first + i]}"  # noqa: E731
        if long.area is None:
            return self.ingestor.submit(long.items(first, stop), where=where, checkpoint=stop,
                                        preset=long.refusals(first, stop))
        item_of = lambda i: long.items(first + i, first + i + 1)[0]  # noqa: E731 (only refused ones are made)
        return self.ingestor.submit_columns(long.columns(first, stop), item_of, where=where, checkpoint=stop)

    def samples(self) -> Long:
        """Read the file and apply the mapping: every sample in file order (a ValueError if either is unusable)."""
        cfg = self.cfg
        mapping = cfg.load_mapping()
        frame = read_table(cfg.file)
        missing = sorted(mapping.columns() - set(map(str, frame.columns)))
        if missing:
            raise ValueError(f"{cfg.file}: no column {', '.join(map(repr, missing))} "
                             f"(columns: {', '.join(map(str, frame.columns))})")
        if mapping.time.allow_before_2000:
            self.ingestor.rules.earliest = -math.inf
        long = apply(frame, mapping)
        long.check_known(self.ingestor.rules)
        return long

    def dry_run(self) -> tuple[Long, Checked]:
        """Map and check every sample as a replay would, writing nothing; the samples and the verdicts."""
        long = self.samples()
        if long.area is None:
            return long, self.ingestor.check(long.items(0, len(long)), long.refusals(0, len(long)))
        return long, check_columns(long.columns(0, len(long)), self.ingestor.rules, self.ingestor.clock(),
                                   lambda i: long.items(i, i + 1)[0])

    @property
    def checkpoint_field(self) -> str:
        """Where this feed's checkpoint of its file is kept (known once a run read the file)."""
        return self.ingestor.checkpoint_field

    def _checkpoint(self) -> int:
        """The row to start from, waiting (with backoff) for Redis if it is away."""
        failures = 0
        while True:
            try:
                return store.read_checkpoint(self.ingestor.client, self.ingestor.checkpoint_field)
            except STORE_ERRORS as exc:
                if not failures:
                    log.warning("replay %s: cannot read the checkpoint, waiting for Redis: %s", self.cfg.name, exc)
                failures += 1
                time.sleep(self.ingestor.backoff.compute(failures))

    def _wait_for_room(self, rows: int) -> None:
        """Pause while the ingest buffer (Redis away) has no room for ``rows`` more.

        Rows overflowing it would be dropped, and the checkpoint of a later batch would skip them.
        """
        while (held := self.ingestor.buffered()) and held + rows > self.ingestor.buffer_limit and not self.stopped:
            time.sleep(WAIT_S)

    def _wait_delivered(self) -> None:
        """Wait until the rows sent are in Redis (or the replay is stopped: the checkpoint says where)."""
        if self.ingestor.buffered():
            log.warning("replay %s: waiting for Redis to take %d buffered rows", self.cfg.name,
                        self.ingestor.buffered())
        while not self.stopped and not self.ingestor.drain(WAIT_S * 10):
            pass
