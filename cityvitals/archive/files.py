"""The archive's files: ``day=YYYY-MM-DD/level=<level>/<name>.parquet`` under the archive directory.

Every file is written to a hidden temporary name, flushed to disk and renamed, so a reader or a
restarted writer sees whole files or none. Rows carry ``batch`` (the feed's batch id, else the
stream entry id): a batch found in two files of one partition was written twice (a feed resent it,
or an archiver killed before it acknowledged wrote it again) and is read from the first file only.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

COMPACTED = "c-"  # the prefix of a merged file's name (after it, the name of the newest round merged)
UNKNOWN_LEVEL = "unknown"  # the level of a sample whose area is not in the tree: kept, not dropped
SCHEMA = pa.schema([("metric", pa.string()), ("area", pa.string()), ("ts", pa.float64()), ("value", pa.float64()),
                    ("batch", pa.string())])
_DICTIONARY = ["metric", "area"]  # read as categories: few distinct values over millions of rows
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
SORT = [("metric", "ascending"), ("area", "ascending"), ("ts", "ascending")]  # compacted files: tight row-group stats


def day_of(ts: float) -> str:
    """The UTC day (``YYYY-MM-DD``) a sample time belongs to."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def partition_dir(root: Path, day: str, level: str) -> Path:
    """The directory of one (day, level) partition."""
    return root / f"day={day}" / f"level={level}"


def days(root: Path) -> list[str]:
    """The days that have a partition, oldest first."""
    return sorted(p.name[4:] for p in root.glob("day=*") if _DAY.fullmatch(p.name[4:]) and p.is_dir())


def partitions(root: Path, first: str = "", last: str = "9999") -> Iterator[tuple[str, str, Path]]:
    """(day, level, directory) of every partition from day ``first`` to ``last`` (inclusive)."""
    for day in days(root):
        if first <= day <= last:
            for p in sorted((root / f"day={day}").glob("level=*")):
                yield day, p.name[6:], p


def files(directory: Path) -> list[Path]:
    """The whole Parquet files of a partition (temporary files left by a kill are not), in name order."""
    return sorted(p for p in directory.glob("*.parquet") if not p.name.startswith("."))


def write_atomic(table: pa.Table, path: Path, **options) -> None:
    """Write ``table`` to ``path`` so that it is on disk whole before it has its name (a rename).

    ``options`` override the Parquet writer's settings (another table's columns, row group size).
    """
    # Times are nearly all distinct: split into byte streams they compress 10% better than in a dictionary
    _atomic(path, lambda tmp: pq.write_table(table, tmp, **{
        "compression": "zstd", "use_dictionary": ["metric", "area", "value", "batch"],
        "use_byte_stream_split": ["ts"], **options}))


def write_atomic_ipc(batches: list[pa.RecordBatch], schema: pa.Schema, path: Path) -> None:
    """Write record batches as an Arrow IPC file (zstd, a batch read alone by its position) as write_atomic does."""
    def write(tmp: Path) -> None:
        with pa.ipc.new_file(tmp, schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
            for batch in batches:
                writer.write_batch(batch)

    _atomic(path, write)


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    """``write`` a temporary file, flush it to disk, rename it to ``path`` and make the rename durable."""
    if not path.parent.is_dir():  # a new partition: its directories' names must outlast a power cut too
        path.parent.mkdir(parents=True, exist_ok=True)
        sync_dir(path.parent.parent)
        sync_dir(path.parent.parent.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
    sync_dir(path.parent)


def sync_dir(directory: Path) -> None:
    """Make a rename or an unlink in ``directory`` durable (POSIX keeps names in the directory)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_partition(paths: list[Path], columns: list[str] | None = None, where: pc.Expression | None = None
                   ) -> pa.Table:
    """Read the files of one partition, each batch from the first file that holds it."""
    if len(paths) == 1:
        return pq.read_table(paths[0], columns=columns, filters=where, read_dictionary=_DICTIONARY)
    wanted = None if columns is None else list(dict.fromkeys([*columns, "batch"]))
    seen: set[str] = set()
    parts = []
    for path in paths:
        table = pq.read_table(path, columns=wanted, filters=where, read_dictionary=_DICTIONARY)
        batches = pc.unique(table["batch"]).to_pylist()
        if seen:
            table = table.filter(pc.invert(pc.is_in(table["batch"], pa.array(list(seen), pa.string()))))
        seen.update(batches)
        parts.append(table.select(columns) if columns is not None else table)
    return pa.concat_tables(parts).unify_dictionaries()


def compact(paths: list[Path]) -> int:
    """Merge files of one partition into one (duplicates dropped), named after the newest; returns the rows kept."""
    directory, name = paths[0].parent, COMPACTED + max(p.name.removeprefix(COMPACTED) for p in paths)
    table = read_partition(paths).cast(SCHEMA).combine_chunks().sort_by(SORT)
    write_atomic(table, directory / name)
    for path in paths:
        if path.name != name:
            path.unlink()
    sync_dir(directory)
    return len(table)


def expire(root: Path, keep_days: float, now: datetime) -> list[str]:
    """Delete the day partitions older than ``keep_days`` before ``now``; returns the days deleted."""
    cutoff = (now - timedelta(days=keep_days)).date()
    gone = [d for d in days(root) if date.fromisoformat(d) < cutoff]
    for day in gone:
        shutil.rmtree(root / f"day={day}")
    return gone
