"""A work-order export as a platform writes it: one row per order, a column per step, its own names.

```yaml
order: 工单编号
source: {column: 来源渠道, map: {市民热线: "12345", 网格巡查: grid_app}}
area: {column: 网格编码}                       # or {value: AREA}, or a map of the platform's names
steps: {received: 受理时间, dispatched: 派遣时间, closed: 办结时间}   # an empty cell: not reached
format: "%Y-%m-%d %H:%M:%S"
timezone: Asia/Shanghai
satisfied: {column: 满意度, map: {满意: "true", 不满意: "false"}}
```

Each row becomes the events of its order in lifecycle order. A row whose steps go back in time (an
order closed before it was received) is refused whole, with its row number, and counted: it never
opens an order that would stay open and overdue for ever.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from cityvitals.areas.crs import to_wgs84
from cityvitals.areas.model import GridLocator
from cityvitals.yaml_nodes import load_model
from feeds.replay.apply import read_times
from feeds.replay.mapping import FieldSpec, MappingError, TimeSpec
from feeds.replay.reader import CHUNK_BYTES, read_chunks
from feeds.workorders.events import STEPS


class OrderMapping(BaseModel):
    """How the rows of a work-order export become lifecycle events."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order: str  # the column of the order id
    source: FieldSpec
    area: FieldSpec | None = None
    lon: str | None = None  # with lat, instead of area: the order's place, put in the grid holding it
    lat: str | None = None
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"  # of lon and lat
    steps: dict[str, str] = Field(min_length=1)  # step -> column of its time
    format: str | None = None
    timezone: str = "Asia/Shanghai"
    satisfied: FieldSpec | None = None  # mapped to "true" / "false"
    resolved: FieldSpec | None = None  # mapped to grid / escalated / enforcement
    na: tuple[str, ...] = ("", "NA", "N/A", "null", "-", "--")

    @field_validator("steps")
    @classmethod
    def _known_steps(cls, steps: dict[str, str]) -> dict[str, str]:
        unknown = [s for s in steps if s not in STEPS]
        if unknown:
            raise ValueError(f"unknown step(s) {', '.join(map(repr, unknown))}: one of {', '.join(STEPS)}")
        if "received" not in steps:
            raise ValueError("steps needs received: COLUMN (an order opens when it is received)")
        return steps

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        return TimeSpec(column="t", timezone=zone).timezone  # the same check and message as a replay's

    @model_validator(mode="after")
    def _area_or_point(self) -> OrderMapping:
        if (self.area is None) == (self.lon is None or self.lat is None):
            raise ValueError("give area: {column: NAME} or {value: AREA}, or both lon: and lat: columns (not both)")
        return self

    def columns(self) -> set[str]:
        """Every column of the file the mapping reads."""
        specs = (self.source, self.area, self.satisfied, self.resolved)
        points = {c for c in (self.lon, self.lat) if c}
        return {self.order, *self.steps.values(), *points} | {s.column for s in specs if s is not None and s.column}


def load_order_mapping(path: Path) -> OrderMapping:
    """Return the mapping file at ``path``, or raise MappingError naming every problem with file:line:col."""
    mapping, errors = load_model(path, OrderMapping)
    if errors:
        raise MappingError("\n".join(errors))
    return mapping  # type: ignore[return-value]


Events = tuple[list[dict[str, Any]], list[tuple[str, str]]]  # events, and (reason, row) of the rows refused


def order_events(path: Path, mapping: OrderMapping, locator: GridLocator | None = None) -> Events:
    """The events of every usable row in time order within each order, and (reason, row) for the rows refused.

    With ``lon`` and ``lat`` in the mapping each order goes to the grid of ``locator`` holding its point.
    """
    events: list[dict[str, Any]] = []
    bad: list[tuple[str, str]] = []
    for part_events, part_bad in order_event_chunks(path, mapping, locator):
        events += part_events
        bad += part_bad
    return events, bad


def order_event_chunks(path: Path, mapping: OrderMapping, locator: GridLocator | None = None,
                       chunk_bytes: int = CHUNK_BYTES) -> Iterator[Events]:
    """The events and refusals of :func:`order_events`, the file read ``chunk_bytes`` at a time (memory stays flat).

    Row numbers run on across the chunks as if the file were read at once.
    """
    line = 2  # the header is line 1
    for frame in read_chunks(path, chunk_bytes):
        yield _frame_events(path, frame.astype(str), mapping, locator, line)
        line += len(frame)


