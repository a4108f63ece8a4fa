"""A work-order feed's entry in the feeds file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from feeds.registry import NAME_PATTERN, FeedConfig
from feeds.workorders.events import SOURCES


class WorkOrdersFeedConfig(FeedConfig):
    """The work-order pipeline: publishes per-grid aggregates of the orders pushed or replayed into it."""

    type: Literal["workorders"]
    name: str = Field(default="workorders", pattern=NAME_PATTERN)
    interval_s: float = Field(default=60.0, gt=0)
    replay: Path | None = None  # a CSV or NDJSON file of events read once at start
    mapping: Path | None = None  # the replay file is a platform's export, read through this mapping file
    simulate: bool = False  # the simulated city's orders without the simulator (which sends them itself)
    seed: int = 7
    deadlines_h: dict[Literal[SOURCES], Annotated[float, Field(gt=0)]] = {}  # overrides, per source
