"""The simulator's entry in the feeds file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from feeds.registry import NAME_PATTERN, FeedConfig


class SimulatorFeedConfig(FeedConfig):
    """The simulated city."""

    type: Literal["simulator"]
    name: str = Field(default="simulator", pattern=NAME_PATTERN)
    interval_s: float = Field(default=60.0, gt=0)
    seed: int = 7
