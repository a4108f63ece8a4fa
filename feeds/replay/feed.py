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
from collections.abc import Iterator

import pandas as pd
from tqdm import tqdm

from cityvitals import store
from feeds.ingest import STORE_ERRORS, Checked, Ingestor, IngestResult, check_columns
from feeds.replay.apply import Long, apply
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.mapping import Mapping
from feeds.replay.reader import CHUNK_BYTES, file_identity, pace_origin, paced, read_chunks
from feeds.replay.report import FileReport

log = logging.getLogger(__name__)
WAIT_S = 0.05  # between looks at the buffer while Redis is away
WRITE_SAMPLES = 50_000  # sent in one round trip by a replay at full speed (a batch a stream entry)


class ReplayFeed:
    """Replay one file; ``run`` resumes after the last row delivered (kept in Redis) and returns rows sent.

    The file is read ``chunk_bytes`` at a time, each chunk mapped and sent before the next is read, so
    memory holds one chunk, not the file. Rows are counted across the whole file: the checkpoint and
    the row numbers of refusals go on from one chunk to the next.
    """

    def __init__(self, cfg: ReplayFeedConfig, ingestor: Ingestor, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.cfg, self.ingestor, self.chunk_bytes = cfg, ingestor, chunk_bytes
        self.stopped = False
        self.rows: int | None = None  # samples of the file, once a run has read it to its end
        self.report: FileReport | None = None  # of the last run

    def run(self, max_rows: int | None = None, progress: bool = True) -> int:
        """Replay from the checkpoint to the end (or ``max_rows`` samples); bad rows are refused with their number."""
        cfg = self.cfg
        file_id = file_identity(cfg.file)
        self.ingestor.checkpoint_field = store.checkpoint_field(cfg.name, file_id)
        start = self._checkpoint()
        end = math.inf if max_rows is None else start + max_rows
        report = self.report = FileReport(str(cfg.file), file_id, start=start)
        speed = None if cfg.speed == "max" else float(cfg.speed)
        write = self._write_size() if speed is None else cfg.batch
        offset, origin = 0, None  # samples of the file before this chunk; what the pace counts from
        with tqdm(initial=start, unit="row", desc=cfg.name, disable=not progress) as bar:
            for long in self.chunks():
                # This run's samples within the chunk: from the checkpoint, up to max_rows.
                first_here, stop_here = max(start - offset, 0), int(min(len(long), end - offset))
                origin = origin or pace_origin(long.ts[first_here:stop_here])
                for first, stop in paced(long.ts[:stop_here], speed, first_here, write, origin=origin):
                    self._wait_for_room(stop - first)
                    report.add(offset + first, offset + stop, self._submit(long, first, stop, offset))
                    bar.update(stop - first)
                    if self.stopped:
                        break
                report.tally(long, offset)
                offset += len(long)
                if self.stopped or offset >= end:
                    break
            else:
                self.rows = report.rows = offset
        self._wait_delivered()
        return report.read

    def _submit(self, long: Long, first: int, stop: int, offset: int) -> IngestResult:
        """Submit samples ``first:stop`` of a chunk whose first sample is the file's ``offset``-th.

        As columns when they name their area, else as items (points). The checkpoint counts samples of the file.
        """
        # Row numbers as a person finds them in the file: the header is line 1.
        where = lambda i: f"row {long.line[first + i]}"  # noqa: E731
        if long.area is None:
            return self.ingestor.submit(long.items(first, stop), where=where, checkpoint=offset + stop,
                                        preset=long.refusals(first, stop), entry=self.cfg.batch)
        item_of = lambda i: long.items(first + i, first + i + 1)[0]  # noqa: E731 (only refused ones are made)
        return self.ingestor.submit_columns(long.columns(first, stop), item_of, where=where,
                                            checkpoint=offset + stop, entry=self.cfg.batch)

    def _write_size(self) -> int:
        """Samples a submission holds at full speed: whole stream entries, a quarter of the ingest buffer at most.

        One round trip per entry cost more than the rest of the ingest path; a submission far below
        the buffer's bound never has one overflow it whole while Redis is away.
        """
        batch = self.cfg.batch
        return max(batch, min(WRITE_SAMPLES, self.ingestor.buffer_limit // 4) // batch * batch)

    def chunks(self) -> Iterator[Long]:
        """The file's samples a chunk at a time, in file order, with the file's row numbers."""
        mapping = self._mapping()
        line = 2  # the header is line 1
        for frame in read_chunks(self.cfg.file, self.chunk_bytes):
            if len(frame):
                yield self._mapped(frame, mapping, line)
                line += len(frame)

    def _mapping(self) -> Mapping:
        """The feed's mapping; its rules let times before 2000 in where it says so."""
        mapping = self.cfg.load_mapping()
        if mapping.time.allow_before_2000:
            self.ingestor.rules.earliest = -math.inf
        return mapping

    def _mapped(self, frame: pd.DataFrame, mapping: Mapping, first_line: int) -> Long:
        """The samples of ``frame`` (its first row on ``first_line``), checked but for time (ValueError: no column)."""
        missing = sorted(mapping.columns() - set(map(str, frame.columns)))
        if missing:
            raise ValueError(f"{self.cfg.file}: no column {', '.join(map(repr, missing))} "
                             f"(columns: {', '.join(map(str, frame.columns))})")
        long = apply(frame, mapping, first_line=first_line)
        long.check_known(self.ingestor.rules)
        return long

    def dry_run(self) -> Iterator[tuple[Long, Checked]]:
        """Map and check the file as a replay would, a chunk at a time, storing nothing: samples and verdicts.

        Row numbers run on across the chunks (``Long.line``); verdicts are by position in the chunk.
        """
        for long in self.chunks():
            yield long, self._check(long)

    def _check(self, long: Long) -> Checked:
        """The verdicts of the ingest path's checks on every sample of a chunk."""
        if long.area is None:
            return self.ingestor.check(long.items(0, len(long)), long.refusals(0, len(long)))
        return check_columns(long.columns(0, len(long)), self.ingestor.rules, self.ingestor.clock(),
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
