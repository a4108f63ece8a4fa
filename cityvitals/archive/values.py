"""The value archive: every indicator's value and state in every area, once per step, in Parquet.

The engine writes one file per level per step under ``<archive>/values/day=YYYY-MM-DD/level=<level>/``;
:func:`maintain` merges a partition's step files (a finished day into one file, today's every
``max_files``) and deletes days past retention, as the sample archive does. :func:`read_values` returns
a frame bucketed to fit the range asked (minutes, hours or days), so a dashboard callback reads a few
hundred points per series and never rolls anything up itself: the roll-up across areas is the engine's.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from cityvitals.archive.files import (
    COMPACTED,
    _sync_dir,
    day_of,
    days,
    expire,
    files,
    partition_dir,
    partitions,
    write_atomic,
)

VALUES_DIR = "values"  # under the archive root, beside the samples' day partitions
STEP_S = 300.0  # 5 min: finer than any indicator's min_duration worth plotting, 288 points a day
SCHEMA = pa.schema([("indicator", pa.string()), ("area", pa.string()), ("ts", pa.float64()),
                    ("value", pa.float64()), ("state", pa.int8())])
# Area first: a page reads one area's indicators, or one parent's children (neighbouring ids), so row-group
# statistics on area skip most of a file; ROW_GROUP rows is about 20 areas of the full catalog.
SORT = [("area", "ascending"), ("indicator", "ascending"), ("ts", "ascending")]
ROW_GROUP = 8192
FEW_INDICATORS = 8  # up to this many, a read tests the indicator against row-group statistics too
WRITE = {"use_dictionary": ["indicator", "area", "value", "state"], "row_group_size": ROW_GROUP}
# Bucket lengths a reader may choose, shortest first, with their label for charts ("5 min means")
BUCKETS = ((300, "5 min"), (900, "15 min"), (3600, "1 h"), (6 * 3600, "6 h"), (86400, "1 d"))


def values_root(archive_root: Path) -> Path:
    """Where the value archive lives inside the archive directory."""
    return Path(archive_root) / VALUES_DIR


def write_step(root: Path, ts: float, level: str, indicators: list[str], areas: list[str], value: np.ndarray,
               state: np.ndarray) -> Path | None:
    """Write one level's matrices (indicators x areas) at time ``ts`` as one file; returns it (None: no cells)."""
    n_ind, n_area = len(indicators), len(areas)
    if not n_ind or not n_area:
        return None
    # area-major (the transpose of the engine's matrices), areas in id order, so row groups hold neighbouring areas
    order = np.argsort(np.asarray(areas, dtype=object), kind="stable")
    ind = pa.DictionaryArray.from_arrays(pa.array(np.tile(np.arange(n_ind, dtype=np.int32), n_area)),
                                         pa.array(indicators, pa.string()))
    area = pa.DictionaryArray.from_arrays(pa.array(np.repeat(order.astype(np.int32), n_ind)),
                                          pa.array(areas, pa.string()))
    v = np.asarray(value, dtype=np.float64)[:, order].T.ravel()
    table = pa.table([ind.cast(pa.string()), area.cast(pa.string()), pa.array(np.full(v.size, ts)),
                      pa.array(v, from_pandas=True),
                      pa.array(np.asarray(state, dtype=np.int8)[:, order].T.ravel())], schema=SCHEMA)
    path = partition_dir(root, day_of(ts), level) / f"{ts:014.3f}.parquet"
    write_atomic(table, path, **WRITE)
    return path


def compact(paths: list[Path]) -> int:
    """Merge step files of one partition into one, sorted for tight row-group statistics; returns its rows."""
    directory, name = paths[0].parent, COMPACTED + max(p.name.removeprefix(COMPACTED) for p in paths)
    table = pa.concat_tables(pq.read_table(p).cast(SCHEMA) for p in paths).combine_chunks().sort_by(SORT)
    write_atomic(table, directory / name, **WRITE)
    for path in paths:
        if path.name != name:
            path.unlink()
    _sync_dir(directory)
    return len(table)


def maintain(root: Path, keep_days: float, now: datetime, max_files: int = 24) -> tuple[list[str], int]:
    """Delete days past retention and merge step files; returns the days deleted and partitions compacted.

    A finished day becomes one file; today's step files are merged once there are ``max_files`` of them
    (two hours at the default step), so today's merged data is not rewritten at every step.
    """
    gone = expire(root, keep_days, now)
    today, compacted = now.strftime("%Y-%m-%d"), 0
    for day, _level, directory in partitions(root):
        paths = files(directory)
        if day >= today:
            paths = [p for p in paths if not p.name.startswith(COMPACTED)]
            paths = paths if len(paths) >= max_files else []
        if len(paths) > 1:
            compact(paths)
            compacted += 1
    return gone, compacted


