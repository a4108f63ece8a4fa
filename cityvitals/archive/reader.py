"""Read the archive: samples of a time range, only the partitions and row groups that can hold them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from cityvitals.archive.files import day_of, files, partitions, read_partition

COLUMNS = ["metric", "area", "ts", "value"]


def read_samples(root: Path, start: datetime | float, end: datetime | float, metrics: Collection[str] | None = None,
                 areas: Collection[str] | None = None, levels: Collection[str] | None = None) -> pd.DataFrame:
    """Read the archived samples with ``start <= ts < end``: columns metric, area (categories), ts (Unix s), value."""
    t0, t1 = _seconds(start), _seconds(end)
    where = (ds.field("ts") >= t0) & (ds.field("ts") < t1)
    if metrics is not None:
        where &= ds.field("metric").isin(pa.array(list(metrics), pa.string()))
    if areas is not None:
        where &= ds.field("area").isin(pa.array(list(areas), pa.string()))
    tables = [read_partition(paths, COLUMNS, where)
              for _day, level, directory in partitions(Path(root), day_of(t0), day_of(max(t0, t1 - 1e-6)))
              if (levels is None or level in levels) and (paths := files(directory))]
    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame({"metric": pd.Categorical([]), "area": pd.Categorical([]),
                             "ts": pd.Series([], dtype=float), "value": pd.Series([], dtype=float)})
    return pa.concat_tables(tables).unify_dictionaries().to_pandas()


def _seconds(t: datetime | float) -> float:
    """Unix seconds of a time (a naive datetime is UTC)."""
    if isinstance(t, datetime):
        return (t if t.tzinfo else t.replace(tzinfo=UTC)).timestamp()
    return float(t)
