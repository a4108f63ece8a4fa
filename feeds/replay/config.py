"""Configuration of a replay feed: the file, the column mapping, time format and zone, speed."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from feeds.registry import NAME_PATTERN, FeedConfig
from feeds.replay.mapping import FieldSpec, Mapping, TimeSpec, ValueSpec, load_mapping


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
    map: ColumnMap | None = None
    mapping: Path | None = None  # a mapping file (feeds/replay/mapping.py) instead of map and the options below
    metric: str | None = None
    time_format: str | None = None  # strftime format; None: ISO 8601 or Unix seconds
    timezone: str = "Asia/Shanghai"  # of times written without an offset
    speed: float | Literal["max"] = Field(default=1.0)
    batch: int = Field(default=500, gt=0)

    @model_validator(mode="after")
    def _metric_somewhere(self) -> ReplayFeedConfig:
        if (self.map is None) == (self.mapping is None):
            raise ValueError("give map: {time: COLUMN, value: COLUMN, ...} or mapping: FILE (a mapping file)")
        if self.map is not None and self.map.metric is None and self.metric is None:
            raise ValueError("give a metric column in map, or one metric for the whole file")
        if self.speed != "max" and self.speed <= 0:
            raise ValueError("speed must be above 0, or max")
        return self

    def load_mapping(self) -> Mapping:
        """Return the mapping file's mapping, or the one ``map`` and the options say (MappingError if bad)."""
        if self.mapping is not None:
            return load_mapping(self.mapping)
        m = self.map
        assert m is not None  # the validator makes sure of one of them
        return Mapping(time=TimeSpec(column=m.time, format=self.time_format, timezone=self.timezone),
                       metric=FieldSpec(column=m.metric) if m.metric else FieldSpec(value=self.metric),
                       value=ValueSpec(column=m.value), area=FieldSpec(column=m.area) if m.area else None,
                       lon=m.lon, lat=m.lat)

