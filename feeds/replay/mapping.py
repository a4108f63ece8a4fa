"""A replay's mapping file: which columns of an export become a sample's time, metric, area and value.

```yaml
time: {columns: [year, month, day, hour], format: "%Y %m %d %H", timezone: America/New_York, dst_overlap: earlier}
area: {value: "pukou.jiangpu.c01.g01"}     # a constant, or {column: station, map: {S01: "pukou...g01"}}
wide: {PM2.5: pm25, PM10: pm10}            # one column per metric (or metric: + value:)
na: ["", NA, "-"]
```

Loaded with the file, line and column of every problem (cityvitals/yaml_nodes.py).
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cityvitals.yaml_nodes import load_model

Resolve = Literal["refuse", "earlier", "later"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeSpec(_Strict):
    """The time of a row: one column or several joined by spaces, read with a format in a zone."""

    column: str | None = None
    columns: tuple[str, ...] | None = Field(default=None, min_length=1)
    format: str | None = None  # strftime; None: ISO 8601 or Unix seconds
    timezone: str = "Asia/Shanghai"  # of times written without an offset
    dst_gap: Resolve = "refuse"  # a local time the clocks skip: refuse it, or move it 1 h earlier or later
    dst_overlap: Resolve = "refuse"  # a local time that happens twice: refuse it, or take the earlier or later
    allow_before_2000: bool = False  # history older than 2000 is real here, not a clock never set

    @model_validator(mode="before")
    @classmethod
    def _one_column(cls, data: object) -> object:
        return {"column": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _column_or_columns(self) -> TimeSpec:
        if (self.column is None) == (self.columns is None):
            raise ValueError("give the time as column: NAME or columns: [NAME, ...] (joined with spaces)")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r} (an IANA name such as Asia/Shanghai)") from None
        return zone

    @property
    def sources(self) -> tuple[str, ...]:
        """The columns the time is read from."""
        return self.columns or (self.column,)  # type: ignore[return-value]


class FieldSpec(_Strict):
    """A text field (metric, area): a constant, or a column with an optional map of its values to ours."""

    column: str | None = None
    value: str | None = None
    map: dict[str, str] | None = None  # the source's names to ours; a value not in it is refused

    @model_validator(mode="after")
    def _column_or_value(self) -> FieldSpec:
        if (self.column is None) == (self.value is None):
            raise ValueError("give column: NAME (read from the file) or value: TEXT (the same for every row)")
        if self.map is not None and self.column is None:
            raise ValueError("map applies to a column's values: give column: too")
        return self


class ValueSpec(_Strict):
    """The number of a row: a column, with an optional map of text values to numbers."""

    column: str
    map: dict[str, float] | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_column(cls, data: object) -> object:
        return {"column": data} if isinstance(data, str) else data


class Mapping(_Strict):
    """How the rows of one export become samples."""

    time: TimeSpec
    metric: FieldSpec | None = None
    value: ValueSpec | None = None
    wide: dict[str, str] | None = Field(default=None, min_length=1)  # column -> metric: one sample per cell
    area: FieldSpec | None = None
    lon: str | None = None
    lat: str | None = None
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"  # of lon and lat: gcj02 for AMap and Tencent, bd09 for Baidu
    na: tuple[str, ...] = ("", "NA", "N/A", "NaN", "nan", "null", "-", "--")  # cells that hold no value

    @model_validator(mode="after")
    def _complete(self) -> Mapping:
        problems = []
        if (self.wide is None) == (self.value is None):
            problems.append("give value: COLUMN, or wide: {COLUMN: metric, ...} for one column per metric")
        if self.wide is not None and self.metric is not None:
            problems.append("wide: names the metric of each column; drop metric:")
        if self.wide is None and self.metric is None:
            problems.append("give metric: {column: NAME} or metric: {value: METRIC}")
        if self.area is None and (self.lon is None or self.lat is None):
            problems.append("give area: {column: NAME} or {value: AREA}, or both lon: and lat: columns")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def columns(self) -> set[str]:
        """Every column of the file the mapping reads."""
        used = set(self.time.sources) | set(self.wide or ())
        used |= {spec.column for spec in (self.metric, self.area, self.value) if spec is not None and spec.column}
        return used | {c for c in (self.lon, self.lat) if c}


class MappingError(ValueError):
    """A mapping file that cannot be used; the message lists every problem as file:line:col: field: reason."""


def load_mapping(path: Path) -> Mapping:
    """Return the mapping file at ``path``, or raise MappingError naming every problem where it is."""
    mapping, errors = load_model(path, Mapping)
    if errors:
        raise MappingError("\n".join(errors))
    return mapping  # type: ignore[return-value]
