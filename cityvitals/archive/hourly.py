"""The value archive's coarse tier: each cell's hourly mean per day, sorted by indicator, then area.

Each merged file of the fine tier (``values/day=…/level=…/c-….parquet``) gets a twin of the same name under
``values/hourly/``, written when :func:`cityvitals.archive.values.compact` merges: per indicator, area and
hour the mean of the finite values, how many steps it is the mean of (``n``, so means of hours combine
exactly into days or a range), the worst state and the state at the hour's last step. A read of one
indicator over many areas (the compare view, 7 d and 30 d trends) then reads a few row groups a day of
rows twelve times fewer, instead of one row group per area of every indicator's rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from cityvitals.archive.files import write_atomic

HOURLY_DIR = "hourly"  # under the value archive's root, beside its day partitions
HOUR_S = 3600.0
SCHEMA = pa.schema([("indicator", pa.string()), ("area", pa.string()), ("ts", pa.float64()),
                    ("value", pa.float64()), ("n", pa.int32()), ("state", pa.int8()), ("last", pa.int8())])
SORT = [("indicator", "ascending"), ("area", "ascending"), ("ts", "ascending")]
WRITE = {"use_dictionary": ["indicator", "area", "state", "last"], "row_group_size": 8192}


def twin(path: Path) -> Path:
    """The coarse twin of a merged fine file: the same day, level and name under the hourly directory."""
    level_dir = path.parent
    day_dir = level_dir.parent
    return day_dir.parent / HOURLY_DIR / day_dir.name / level_dir.name / path.name


def combine(frame: pd.DataFrame, seconds: float) -> pd.DataFrame:
    """Cells' rows merged per bucket of ``seconds``: mean weighted by ``n``, worst state, state of the last row.

    ``frame`` holds indicator, area, ts, value, state and, for rows that are themselves means, ``n`` and ``last``
    (a step is the mean of itself: ``n`` 1 if its value is finite); each cell's rows are together, by time.
    """
    ts = np.floor(frame["ts"].to_numpy() / seconds) * seconds
    value = frame["value"].to_numpy(dtype=np.float64)
    state = frame["state"].to_numpy(dtype=np.int8)
    n = frame["n"].to_numpy(dtype=np.int32) if "n" in frame else np.isfinite(value).astype(np.int32)
    last = frame["last"].to_numpy(dtype=np.int8) if "last" in frame else state
    if not len(ts):
        return frame.assign(ts=ts, n=n, last=last)[["indicator", "area", "ts", "value", "n", "state", "last"]]
    new = np.ones(len(ts), dtype=bool)
    new[1:] = (ts[1:] != ts[:-1]) | _changes(frame["indicator"]) | _changes(frame["area"])
    starts = np.flatnonzero(new)
    count = np.add.reduceat(n, starts)
    total = np.add.reduceat(np.where(n > 0, value * n, 0.0), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
    return pd.DataFrame({"indicator": frame["indicator"].to_numpy()[starts], "area": frame["area"].to_numpy()[starts],
                         "ts": ts[starts], "value": mean, "n": count, "state": np.maximum.reduceat(state, starts),
                         "last": last[np.r_[starts[1:], len(ts)] - 1]})


def _changes(column: pd.Series) -> np.ndarray:
    """Where a column differs from the row before (categories compared by code, the cheap way)."""
    values = column.cat.codes.to_numpy() if isinstance(column.dtype, pd.CategoricalDtype) else column.to_numpy()
    return values[1:] != values[:-1]


def hour_means(steps: pa.Table) -> pa.Table:
    """The hourly means of fine rows whose cells' rows are together by time (as a merged file has them)."""
    frame = steps.select(["indicator", "area", "ts", "value", "state"]).to_pandas()
    return pa.Table.from_pandas(combine(frame, HOUR_S), schema=SCHEMA, preserve_index=False)


def write_twin(hours: pa.Table, path: Path) -> None:
    """Write the hourly means of the merged file at ``path`` as its twin, sorted by indicator, area and time."""
    write_atomic(hours.sort_by(SORT), twin(path), **WRITE)


def read_twin(path: Path, where) -> pd.DataFrame:
    """The rows of a merged file's twin that ``where`` keeps (pyarrow filters skip row groups by indicator)."""
    return pq.read_table(twin(path), filters=where).to_pandas()
