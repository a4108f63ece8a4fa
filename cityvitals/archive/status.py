"""The archive as a whole: what it holds (``cityvitals archive status``), finished days compacted, and day chunks.

The counts come from the Parquet footers, so a status of months of files reads no rows. A batch
written twice (see ``files.py``) counts twice in ``rows``, and is read once.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from cityvitals.archive.files import COMPACTED, compact, days, files, partitions
from cityvitals.archive.reader import read_samples


@dataclass
class ArchiveStatus:
    """What the archive under one directory holds."""

    root: Path
    days: int = 0
    partitions: int = 0
    files: int = 0
    bytes: int = 0
    rows: int = 0
    oldest: float | None = None  # the earliest sample time (Unix s)
    newest: float | None = None
    rows_by_level: dict[str, int] = field(default_factory=dict)


def archive_status(root: Path) -> ArchiveStatus:
    """Count the days, partitions, files, bytes and rows of the archive, and its oldest and newest sample."""
    status = ArchiveStatus(Path(root), days=len(days(Path(root))))
    for _day, level, directory in partitions(Path(root)):
        status.partitions += 1
        for path in files(directory):
            meta = pq.read_metadata(path)
            status.files += 1
            status.bytes += path.stat().st_size
            status.rows += meta.num_rows
            status.rows_by_level[level] = status.rows_by_level.get(level, 0) + meta.num_rows
            low, high = _ts_range(meta)
            status.oldest = low if status.oldest is None else min(status.oldest, low)
            status.newest = high if status.newest is None else max(status.newest, high)
    return status


def _ts_range(meta: pq.FileMetaData) -> tuple[float, float]:
    """The smallest and largest ``ts`` of a file, from its row groups' statistics (inf/-inf: none kept)."""
    col = meta.schema.names.index("ts")
    low, high = math.inf, -math.inf
    for k in range(meta.num_row_groups):
        stats = meta.row_group(k).column(col).statistics
        if stats is not None and stats.has_min_max:
            low, high = min(low, stats.min), max(high, stats.max)
    return low, high


def compact_finished(root: Path, now: datetime | None = None) -> int:
    """Merge each partition of a day before today (UTC) into one file; returns the partitions merged.

    Today's partitions are left to the archiver (it writes there every round); a finished day's are
    written again only by a replay of old data, whose newer files are merged by the next compaction.
    """
    today = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
    merged = 0
    for day, _level, directory in partitions(Path(root)):
        paths = files(directory)
        if day < today and (len(paths) > 1 or (paths and not paths[0].name.startswith(COMPACTED))):
            compact(paths)
            merged += 1
    return merged


def day_chunks(root: Path, start: float, end: float, metrics: Collection[str] | None = None,
               areas: Collection[str] | None = None) -> Iterator[tuple[pd.DataFrame, float]]:
    """The samples ``start <= ts < end`` a UTC day at a time, in time order: (frame, end of its span)."""
    t = start
    while t < end:
        day = datetime.fromtimestamp(t, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        until = min((day + timedelta(days=1)).timestamp(), end)
        yield read_samples(Path(root), t, until, metrics, areas).sort_values("ts", kind="stable"), until
        t = until