def _read_partition(directory: Path, where: ds.Expression, tries: int = 3) -> list[pa.Table]:
    """The tables of a partition's files; listed again if a merge replaced a file between listing and reading."""
    for attempt in range(tries):
        try:
            # no read_dictionary: asking for dictionaries turns off row-group pruning (1.2 s against 0.04 s)
            return [pq.read_table(p, filters=where) for p in files(directory)]
        except FileNotFoundError:  # maintain() merged it: its rows are in the merged file, listed next time
            if attempt == tries - 1:
                raise
    return []


@dataclass(frozen=True)
class Bucket:
    """The time bucket a read was averaged over: its length in seconds and how a chart says it."""

    seconds: float
    label: str


def newest_step(root: Path, levels: Collection[str]) -> float:
    """The time of the newest step archived at any of ``levels`` (0: none), from file names alone.

    A reader's cache keys on it: a read made before this step landed is stale, one made after is not.
    """
    names = [p.name.removeprefix(COMPACTED).removesuffix(".parquet")
             for day in days(root)[-1:] for level in levels for p in files(partition_dir(root, day, level))]
    return max(map(float, names), default=0.0)


def bucket_for(span_s: float, max_points: int = 300, step_s: float = STEP_S) -> Bucket:
    """The shortest bucket (never below the archive's step) giving at most ``max_points`` points over ``span_s``."""
    for seconds, label in BUCKETS:
        if seconds >= step_s and span_s / seconds <= max_points:
            return Bucket(float(seconds), label)
    return Bucket(float(BUCKETS[-1][0]), BUCKETS[-1][1])


def read_values(root: Path | None, start: float, end: float, indicators: Collection[str] | None = None,
                areas: Collection[str] | None = None, levels: Collection[str] | None = None,
                bucket: Bucket | None = None) -> pd.DataFrame:
    """Values with ``start <= ts < end``, averaged per bucket: indicator, area, t (bucket start, UTC), value, state.

    ``state`` is the worst state the cell held in the bucket (states are ordered by severity); a bucket
    with no finite value has value NaN. ``bucket`` None keeps every step; ``root`` None (no archive) reads none.
    """
    return in_buckets(read_raw(root, start, end, indicators, areas, levels) if root is not None else empty_frame(),
                      bucket)


def in_buckets(raw: pd.DataFrame, bucket: Bucket | None) -> pd.DataFrame:
    """Steps (``read_raw``'s, or unbucketed ``read_values``') averaged per bucket, as :func:`read_values` gives them."""
    if bucket is not None and len(raw):
        raw = raw.assign(ts=np.floor(raw["ts"] / bucket.seconds) * bucket.seconds).groupby(
            ["indicator", "area", "ts"], observed=True, sort=True).agg(
            value=("value", "mean"), state=("state", "max")).reset_index()
    raw = raw.assign(t=pd.to_datetime(raw["ts"], unit="s", utc=True))
    return raw[["indicator", "area", "t", "ts", "value", "state"]]


def empty_frame() -> pd.DataFrame:
    """A frame of no steps, with read_raw's columns."""
    return pd.DataFrame({"indicator": pd.Series([], dtype=str), "area": pd.Series([], dtype=str),
                         "ts": pd.Series([], dtype=float), "value": pd.Series([], dtype=float),
                         "state": pd.Series([], dtype=np.int8)})


def read_raw(root: Path, start: float, end: float, indicators: Collection[str] | None = None,
             areas: Collection[str] | None = None, levels: Collection[str] | None = None) -> pd.DataFrame:
    """Every archived step in the range, unbucketed, sorted by indicator, area and time."""
    where = (ds.field("ts") >= start) & (ds.field("ts") < end)
    wanted = None if indicators is None else pa.array(list(indicators), pa.string())
    if areas is not None:
        where &= ds.field("area").isin(pa.array(list(areas), pa.string()))
    if wanted is not None and (areas is None or len(wanted) <= FEW_INDICATORS):
        where &= ds.field("indicator").isin(wanted)
    # Files are sorted by area, then indicator: the area test skips row groups, and so does a test on a few
    # indicators (a row group holds one area's rows of about 30 indicators: comparing the children of an
    # area on one indicator reads one row group per child and day, not every indicator's). Testing a long
    # list against every row group's statistics cost more than it saved (1.9 s against 0.03 s for one
    # grid's 389 indicators), so those are picked from the rows the area test read.
    tables = [table for _day, level, directory in partitions(Path(root), day_of(start), day_of(max(start, end - 1e-6)))
              if levels is None or level in levels for table in _read_partition(directory, where)]
    if areas is not None and wanted is not None and len(wanted) > FEW_INDICATORS:
        tables = [t.filter(pc.is_in(t["indicator"], wanted)) for t in tables]
    tables = [t for t in tables if len(t)]
    if not tables:
        return empty_frame()
    frame = pa.concat_tables([t.cast(SCHEMA) for t in tables]).to_pandas()
    for col in ("indicator", "area"):
        frame[col] = frame[col].astype(str)
    return frame.sort_values(["indicator", "area", "ts"], kind="stable").reset_index(drop=True)
