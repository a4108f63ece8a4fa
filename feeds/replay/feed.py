"""The replay feed: rows of an export through the ingest path, paced, with a checkpoint in Redis.

The checkpoint (rows done) travels with the batch that completes it, so through a Redis outage it
waits in the ingest buffer with its rows and is never written ahead of them: a replay that dies
while Redis is away resumes at the first row not in Redis. While the buffer has no room the replay
pauses rather than let rows overflow, and at the end it waits until its rows are delivered.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from cityvitals import store
from feeds.ingest import STORE_ERRORS, Ingestor
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.reader import file_identity, paced, parse_times, read_table
from feeds.replay.report import FileReport

log = logging.getLogger(__name__)
WAIT_S = 0.05  # between looks at the buffer while Redis is away


def row_items(frame: pd.DataFrame, times: np.ndarray, cfg: ReplayFeedConfig, first: int, stop: int) -> list[Any]:
    """The ingest items of rows ``first:stop``; unreadable cells stay as found so the ingest path says why."""
    m = cfg.map
    items = []
    for k in range(first, stop):
        row = frame.iloc[k]
        item: dict[str, Any] = {"metric": row[m.metric] if m.metric else cfg.metric,
                                "ts": times[k] if np.isfinite(times[k]) else row[m.time],
                                "value": _number(row[m.value])}
        if m.area:
            item["area"] = row[m.area]
        else:
            item["lon"], item["lat"] = _number(row[m.lon]), _number(row[m.lat])
        items.append(item)
    return items


def _number(cell: Any) -> Any:
    """A numeric cell as a float; anything else as found (refused later with its text)."""
    try:
        return float(cell)
    except (TypeError, ValueError):
        return cell


class ReplayFeed:
    """Replay one file; ``run`` resumes after the last row delivered (kept in Redis) and returns rows sent."""

    def __init__(self, cfg: ReplayFeedConfig, ingestor: Ingestor) -> None:
        self.cfg, self.ingestor = cfg, ingestor
        self.stopped = False
        self.rows: int | None = None  # of the file, once read
        self.report: FileReport | None = None  # of the last run

    def run(self, max_rows: int | None = None, progress: bool = True) -> int:
        """Replay from the checkpoint to the end (or ``max_rows`` rows); bad rows are refused with their number."""
        cfg = self.cfg
        file_id = file_identity(cfg.file)
        self.ingestor.checkpoint_field = store.checkpoint_field(cfg.name, file_id)
        frame = read_table(cfg.file)
        for column in {c for c in cfg.map.model_dump().values() if c}:
            if column not in frame.columns:
                raise ValueError(f"{cfg.file}: no column {column!r} (columns: {', '.join(map(str, frame.columns))})")
        times = parse_times(frame[cfg.map.time], cfg.time_format, cfg.timezone)
        self.rows = len(frame)
        start = self._checkpoint()
        report = self.report = FileReport(str(cfg.file), file_id, len(frame), start,
                                          done_before=start >= len(frame) > 0)
        end = len(frame) if max_rows is None else min(len(frame), start + max_rows)
        speed = None if cfg.speed == "max" else float(cfg.speed)
        done = start
        with tqdm(total=len(frame), initial=start, unit="row", desc=cfg.name, disable=not progress) as bar:
            for first, stop in paced(times[:end], speed, start, cfg.batch):
                self._wait_for_room(stop - first)
                items = row_items(frame, times, cfg, first, stop)
                # Row numbers as a person finds them in the file: the header is line 1.
                report.add(items, self.ingestor.submit(items, where=lambda i, first=first: f"row {first + i + 2}",
                                                       checkpoint=stop))
                bar.update(stop - first)
                done = stop
                if self.stopped:
                    break
        self._wait_delivered()
        report.finish()
        return done - start

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
