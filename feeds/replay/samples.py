"""An export read straight into samples, checked as the ingest path checks them, for a backtest.

Nothing goes to the store: the replay feed's dry run (its mapping file, then the ingest path's checks)
gives the samples (metric, area, ts, value) and the rows refused, with their line number and reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cityvitals import store
from cityvitals.areas import AreaTree
from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.feed import ReplayFeed
from feeds.replay.reader import CHUNK_BYTES


@dataclass
class FileSamples:
    """The samples of an export, and the rows refused (line number in the file, reason)."""

    frame: pd.DataFrame
    rows: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)


def read_file_samples(path: Path, mapping: Path, tree: AreaTree, chunk_bytes: int = CHUNK_BYTES) -> FileSamples:
    """Read ``path`` (CSV or Parquet) with the mapping file ``mapping``: the accepted samples, sorted by time.

    A MappingError names every problem of the mapping file as file:line:col; a ValueError an unusable export.
    The file is read ``chunk_bytes`` at a time: memory holds the samples, not the file's text.
    """
    cfg = ReplayFeedConfig(type="replay", name="backtest", file=path, mapping=mapping)
    checker = Ingestor(None, "backtest", registry(), tree, locator=tree.grid_locator())  # type: ignore[arg-type]
    out = FileSamples(pd.DataFrame(store.columns_of([])._asdict()))
    frames = [out.frame]
    for long, checked in ReplayFeed(cfg, checker, chunk_bytes).dry_run():
        frames.append(pd.DataFrame({k: np.asarray(v) for k, v in checked.samples._asdict().items()}))
        out.rows += len(long)
        out.refused += [(int(long.line[i]), reason) for i, reason in checked.refused]
    out.frame = pd.concat(frames, ignore_index=True).sort_values("ts", kind="stable")
    return out
