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
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cityvitals.archive.files import write_atomic

HOURLY_DIR = "hourly"  # under the value archive's root, beside its day partitions
HOUR_S = 3600.0
SCHEMA = pa.schema([("indicator", pa.string()), ("area", pa.string()), ("ts", pa.float64()),
                    ("value", pa.float64()), ("n", pa.int32()), ("state", pa.int8()), ("last", pa.int8())])
SORT = [("indicator", "ascending"), ("area", "ascending"), ("ts", "ascending")]
# A row group holds two or three indicators' rows of a province's 1,250 streets for a day: a read of one indicator
# decodes one or two of them. At 8,192 rows, a day's file had 1,425 row groups whose statistics alone cost 0.1 s.
WRITE = {"use_dictionary": ["indicator", "area", "state", "last"], "row_group_size": 65536}


def twin(path: Path) -> Path:
    """The coarse twin of a merged fine file: the same day, level and name under the hourly directory."""
    level_dir = path.parent
    day_dir = level_dir.parent
    return day_dir.parent / HOURLY_DIR / day_dir.name / level_dir.name / path.name


def combine(frame: pd.DataFrame, seconds: float, offset_s: float = 0.0) -> pd.DataFrame:
    """Cells' rows merged per bucket of ``seconds``: mean weighted by ``n``, worst state, state of the last row.

    Buckets start where a clock ``offset_s`` east of UTC reads a whole multiple of ``seconds``.
    ``frame`` holds indicator, area, ts, value, state and, for rows that are themselves means, ``n`` and ``last``
    (a step is the mean of itself: ``n`` 1 if its value is finite); each cell's rows are together, by time.
    """
    ts = np.floor((frame["ts"].to_numpy() + offset_s) / seconds) * seconds - offset_s
    value = frame["value"].to_numpy(dtype=np.float64)
    state = frame["state"].to_numpy(dtype=np.int8)
    n = frame["n"].to_numpy(dtype=np.int32) if "n" in frame else np.isfinite(value).astype(np.int32)
    last = frame["last"].to_numpy(dtype=np.int8) if "last" in frame else state
    if not len(ts):
        return frame.assign(ts=ts, n=n, last=last)[["indicator", "area", "ts", "value", "n", "state", "last"]]
    indicator, indicator_labels = _factors(frame["indicator"])
    area, area_labels = _factors(frame["area"])
    new = np.ones(len(ts), dtype=bool)
    new[1:] = (ts[1:] != ts[:-1]) | (indicator[1:] != indicator[:-1]) | (area[1:] != area[:-1])
    starts = np.flatnonzero(new)
    count = np.add.reduceat(n, starts)
    total = np.add.reduceat(np.where(n > 0, value * n, 0.0), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
    return pd.DataFrame({"indicator": indicator_labels[indicator[starts]], "area": area_labels[area[starts]],
                         "ts": ts[starts], "value": mean, "n": count, "state": np.maximum.reduceat(state, starts),
                         "last": last[np.r_[starts[1:], len(ts)] - 1]})


def _factors(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """A column as integer codes and the labels they stand for (a categorical's own, else factorized)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(), column.cat.categories.to_numpy(dtype=object)
    codes, labels = pd.factorize(column)
    return codes, np.asarray(labels, dtype=object)


def hour_means(steps: pa.Table) -> pa.Table:
    """The hourly means of fine rows whose cells' rows are together by time (as a merged file has them)."""
    frame = as_frame(steps.select(["indicator", "area", "ts", "value", "state"]))
    return pa.Table.from_pandas(combine(frame, HOUR_S), schema=SCHEMA, preserve_index=False)


def write_twin(hours: pa.Table, path: Path) -> None:
    """Write the hourly means of the merged file at ``path`` as its twin, sorted by indicator, area and time."""
    write_atomic(hours.sort_by(SORT), twin(path), **WRITE)


def read_twin(path: Path, where) -> pa.Table:
    """The rows of a merged file's twin that ``where`` keeps (pyarrow filters skip row groups by indicator)."""
    return pq.read_table(twin(path), filters=where)


def as_frame(table: pa.Table) -> pd.DataFrame:
    """A table of the archive as a frame whose indicator and area are categories (cheap to group, see combine)."""
    for name in ("indicator", "area"):
        table = table.set_column(table.schema.get_field_index(name), name, pc.dictionary_encode(table[name]))
    return table.to_pandas()
