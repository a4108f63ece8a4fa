"""An export read straight into samples, checked as the ingest path checks them, for a backtest.

Nothing goes to the store: the replay feed's dry run (its mapping file, then the ingest path's checks)
gives the samples (metric, area, ts, value) and the rows refused, with their line number and reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cityvitals.areas import AreaTree
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.feed import ReplayFeed


@dataclass
class FileSamples:
    """The samples of an export, and the rows refused (line number in the file, reason)."""

    frame: pd.DataFrame
    rows: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)


def read_file_samples(path: Path, mapping: Path, tree: AreaTree) -> FileSamples:
    """Read ``path`` (CSV or Parquet) with the mapping file ``mapping``: the accepted samples, sorted by time.

    A MappingError names every problem of the mapping file as file:line:col; a ValueError an unusable export.
    """
    cfg = ReplayFeedConfig(type="replay", name="backtest", file=path, mapping=mapping)
    checker = Ingestor(None, "backtest", registry(), tree, locator=tree.grid_locator())  # type: ignore[arg-type]
    long, checked = ReplayFeed(cfg, checker).dry_run()
    frame = pd.DataFrame(checked.samples._asdict()).sort_values("ts", kind="stable")
    return FileSamples(frame, rows=len(long), refused=[(int(long.line[i]), reason) for i, reason in checked.refused])
