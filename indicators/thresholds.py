"""Resolve the thresholds in force per (indicator, area) at one level, overrides applied."""

from __future__ import annotations

from datetime import datetime

import numpy as np

from indicators.classify import Limits
from indicators.loader import Catalog
from indicators.schema import Bound, Indicator, Override, Profile, Schedule

FUNNEL_LABEL = "funnel"  # the rule of cells judged by funnel limits (see indicators/funnel.py)


def _limits(direction: str, bound: Bound) -> tuple[float, float]:
    """A threshold as an allowed (low, high) range for the given direction."""
    if direction == "higher_is_worse":
        return -np.inf, float(bound)
    if direction == "lower_is_worse":
        return float(bound), np.inf
    return float(bound[0]), float(bound[1])


def schedule_active(schedule: Schedule, local: datetime) -> bool:
    """Whether ``local`` time falls in the schedule's hours (wrapping midnight) and weekdays."""
    if schedule.weekdays is not None and local.weekday() not in schedule.weekdays:
        return False
    start, end = schedule.hours.split("-")
    now = local.strftime("%H:%M")
    return start <= now < end if start <= end else (now >= start or now < end)


def profile_active(profile: Profile, local: datetime, switched_on: set[str]) -> bool:
    """A profile is active when an operator switched it on or today is within its dates."""
    if profile.id in switched_on:
        return True
    if not (profile.start and profile.end):
        return False
    today = local.strftime("%m-%d")
    lo, hi = profile.start, profile.end
    return lo <= today <= hi if lo <= hi else (today >= lo or today <= hi)


def describe(index: int, o: Override) -> str:
    """Human label of an override, e.g. ``override 2: level=street, schedule 07:00-09:00``."""
    parts = [f"level={o.level}" if o.level else "", f"area={o.area}" if o.area else "",
             f"schedule {o.schedule.hours}" if o.schedule else "", f"profile {o.profile}" if o.profile else ""]
    return f"override {index + 1}: " + ", ".join(p for p in parts if p)


def switchable(catalog: Catalog) -> tuple[tuple[str, int, Override], ...]:
    """The overrides a schedule or a profile switches on and off (indicator, index, override).

    All that :func:`active_key` looks at, listed once per catalog.
    """
    return tuple((ind.id, i, o) for ind in catalog.indicators for i, o in enumerate(ind.overrides)
                 if o.schedule or o.profile)


def active_key(catalog: Catalog, overrides: tuple[tuple[str, int, Override], ...], local: datetime,
               switched_on: set[str]) -> tuple:
    """Which of the ``overrides`` (:func:`switchable`) are active: thresholds only need rebuilding when this changes."""
    return tuple(
        (ind_id, i)
        for ind_id, i, o in overrides
        if (o.schedule and schedule_active(o.schedule, local))
        or (o.profile and profile_active(catalog.profiles[o.profile], local, switched_on))
    )


def rule_labels(catalog: Catalog) -> list[str]:
    """Every rule the catalog can put in force, ``default`` first, in a fixed order.

    Rule codes index this list; being fixed by the catalog, codes persisted in Redis keep their
    meaning across engine restarts.
    """
    overrides = {describe(i, o) for ind in catalog.indicators for i, o in enumerate(ind.overrides)}
    return ["default", FUNNEL_LABEL] + sorted(overrides)


def _limit_text(direction: str, low: float, high: float) -> str:
    """A threshold as shown: the one limit that matters for the direction, a band as ``[lo, hi]``."""
    if direction == "higher_is_worse":
        return f"{high:g}"
    if direction == "lower_is_worse":
        return f"{low:g}"
    return f"[{low:g}, {high:g}]"


def rule_texts(catalog: Catalog, labels: list[str]) -> dict[str, dict[int, tuple[str, str, str]]]:
    """Per indicator, per rule code it can use: the rule's label and its yellow and red thresholds as shown."""
    code = {label: k for k, label in enumerate(labels)}
    shown = lambda ind, bound: _limit_text(ind.direction, *_limits(ind.direction, bound))  # noqa: E731
    return {
        ind.id: {0: ("default", shown(ind, ind.thresholds.yellow), shown(ind, ind.thresholds.red))}
        | {code[describe(i, o)]: (describe(i, o), shown(ind, o.yellow), shown(ind, o.red))
           for i, o in enumerate(ind.overrides)}
        | ({code[FUNNEL_LABEL]: (f"funnel vs {ind.funnel.reference}", f"{ind.funnel.yellow:.1%}",
                                 f"{ind.funnel.red:.1%}")} if ind.funnel else {})
        for ind in catalog.indicators
    }


def resolve(catalog: Catalog, level: str, area_ids: list[str], local: datetime, switched_on: set[str],
            labels: list[str]) -> Limits:
    """Build the limit matrices for one level; codes point into ``labels`` (see :func:`rule_labels`).

    Without an override naming one of the level's areas, every column would be the same: the
    matrices are then one column wide (they broadcast), not (indicators x areas) at province scale.
    """
    code = {label: k for k, label in enumerate(labels)}
    position = {a: i for i, a in enumerate(area_ids)}
    per_area = any(o.area in position for ind in catalog.indicators for o in ind.overrides if o.area)
    n_ind, n = len(catalog.indicators), len(area_ids) if per_area else 1
    arrays = {k: np.empty((n_ind, n)) for k in ("yl", "yh", "rl", "rh")}
    source = np.zeros((n_ind, n), dtype=np.int32)
    for row, ind in enumerate(catalog.indicators):
        _fill(arrays, source, row, slice(None), ind, ind.thresholds.yellow, ind.thresholds.red,
              code["default"])
        for i, o in enumerate(ind.overrides):
            cols = _override_columns(o, level, position, catalog, local, switched_on)
            if cols is not None:
                _fill(arrays, source, row, cols, ind, o.yellow, o.red, code[describe(i, o)])
        if ind.funnel is not None and level in ind.funnel.levels:  # judged by the funnel, not by a fixed number
            for a in arrays.values():
                a[row] = np.nan
            source[row] = code[FUNNEL_LABEL]
    return Limits(arrays["yl"], arrays["yh"], arrays["rl"], arrays["rh"], source)


def _fill(arrays: dict, source: np.ndarray, row: int, cols: slice | int, ind: Indicator, yellow: Bound,
          red: Bound, code: int) -> None:
    arrays["yl"][row, cols], arrays["yh"][row, cols] = _limits(ind.direction, yellow)
    arrays["rl"][row, cols], arrays["rh"][row, cols] = _limits(ind.direction, red)
    source[row, cols] = code


def _override_columns(o: Override, level: str, position: dict[str, int], catalog: Catalog, local: datetime,
                      switched_on: set[str]) -> slice | int | None:
    """Which areas of this level an override applies to now (None: none of them)."""
    if o.level and o.level != level:
        return None
    if o.schedule and not schedule_active(o.schedule, local):
        return None
    if o.profile and not profile_active(catalog.profiles[o.profile], local, switched_on):
        return None
    if o.area:
        return position.get(o.area)
    return slice(None)
