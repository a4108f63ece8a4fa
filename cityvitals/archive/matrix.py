"""The value archive's compare tier: each hourly twin again, as one matrix (areas x 24 hours) per indicator.

The compare view reads one indicator for every child of an area over days. From the hourly twin (Parquet,
row groups of several indicators) that is a decode of 65,536 rows a day and a sort of their strings: at a
province's 1,250 streets over 7 days 0.4-2 s, a gunicorn worker's first open of each indicator. Here a
merged file's hourly means are one record batch per indicator of an Arrow IPC file (``values/matrix/``,
beside the twins): a read takes the batch by its position, and the hours of every file of the range are
summed into matrices (:class:`HourCells`) without a row of strings. The grid level has none: its files
are a province's 100,000 grids per indicator, and a community's grids are a few row groups of the twin.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cityvitals.archive.files import write_atomic_ipc
from cityvitals.archive.hourly import HOUR_S

MATRIX_DIR = "matrix"  # under the value archive's root, beside the hourly twins
MATRIX_LEVELS = ("district", "street", "community")
HOURS = 24
ABSENT = -1  # the state of an hour a file has no row for (states are 0 and up)
COLUMNS = (("value", pa.float64()), ("n", pa.int32()), ("state", pa.int8()), ("last", pa.int8()))
SCHEMA = pa.schema([(name, pa.list_(kind, HOURS)) for name, kind in COLUMNS])


def matrix_path(path: Path) -> Path:
    """The compare-tier file of a merged fine file: the same day, level and name under the matrix directory."""
    level_dir = path.parent
    day_dir = level_dir.parent
    return day_dir.parent / MATRIX_DIR / day_dir.name / level_dir.name / f"{path.stem}.arrow"


def _day_start(path: Path) -> float:
    """The UTC midnight of the day partition ``path`` is in (``day=YYYY-MM-DD``)."""
    return datetime.fromisoformat(path.parent.parent.name[4:]).replace(tzinfo=UTC).timestamp()


def write_matrix(hours: pa.Table, path: Path) -> None:
    """Write the hourly means ``hours`` of the merged file at ``path`` as one matrix per indicator (not for grids)."""
    if path.parent.name[6:] not in MATRIX_LEVELS:
        return
    indicators, ind = _codes(hours["indicator"])
    areas, area = _codes(hours["area"])
    hour = ((hours["ts"].to_numpy() - _day_start(path)) // HOUR_S).astype(np.int64)
    cells = (len(indicators), len(areas), HOURS)
    at = np.ravel_multi_index((ind, area, hour), cells)
    blocks = {name: np.full(np.prod(cells), np.nan if name == "value" else ABSENT if kind == pa.int8() else 0,
                            dtype=kind.to_pandas_dtype()) for name, kind in COLUMNS}
    for name, block in blocks.items():
        block[at] = hours[name].to_numpy()
    size = len(areas) * HOURS
    batches = [pa.record_batch([pa.FixedSizeListArray.from_arrays(blocks[name][k * size:(k + 1) * size], HOURS)
                                for name, _ in COLUMNS], schema=SCHEMA) for k in range(len(indicators))]
    meta = {"indicators": json.dumps(indicators.tolist()), "areas": json.dumps(areas.tolist())}
    write_atomic_ipc(batches, SCHEMA.with_metadata(meta), matrix_path(path))


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct values of a string column and each row's position among them (no string per row)."""
    encoded = pc.dictionary_encode(column).combine_chunks()
    names = encoded.dictionary.to_numpy(zero_copy_only=False)
    order = np.argsort(names)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return names[order], rank[encoded.indices.to_numpy()]


@dataclass(frozen=True)
class _Opened:
    """A matrix file opened once per version: its reader (used under ``lock``), indicators (name -> batch), areas."""

    reader: pa.ipc.RecordBatchFileReader
    lock: threading.Lock
    batch_of: dict[str, int]
    areas: np.ndarray


@lru_cache(maxsize=64)  # a replaced file stays mapped until it drops out: a few days of every level, not more
def _opened(path: Path, stamp: tuple[int, int]) -> _Opened:
    """The matrix file at ``path`` as of ``stamp`` (opening it and reading its footer cost more than a batch)."""
    reader = pa.ipc.open_file(pa.memory_map(str(path)))
    meta = reader.schema.metadata
    return _Opened(reader, threading.Lock(), {name: k for k, name in enumerate(json.loads(meta[b"indicators"]))},
                   np.asarray(json.loads(meta[b"areas"]), dtype=object))


@dataclass(frozen=True)
class FileHours:
    """One merged file's hours of some indicators: per indicator, each column as a matrix (areas x 24 hours)."""

    areas: np.ndarray
    day_start: float
    blocks: dict[str, dict[str, np.ndarray]]


