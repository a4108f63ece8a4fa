"""The replay feed: rows of an export through the ingest path, paced, with a checkpoint in Redis."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from cityvitals import store
from feeds.ingest import Ingestor
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.reader import paced, parse_times, read_table


def row_items(frame: pd.DataFrame, times: np.ndarray, cfg: ReplayFeedConfig, first: int, stop: int) -> list[Any]:
    """The ingest items of rows ``first:stop``; unreadable cells stay as found so the ingest path says why."""
    m = cfg.map
    items = []
    for k in range(first, stop):
        row = frame.iloc[k]
        item: dict[str, Any] = {"metric": row[m.metric] if m.metric else cfg.metric,
                                "ts": times[k] if np.isfinite(times[k]) else row[m.time],
                                "value": _number(row[m.value])}
        if m.area:
            item["area"] = row[m.area]
        else:
            item["lon"], item["lat"] = _number(row[m.lon]), _number(row[m.lat])
        items.append(item)
    return items


def _number(cell: Any) -> Any:
    """A numeric cell as a float; anything else as found (refused later with its text)."""
    try:
        return float(cell)
    except (TypeError, ValueError):
        return cell


class ReplayFeed:
    """Replay one file; ``run`` resumes after the last row delivered (kept in Redis) and returns rows sent."""

    def __init__(self, cfg: ReplayFeedConfig, ingestor: Ingestor) -> None:
        self.cfg, self.ingestor = cfg, ingestor
        self.stopped = False

    def run(self, max_rows: int | None = None, progress: bool = True) -> int:
        """Replay from the checkpoint to the end (or ``max_rows`` rows); bad rows are refused with their number."""
        cfg, client = self.cfg, self.ingestor.client
        frame = read_table(cfg.file)
        for column in {c for c in cfg.map.model_dump().values() if c}:
            if column not in frame.columns:
                raise ValueError(f"{cfg.file}: no column {column!r} (columns: {', '.join(map(str, frame.columns))})")
        times = parse_times(frame[cfg.map.time], cfg.time_format, cfg.timezone)
        start = store.read_checkpoint(client, cfg.name)
        end = len(frame) if max_rows is None else min(len(frame), start + max_rows)
        speed = None if cfg.speed == "max" else float(cfg.speed)
        done = start
        with tqdm(total=len(frame), initial=start, unit="row", desc=cfg.name, disable=not progress) as bar:
            for first, stop in paced(times[:end], speed, start, cfg.batch):
                # Row numbers as a person finds them in the file: the header is line 1.
                self.ingestor.submit(row_items(frame, times, cfg, first, stop),
                                     where=lambda i, first=first: f"row {first + i + 2}")
                store.write_checkpoint(client, cfg.name, stop)
                bar.update(stop - first)
                done = stop
                if self.stopped:
                    break
        return done - start