def _frame_events(path: Path, frame: pd.DataFrame, mapping: OrderMapping, locator: GridLocator | None,
                  first_line: int) -> Events:
    """The events and refusals of the rows of ``frame``, its first row on line ``first_line`` of the file."""
    missing = sorted(mapping.columns() - set(frame.columns))
    if missing:
        raise MappingError(f"{path}: no column {', '.join(map(repr, missing))} (columns: {', '.join(frame.columns)})")
    steps = [s for s in STEPS if s in mapping.steps]
    times = {}
    for step in steps:
        cells = frame[mapping.steps[step]].str.strip()
        spec = TimeSpec(column=mapping.steps[step], format=mapping.format, timezone=mapping.timezone)
        seconds = read_times(frame, spec)[0]
        times[step] = np.where(cells.isin(mapping.na), np.nan, seconds)
    grids = _grids(frame, mapping, locator)
    events, bad = [], []
    for k, row in zip(range(len(frame)), frame.to_dict("records"), strict=True):
        line = k + first_line
        if grids is not None:
            if grids[k] is None:
                bad.append((f"row {line}: point ({row[mapping.lon]}, {row[mapping.lat]}) lies in no grid", repr(row)))
                continue
            row = {**row, "\0grid": grids[k]}
        verdict = _row_events(row, {s: times[s][k] for s in steps}, mapping)
        if isinstance(verdict, str):
            bad.append((f"row {line}: {verdict}", repr(row)))
        else:
            events += verdict
    return events, bad


def _row_events(row: dict[str, str], times: dict[str, float], mapping: OrderMapping) -> list[dict] | str:
    """The events of one row, or why the row is refused (an unknown value, an unreadable or impossible time)."""
    fields = {"area": row.get("\0grid", "")}  # the grid of the order's point, when it has one
    for name in ("source", "area", "satisfied", "resolved"):
        spec = getattr(mapping, name)
        if spec is None:
            continue
        value = _mapped(row, spec, name)
        if value.startswith("\0"):
            return value[1:]
        fields[name] = value
    order = row[mapping.order].strip()
    reached = [(s, t) for s, t in times.items() if not np.isnan(t)]
    for step, cell in ((s, row[mapping.steps[s]]) for s in times):
        if np.isnan(times[step]) and cell.strip() not in mapping.na:
            return f"order {order!r}: {step} time {cell!r} unreadable (format {mapping.format or 'ISO 8601'})"
    if not reached or reached[0][0] != "received":
        return f"order {order!r}: no received time"
    for (before, t0), (after, t1) in zip(reached, reached[1:], strict=False):
        if t1 < t0:
            return f"order {order!r}: impossible timeline: {after} at {_iso(t1)} before {before} at {_iso(t0)}"
    extra = {k: (v == "true") if k == "satisfied" else v for k, v in fields.items() if k not in ("source", "area")}
    return [{"order": order, "source": fields["source"], "area": fields["area"], "step": step, "ts": ts,
             **(extra if step == reached[-1][0] else {})} for step, ts in reached]


def _grids(frame: pd.DataFrame, mapping: OrderMapping, locator: GridLocator | None) -> np.ndarray | None:
    """The grid holding each row's point (None where none does), or None when the mapping names areas."""
    if mapping.lon is None or mapping.lat is None:
        return None
    if locator is None:
        raise MappingError("lon and lat need the area hierarchy's grids to place the orders in")
    lon, lat = (pd.to_numeric(frame[c], errors="coerce").to_numpy(float) for c in (mapping.lon, mapping.lat))
    return locator.locate(*to_wgs84(lon, lat, mapping.crs))


def _mapped(row: dict[str, str], spec: FieldSpec, name: str) -> str:
    """A field's value for one row; a refusal reason starts with NUL (a value its map does not know)."""
    if spec.value is not None:
        return spec.value
    cell = row[spec.column].strip()
    if spec.map is None:
        return cell
    if cell not in spec.map:
        return f"\0{name} {cell!r} of column {spec.column!r} is not in its map"
    return spec.map[cell]


def _iso(ts: float) -> str:
    return pd.Timestamp(ts, unit="s", tz="UTC").isoformat()