def read_matrix(path: Path, indicators: Iterable[str]) -> FileHours:
    """The compare-tier matrices of ``indicators`` (those the file has) of the merged file at ``path``."""
    at = matrix_path(path)
    stat = at.stat()
    opened = _opened(at, (stat.st_mtime_ns, stat.st_size))
    blocks = {}
    for name in indicators:
        if name in opened.batch_of:
            with opened.lock:  # gunicorn threads share the reader: Arrow does not promise it is thread-safe
                batch = opened.reader.get_batch(opened.batch_of[name])
            blocks[name] = {c: batch.column(c).flatten().to_numpy().reshape(-1, HOURS) for c, _ in COLUMNS}
    return FileHours(opened.areas, _day_start(at), blocks)


class HourCells:
    """Hourly means of the cells (indicator x area x hour) of a range, summed from files oldest first.

    As :func:`cityvitals.archive.hourly.combine` merges rows: means weighted by ``n``, the worst state, the
    last state of the latest file, so an hour of today merged in two rounds is one cell.
    """

    def __init__(self, indicators: Iterable[str], areas: Iterable[str], start: float, end: float) -> None:
        self.indicators = np.asarray(sorted(set(indicators)), dtype=object)
        self.areas = np.asarray(sorted(set(areas)), dtype=object)
        self.start = start
        shape = (len(self.indicators), len(self.areas), int(round((end - start) / HOUR_S)))
        self.total, self.count = np.zeros(shape), np.zeros(shape, dtype=np.int32)
        self.state, self.last = np.full(shape, ABSENT, dtype=np.int8), np.full(shape, ABSENT, dtype=np.int8)

    def _positions(self, names: np.ndarray, known: np.ndarray) -> np.ndarray:
        """Positions of ``names`` in the sorted ``known`` (-1: not asked)."""
        if not len(known) or not len(names):
            return np.full(len(names), -1)
        if len(names) == len(known) and (names == known).all():  # a file of the very areas asked: no search
            return np.arange(len(names))
        at = np.searchsorted(known, names).clip(max=len(known) - 1)
        return np.where(known[at] == names, at, -1)

    def add_matrix(self, hours: FileHours) -> None:
        """The hours of one merged file, from its compare-tier matrices."""
        rows = self._positions(hours.areas, self.areas)
        keep = np.flatnonzero(rows >= 0)
        first = int(round((hours.day_start - self.start) / HOUR_S))  # the file's hour 0 among the range's
        lo, hi = max(0, -first), min(HOURS, self.total.shape[2] - first)
        if not len(keep) or lo >= hi:
            return
        every = len(keep) == len(rows) == len(self.areas)  # both sorted: row k is area k, taken by slices
        take, put = (slice(None), slice(None)) if every else (keep, rows[keep])
        for i, name in enumerate(self.indicators):
            if name in hours.blocks:
                block = {c: m[take, lo:hi] for c, m in hours.blocks[name].items()}
                self._add(np.s_[i, put, first + lo:first + hi], block)

    def add_rows(self, hours: pa.Table) -> None:
        """The hourly rows (indicator, area, ts, value, n, state, last) of one file (a cell at most once)."""
        ind = self._positions(hours["indicator"].to_numpy(zero_copy_only=False), self.indicators)
        area = self._positions(hours["area"].to_numpy(zero_copy_only=False), self.areas)
        hour = ((hours["ts"].to_numpy() - self.start) // HOUR_S).astype(np.int64)
        keep = (ind >= 0) & (area >= 0) & (hour >= 0) & (hour < self.total.shape[2])
        self._add((ind[keep], area[keep], hour[keep]), {n: hours[n].to_numpy()[keep] for n, _ in COLUMNS})

    def _add(self, at, block: dict[str, np.ndarray]) -> None:
        present = block["state"] != ABSENT
        n = np.where(present, block["n"], 0)
        self.total[at] += np.where(n > 0, block["value"] * n, 0.0)
        self.count[at] += n
        self.state[at] = np.maximum(self.state[at], block["state"])
        self.last[at] = np.where(present, block["last"], self.last[at])

    def frame(self) -> pd.DataFrame:
        """The cells held as rows by indicator, area and time: read_hours' columns."""
        at = np.flatnonzero(self.state.ravel() != ABSENT)  # flat positions: one take per column, not three indexes
        i, a, h = np.unravel_index(at, self.state.shape)
        count = self.count.ravel()[at]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(count > 0, self.total.ravel()[at] / count, np.nan)
        return pd.DataFrame({"indicator": _strings(self.indicators, i), "area": _strings(self.areas, a),
                             "ts": self.start + h * HOUR_S, "value": mean, "n": count,
                             "state": self.state.ravel()[at], "last": self.last.ravel()[at]})


def _strings(names: np.ndarray, at: np.ndarray) -> pd.Series:
    """``names[at]`` as a column of strings, taken in Arrow (ten times faster than from Python objects)."""
    return pa.array(names.tolist(), pa.string()).take(pa.array(at)).to_pandas()
