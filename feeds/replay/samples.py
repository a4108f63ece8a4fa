"""An export read straight into samples, checked as the ingest path checks them, for a backtest.

Nothing goes to the store: the rows become a frame of samples (metric, area, ts, value) and the
rows that the ingest path would refuse are counted and kept with their line number and reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cityvitals.areas import AreaTree
from cityvitals.metrics import registry
from cityvitals.yaml_nodes import load_model
from feeds.ingest import Rules, check_items
from feeds.replay.config import ReplayMapping
from feeds.replay.feed import row_items
from feeds.replay.reader import parse_times, read_table


class MappingInvalid(ValueError):
    """A mapping file that cannot be used; ``errors`` are ``file:line:col: field: reason``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class FileSamples:
    """The samples of an export, and the rows refused (line number in the file, reason)."""

    frame: pd.DataFrame
    rows: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)


def load_mapping(path: Path) -> ReplayMapping:
    """The mapping file at ``path``; MappingInvalid with every error as file:line:col otherwise."""
    mapping, errors = load_model(path, ReplayMapping)
    if errors or mapping is None:
        raise MappingInvalid(errors)
    return mapping


def read_file_samples(path: Path, mapping: ReplayMapping, tree: AreaTree, batch: int = 50_000) -> FileSamples:
    """Read ``path`` (CSV or Parquet) with ``mapping``: the samples the ingest path would accept, sorted by time."""
    frame = read_table(path)
    m = mapping.map
    missing = [c for c in dict.fromkeys(c for c in m.model_dump().values() if c) if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: no column {missing[0]!r} (columns: {', '.join(map(str, frame.columns))})")
    times = parse_times(frame[m.time], mapping.time_format, mapping.timezone)
    rules, locator = Rules(registry(), set(tree.ids("grid"))), None if m.area else tree.grid_locator()
    parts, out = [], FileSamples(pd.DataFrame(), rows=len(frame))
    for first in range(0, len(frame), batch):
        stop = min(first + batch, len(frame))
        items = row_items(frame, times, mapping, first, stop)
        if locator is not None:
            _locate(items, locator)
        checked = check_items(items, rules, time.time())
        out.refused += [(first + i + 2, reason) for i, reason in checked.refused]  # line 1 is the header
        parts += checked.rows
    out.frame = pd.DataFrame(parts, columns=["metric", "area", "ts", "value"]).sort_values("ts", kind="stable")
    return out


def _locate(items: list[dict], locator) -> None:  # noqa: ANN001
    """Give each item with a point the grid it lies in (an item in none gets no area, and is refused)."""
    lon = np.array([_float(i.get("lon")) for i in items])
    lat = np.array([_float(i.get("lat")) for i in items])
    grids = locator.locate(np.nan_to_num(lon, nan=1e9), np.nan_to_num(lat, nan=1e9))
    for item, grid in zip(items, grids, strict=True):
        if grid is not None:
            item["area"] = grid
        item.pop("lon", None), item.pop("lat", None)


def _float(x: object) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else float("nan")
