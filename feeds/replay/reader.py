"""Plain functions to read an export, turn its times into Unix seconds and pace a replay."""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

CHUNK_BYTES = 8 << 20  # of a CSV read a chunk at a time


def file_identity(path: Path) -> str:
    """Return the first 16 hex digits of the file's SHA-256: the same content is the same file, wherever it lies."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def read_chunks(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[pd.DataFrame]:
    """Read a CSV (about ``chunk_bytes`` at a time) or Parquet file (a batch of rows at a time), strings as found.

    Types are checked sample by sample later; memory holds one chunk, never the whole file.
    """
    if path.suffix.lower() in (".parquet", ".pq"):
        for batch in pq.ParquetFile(path).iter_batches():
            yield batch.to_pandas()
        return
    yield from read_csv_chunks(path, chunk_bytes)


def read_csv_chunks(path: Path, chunk_bytes: int = CHUNK_BYTES) -> Iterator[pd.DataFrame]:
    """Read a CSV a block of about ``chunk_bytes`` at a time, as pandas reads it whole (strings as found).

    Where Arrow's reader gives up part way, pandas reads the file again from the start and the rows
    already given are passed over.
    """
    done = 0
    try:
        for batch in pcsv.open_csv(path, read_options=pcsv.ReadOptions(block_size=chunk_bytes),
                                   convert_options=_as_text(path)):
            frame = _text(pa.Table.from_batches([batch]))
            done += len(frame)
            yield frame
        return
    except (pa.ArrowInvalid, _Irregular):
        pass
    rows = max(1, chunk_bytes * _count_lines(path) // max(1, path.stat().st_size))  # about a block's rows
    for frame in pd.read_csv(path, chunksize=rows, **PANDAS_TEXT):
        skip, done = min(done, len(frame)), done - min(done, len(frame))
        if skip < len(frame):
            yield frame.iloc[skip:]


PANDAS_TEXT = {"dtype": str, "keep_default_na": False, "skipinitialspace": True}


class _Irregular(Exception):
    """A file Arrow's reader would read otherwise than pandas (repeated names, a quote after a blank)."""


def _as_text(path: Path) -> pcsv.ConvertOptions:
    """Every column as text, as found: no cell becomes null (pandas' ``dtype=str, keep_default_na=False``).

    Arrow's reader is several times faster than pandas'; a file it cannot read as pandas would (rows
    of another length, a quoted cell after a blank) raises ArrowInvalid, and pandas reads it instead.
    """
    with path.open(encoding="utf-8-sig", newline="") as handle:
        names = next(csv.reader(handle), [])
    if len({name.lstrip(" ") for name in names}) != len(names):
        raise _Irregular
    return pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False,
                               quoted_strings_can_be_null=False)


def _text(table: pa.Table) -> pd.DataFrame:
    """The table's columns and their names without the blanks that open a cell (pandas' ``skipinitialspace``)."""
    columns = {name.lstrip(" "): pc.utf8_ltrim(column, characters=" ")
               for name, column in zip(table.column_names, table.columns, strict=True)}
    if any(pc.any(pc.starts_with(c, '"')).as_py() for c in columns.values()):
        raise _Irregular  # a quoted cell after a blank, which Arrow keeps with its quotes: pandas reads it
    return pd.DataFrame({name: pd.array(column, dtype="str") for name, column in columns.items()})


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))


def pace_origin(times: np.ndarray, clock: Callable[[], float] = time.monotonic) -> tuple[float, float] | None:
    """The first readable time and the clock now: what a replay's pace counts from (None: no readable time)."""
    finite = times[np.isfinite(times)]
    return (float(finite[0]), clock()) if finite.size else None


def paced(times: np.ndarray, speed: float | None, start: int = 0, batch: int = 500,
          sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
          origin: tuple[float, float] | None = None) -> Iterator[tuple[int, int]]:
    """Yield (first, stop) row ranges from ``start``, each once its first row is due at ``speed`` x real time.

    ``speed`` None: as fast as possible. A range holds the rows due by then (at most ``batch``);
    rows without a readable time are due at once. ``origin`` (:func:`pace_origin` of an earlier chunk
    of the file) carries the pace over from it; by default it counts from the first row from ``start``.
    """
    t0_data, t0_wall = origin or pace_origin(times[start:], clock) or (0.0, clock())
    due = np.nan_to_num((times - t0_data) / (speed or np.inf), nan=-np.inf) + t0_wall
    first = start
    while first < len(times):
        wait = due[first] - clock()  # read the clock once: read twice, the wait could come out negative
        if speed is not None and wait > 0:
            sleep(wait)
        later = due[first : first + batch] > clock()
        ready = int(later.argmax()) if speed is not None and later.any() else batch
        stop = min(first + max(ready, 1), len(times))
        yield first, stop
        first = stop
