"""Configuration of a replay feed: the file, the column mapping, time format and zone, speed."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from feeds.registry import NAME_PATTERN, FeedConfig


class ColumnMap(BaseModel):
    """Which columns of the export hold time, value, metric and the area (or lon and lat)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time: str
    value: str
    metric: str | None = None  # None: every row is ``ReplayFeedConfig.metric``
    area: str | None = None
    lon: str | None = None
    lat: str | None = None

    @model_validator(mode="after")
    def _area_or_point(self) -> ColumnMap:
        if self.area is None and (self.lon is None or self.lat is None):
            raise ValueError("map needs an area column, or both lon and lat columns")
        return self


class ReplayFeedConfig(FeedConfig):
    """A file replayed into the ingest path."""

    type: Literal["replay"]
    name: str = Field(pattern=NAME_PATTERN)
    file: Path
    map: ColumnMap
    metric: str | None = None
    time_format: str | None = None  # strftime format; None: ISO 8601 or Unix seconds
    timezone: str = "Asia/Shanghai"  # of times written without an offset
    speed: float | Literal["max"] = Field(default=1.0)
    batch: int = Field(default=500, gt=0)

    @model_validator(mode="after")
    def _metric_somewhere(self) -> ReplayFeedConfig:
        if self.map.metric is None and self.metric is None:
            raise ValueError("give a metric column in map, or one metric for the whole file")
        if self.speed != "max" and self.speed <= 0:
            raise ValueError("speed must be above 0, or max")
        return self


class ReplayMapping(BaseModel):
    """How to read an export without replaying it into the store (``cityvitals backtest --mapping``).

    The same fields as a replay feed's, in a YAML file of their own: ``map`` (the columns), and
    ``metric``, ``time_format``, ``timezone`` as a replay feed has them.
    """

    model_config = ConfigDict(extra="forbid")

    map: ColumnMap
    metric: str | None = None
    time_format: str | None = None
    timezone: str = "Asia/Shanghai"

    @model_validator(mode="after")
    def _metric_somewhere(self) -> ReplayMapping:
        if self.map.metric is None and self.metric is None:
            raise ValueError("give a metric column in map, or one metric for the whole file")
        return self
