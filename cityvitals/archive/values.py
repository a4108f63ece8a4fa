"""The value archive: every indicator's value and state in every area, once per step, in Parquet.

The engine writes one file per level per step under ``<archive>/values/day=YYYY-MM-DD/level=<level>/``;
:func:`maintain` merges a partition's step files (a finished day into one file, today's every
``max_files``) and deletes days past retention, as the sample archive does; each merged file gets a twin
of hourly means (cityvitals/archive/hourly.py). :func:`read_values` returns a frame bucketed to fit the
range asked (minutes, hours or days; whole hours from the hourly tier), so a dashboard callback reads a
few hundred points per series and never rolls anything up itself: the roll-up across areas is the engine's.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from cityvitals.archive.files import (
    COMPACTED,
    day_of,
    days,
    expire,
    files,
    partition_dir,
    partitions,
    sync_dir,
    write_atomic,
)
from cityvitals.archive.hourly import HOUR_S, HOURLY_DIR, combine, hour_means, read_twin, twin, write_twin
from cityvitals.archive.matrix import (
    MATRIX_DIR,
    MATRIX_LEVELS,
    FileHours,
    HourCells,
    matrix_path,
    read_matrix,
    write_matrix,
)

T = TypeVar("T")
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
    """Merge step files of one partition into one, sorted for tight row-group statistics; returns its rows.

    The merged file's hourly twin and matrices are written first, so a reader that lists the merged file finds them.
    """
    directory, name = paths[0].parent, COMPACTED + max(p.name.removeprefix(COMPACTED) for p in paths)
    table = pa.concat_tables(pq.read_table(p).cast(SCHEMA) for p in paths).combine_chunks().sort_by(SORT)
    write_tiers(hour_means(table), directory / name)
    write_atomic(table, directory / name, **WRITE)
    for path in paths:
        if path.name != name:
            path.unlink()
            twin(path).unlink(missing_ok=True)
            matrix_path(path).unlink(missing_ok=True)
    sync_dir(directory)
    return len(table)


def maintain(root: Path, keep_days: float, now: datetime, max_files: int = 24) -> tuple[list[str], int]:
    """Delete days past retention and merge step files; returns the days deleted and partitions compacted.

    A finished day becomes one file; today's step files are merged once there are ``max_files`` of them
    (two hours at the default step), so today's merged data is not rewritten at every step. Every merged
    file gets its hourly twin (cityvitals/archive/hourly.py).
    """
    gone = expire(root, keep_days, now)
    expire(root / HOURLY_DIR, keep_days, now)
    expire(root / MATRIX_DIR, keep_days, now)
    today, compacted = now.strftime("%Y-%m-%d"), 0
    for day, level, directory in partitions(root):
        paths = files(directory)
        if day >= today:
            paths = [p for p in paths if not p.name.startswith(COMPACTED)]
            paths = paths if len(paths) >= max_files else []
        if len(paths) > 1:
            compact(paths)
            compacted += 1
        for path in files(directory):  # merged before the coarse tiers existed, or killed between the writes
            if path.name.startswith(COMPACTED) and not twin(path).exists():
                write_tiers(hour_means(pq.read_table(path).cast(SCHEMA)), path)
            elif path.name.startswith(COMPACTED) and level in MATRIX_LEVELS and not matrix_path(path).exists():
                write_matrix(pq.read_table(twin(path)), path)
    return gone, compacted


def write_tiers(hours: pa.Table, path: Path) -> None:
    """Write the coarse tiers of the merged file at ``path`` from its hourly means: matrices, then the twin."""
    write_matrix(hours, path)  # the twin last: a file with a twin has its matrices (maintain() checks the twin)
    write_twin(hours, path)


def _read_partition(directory: Path, read: Callable[[Path], T], tries: int = 3) -> list[T]:
    """``read`` of each file of a partition, oldest rows first; listed again if a merge replaced a file meanwhile."""
    for attempt in range(tries):
        try:  # a merged file is named after its newest step: without its prefix, names sort by time
            return [read(p) for p in sorted(files(directory), key=lambda p: p.name.removeprefix(COMPACTED))]
        except FileNotFoundError:  # maintain() merged it: its rows are in the merged file, listed next time
            if attempt == tries - 1:
                raise
    return []


@dataclass(frozen=True)
class Bucket:
    """The time bucket a read was averaged over: its length in seconds, how a chart says it, and where buckets start.

    ``offset_s`` is the city's offset from UTC (modulo the length): a day's bucket starts at the city's
    midnight, not at UTC's (08:00 in Shanghai).
    """

    seconds: float
    label: str
    offset_s: float = 0.0


def newest_step(root: Path, levels: Collection[str]) -> float:
    """The time of the newest step archived at any of ``levels`` (0: none), from file names alone.

    A reader's cache keys on it: a read made before this step landed is stale, one made after is not.
    """
    names = [p.name.removeprefix(COMPACTED).removesuffix(".parquet")
             for day in days(root)[-1:] for level in levels for p in files(partition_dir(root, day, level))]
    return max(map(float, names), default=0.0)


def bucket_for(span_s: float, max_points: int = 300, step_s: float = STEP_S, offset_s: float = 0.0) -> Bucket:
    """The shortest bucket (never below the archive's step) giving at most ``max_points`` points over ``span_s``.

    Buckets start where the city's clock (``offset_s`` east of UTC) reads a whole multiple of their length.
    """
    seconds, label = next(((s, name) for s, name in BUCKETS if s >= step_s and span_s / s <= max_points), BUCKETS[-1])
    return Bucket(float(seconds), label, offset_s % seconds)


def read_values(root: Path | None, start: float, end: float, indicators: Collection[str] | None = None,
                areas: Collection[str] | None = None, levels: Collection[str] | None = None,
                bucket: Bucket | None = None) -> pd.DataFrame:
    """Values with ``start <= ts < end``, averaged per bucket.

    Columns: indicator, area, t (bucket start, UTC), ts, value, state, n, last. ``state`` is the worst state
    the cell held in the bucket (states are ordered by severity), ``last`` its state at the bucket's newest
    step, ``n`` how many finite values the mean ``value`` is of (0: NaN). ``bucket`` None keeps every step;
    ``root`` None (no archive) reads none. Buckets of whole hours over whole hours of a few indicators come from
    the hourly tier (sorted by indicator: many indicators of one area are fewer rows to decode in the steps').
    """
    if root is None:
        rows = empty_frame()
    elif bucket is not None and bucket.seconds % HOUR_S == 0 and start % HOUR_S == 0 and end % HOUR_S == 0 \
            and indicators is not None and len(indicators) <= FEW_INDICATORS:
        rows = read_hours(root, start, end, indicators, areas, levels)
        bucket = None if bucket.seconds == HOUR_S else bucket  # the rows are hours already
    else:
        rows = read_raw(root, start, end, indicators, areas, levels)
    return in_buckets(rows, bucket)


def in_buckets(rows: pd.DataFrame, bucket: Bucket | None) -> pd.DataFrame:
    """Steps or hourly means, each cell's rows together by time, merged per bucket as :func:`read_values` gives them."""
    if bucket is not None:
        rows = combine(rows, bucket.seconds, bucket.offset_s)
    elif "n" not in rows:
        rows = rows.assign(n=np.isfinite(rows["value"].to_numpy()).astype(np.int32), last=rows["state"])
    rows = rows.assign(t=pd.to_datetime(rows["ts"], unit="s", utc=True))
    return rows[["indicator", "area", "t", "ts", "value", "state", "n", "last"]]


def empty_frame() -> pd.DataFrame:
    """A frame of no steps, with read_raw's columns."""
    return pd.DataFrame({"indicator": pd.Series([], dtype=str), "area": pd.Series([], dtype=str),
                         "ts": pd.Series([], dtype=float), "value": pd.Series([], dtype=float),
                         "state": pd.Series([], dtype=np.int8)})


def _filters(start: float, end: float, indicators: Collection[str] | None, areas: Collection[str] | None,
             indicator_statistics: bool) -> tuple[ds.Expression, pa.Array | None]:
    """The pushed-down filter of a read, and the indicators still to pick from its rows (None: none left)."""
    where = (ds.field("ts") >= start) & (ds.field("ts") < end)
    wanted = None if indicators is None else pa.array(list(indicators), pa.string())
    if areas is not None:
        where &= ds.field("area").isin(pa.array(list(areas), pa.string()))
    if wanted is not None and (indicator_statistics or areas is None or len(wanted) <= FEW_INDICATORS):
        return where & ds.field("indicator").isin(wanted), None
    return where, wanted


def _level_partitions(root: Path, start: float, end: float, levels: Collection[str] | None) -> list[Path]:
    last = day_of(max(start, end - 1e-6))
    return [directory for _day, level, directory in partitions(Path(root), day_of(start), last)
            if levels is None or level in levels]


def read_raw(root: Path, start: float, end: float, indicators: Collection[str] | None = None,
             areas: Collection[str] | None = None, levels: Collection[str] | None = None) -> pd.DataFrame:
    """Every archived step in the range, unbucketed, sorted by indicator, area and time."""
    # Files are sorted by area, then indicator: the area test skips row groups, and so does a test on a few
    # indicators (a row group holds one area's rows of about 30 indicators: comparing the children of an
    # area on one indicator reads one row group per child and day, not every indicator's). Testing a long
    # list against every row group's statistics cost more than it saved (1.9 s against 0.03 s for one
    # grid's 389 indicators), so those are picked from the rows the area test read.
    where, wanted = _filters(start, end, indicators, areas, indicator_statistics=False)
    asked = None if areas is None else np.asarray(sorted(set(areas)), dtype=object)
    # no read_dictionary: asking for dictionaries turns off row-group pruning (1.2 s against 0.04 s)
    tables = [table for directory in _level_partitions(root, start, end, levels)
              for table in _read_partition(directory, lambda p: _read_areas(p, where, asked))]
    if wanted is not None:
        tables = [t.filter(pc.is_in(t["indicator"], wanted)) for t in tables]
    tables = [t for t in tables if len(t)]
    if not tables:
        return empty_frame()
    return _sorted(pa.concat_tables([t.cast(SCHEMA) for t in tables]).to_pandas())


@lru_cache(maxsize=512)
def _area_index(path: Path, stamp: tuple[int, int]) -> tuple[pq.FileMetaData, np.ndarray, np.ndarray] | None:
    """A fine file's footer and each row group's first and last area, read once per version (``stamp``) of it.

    None when a row group has no statistics on area (then the file is read with a pushed-down filter).
    """
    meta = pq.read_metadata(path)
    column = meta.schema.to_arrow_schema().get_field_index("area")
    stats = [meta.row_group(g).column(column).statistics for g in range(meta.num_row_groups)]
    if any(s is None or not s.has_min_max for s in stats):
        return None
    return meta, np.asarray([s.min for s in stats], dtype=object), np.asarray([s.max for s in stats], dtype=object)


def _read_areas(path: Path, where: ds.Expression, areas: np.ndarray | None) -> pa.Table:
    """The rows of a fine file that ``where`` keeps, reading only the row groups that can hold ``areas`` (sorted).

    Files are sorted by area, so a row group's first and last area bound it. A pushed-down filter tested each of a
    day's 1,400 row groups' statistics on every read (50 ms a file for one community's panel); the bounds of a
    file are read once per process, and the test is a binary search.
    """
    stat = path.stat()
    index = None if areas is None else _area_index(path, (stat.st_mtime_ns, stat.st_size))
    if index is None:
        return pq.read_table(path, filters=where)
    meta, first, last = index
    at = np.searchsorted(areas, first)  # the first asked area not before each group's first area
    groups = np.flatnonzero((at < len(areas)) & (areas[np.minimum(at, len(areas) - 1)] <= last))
    table = pq.ParquetFile(path, metadata=meta).read_row_groups(groups.tolist()) if len(groups) else \
        SCHEMA.empty_table()
    return table.filter(where)


def read_hours(root: Path, start: float, end: float, indicators: Collection[str] | None = None,
               areas: Collection[str] | None = None, levels: Collection[str] | None = None) -> pd.DataFrame:
    """Hourly means over a range of whole hours as rows by indicator, area and time (:func:`read_cells`)."""
    return read_cells(root, start, end, indicators, areas, levels).frame()


def read_cells(root: Path, start: float, end: float, indicators: Collection[str] | None = None,
               areas: Collection[str] | None = None, levels: Collection[str] | None = None) -> HourCells:
    """Hourly means over a range of whole hours, summed per cell over the files (cityvitals/archive/matrix.py).

    A merged file gives its compare-tier matrices, else its twin's rows; a step file not merged yet is averaged
    alike. ``indicators`` None reads every one the twins and steps hold (no matrices: they are read by name).
    """
    # Twins are sorted by indicator: the indicators are tested against row-group statistics, the areas picked
    # from the rows read (a test of a province's 1,250 streets against every row group cost more than it saved)
    where, _ = _filters(start, end, indicators, None, indicator_statistics=True)

    def hours_of(path: Path) -> FileHours | pa.Table:
        if indicators is not None and matrix_path(path).exists():
            return read_matrix(path, indicators)
        if twin(path).exists():
            return read_twin(path, where)
        return hour_means(pq.read_table(path, filters=where).cast(SCHEMA))

    # files in time order: an hour of today merged in two rounds is one cell, its last state the later file's
    parts = [part for directory in _level_partitions(root, start, end, levels)
             for part in _read_partition(directory, hours_of)]
    tables = [p for p in parts if isinstance(p, pa.Table)]
    names = {name for p in parts if isinstance(p, FileHours) for name in p.blocks}
    cells = HourCells(indicators if indicators is not None else {*names, *(v for t in tables for v in
                                                                           pc.unique(t["indicator"]).to_pylist())},
                      areas if areas is not None else {a for p in parts for a in _areas(p)}, start, end)
    for part in parts:
        cells.add_matrix(part) if isinstance(part, FileHours) else cells.add_rows(part)
    return cells


def _areas(part: FileHours | pa.Table) -> list[str]:
    """The areas one file's hours hold."""
    return part.areas.tolist() if isinstance(part, FileHours) else pc.unique(part["area"]).to_pylist()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    for col in ("indicator", "area"):
        frame[col] = frame[col].astype(str)
    return frame.sort_values(["indicator", "area", "ts"], kind="stable").reset_index(drop=True)
