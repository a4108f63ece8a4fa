"""Why is this red: explain one indicator's state in one area from what the engine wrote to Redis.

Reads only Redis, through ``cityvitals.store``: the state record (value, thresholds in force
and the rule that set them, data time, feed), the published definition (rollup rule,
direction) and the published hierarchy (children), then the children's records of the same
indicator in one round trip.

A child's ``contribution`` is its share of what the parent aggregates: for ``sum`` its value
over the children's total; for ``mean`` and ``rate_per_10k`` its value times its reporting
population (population x coverage) over the same for all children; for ``max``/``min`` 1 for
the child that sets the parent's value and 0 for the others. ``ratio`` records do not carry
numerators, so their contribution is ``None``. Children are sorted worst first: state
(red, yellow, stale, normal), then value in the bad direction.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from cityvitals import store
from indicators import funnel, thresholds
from indicators.states import State

SEVERITY = {s.label: int(s) for s in State}


class UnknownTarget(LookupError):
    """The indicator or area is not known to the live engine."""


def explain(client: redis.Redis, indicator: str, area_id: str, now: float | None = None) -> dict[str, Any]:
    """Return value, state, since, thresholds and their source, data age and feed, and the children behind it.

    ``pending`` names the state the area waits to take once its minimum duration is over (None: none).
    """
    now = time.time() if now is None else now
    definition = store.read_definition(client, indicator)
    area = store.read_areas(client, [area_id]).get(area_id)
    if definition is None:
        raise UnknownTarget(f"indicator {indicator!r} is not in the live catalog")
    if area is None:
        raise UnknownTarget(f"area {area_id!r} is not in the published hierarchy")
    record = store.read_state_of(client, indicator, [area_id]).get(area_id)
    if record is None:
        raise UnknownTarget(f"no state of {indicator!r} in {area_id!r} yet (has the engine ticked?)")
    children = store.read_state_of(client, indicator, area["children"])
    return {
        "indicator": indicator, "area": area_id, "level": area["level"], "rollup": definition["rollup"],
        "own_level": (definition.get("source") or {}).get("level"),  # read from that level's own samples
        "direction": definition["direction"], "unit": definition.get("unit", ""), "population": area.get("pop"),
        **_facts(record, now),
        "thresholds": {"yellow": record["y"], "red": record["r"], "source": record["rule"]},
        "pending": record["p"], "pending_since": record["ps"], "min_duration_s": definition["min_duration"],
        "clear_after_s": definition["min_duration"] if definition.get("clear_after") is None
        else definition["clear_after"],
        "coverage": record["cov"],
        "evidence": _evidence(record, definition),
        "funnel": _funnel(client, record, definition, area_id),
        "children": _children(children, definition, record, client, now),
    }


def _evidence(record: dict, definition: dict) -> dict[str, Any]:
    """The events and exposure behind the value, and the minimum evidence the indicator asks for (if any)."""
    need = definition.get("evidence") or {}
    return {"num": record.get("num"), "den": record.get("den"), "min_events": need.get("min_events"),
            "min_denominator": need.get("min_denominator")}


def _funnel(client: redis.Redis, record: dict, definition: dict, area_id: str) -> dict[str, Any] | None:
    """For a cell judged by funnel limits: the reference's rate, the count it predicts here and the limits.

    The limits are those of the cell alone at the top of its family (Benjamini–Hochberg ranks it
    first): with other cells flagged beside it, the adjusted limits are lower.
    """
    spec = definition.get("funnel")
    if not spec or not str(record.get("rule", "")).startswith(thresholds.FUNNEL_LABEL):
        return None
    ancestors = store.area_lineage(client, area_id)
    reference = next((a for a, level in ancestors if level == spec["reference"]), None)
    ref = store.read_state_of(client, definition["id"], [reference]).get(reference) if reference else None
    if ref is None or not ref.get("den") or record.get("den") is None:
        return {"reference": reference, "rate": None, "expected": None, "yellow_at": None, "red_at": None}
    rate, exposure = ref["num"] / ref["den"], record["den"]
    m = store.meta(client).funnel_cells
    m = 1 if m is None else m
    binomial, higher = definition["rollup"] == "ratio", definition["direction"] != "lower_is_worse"
    return {"reference": reference, "rate": rate, "expected": rate * exposure, "cells": m,
            "yellow_at": funnel.limit(rate, exposure, spec["yellow"], m, binomial, higher),
            "red_at": funnel.limit(rate, exposure, spec["red"], m, binomial, higher)}


def _facts(record: dict, now: float) -> dict[str, Any]:
    """Return what every record tells: state, value, since, data time, age and feed."""
    ts = record["ts"]
    return {"state": record["s"], "value": record["v"], "since": record["since"], "data_ts": ts,
            "data_age_s": None if ts is None else now - ts, "feed": record.get("src")}


def _children(records: dict[str, dict], definition: dict, parent: dict, client: redis.Redis,
              now: float) -> list[dict]:
    """Children's records of the same indicator with their contribution, worst first."""
    rule = definition["rollup"]
    shares = _shares(records, rule, _weights(records, rule, client), parent)
    out = [{"area": a, **_facts(r, now), "contribution": shares.get(a)} for a, r in records.items()]
    sign = -1.0 if definition["direction"] == "lower_is_worse" else 1.0
    out.sort(key=lambda c: (-SEVERITY[c["state"]], c["value"] is None,
                            -sign * (c["value"] if c["value"] is not None else 0.0), c["area"]))
    return out


def _weights(records: dict[str, dict], rule: str, client: redis.Redis) -> dict[str, float]:
    """Return the reporting population of each child, for population-weighted rules."""
    if rule not in ("mean", "rate_per_10k"):
        return {}
    areas = store.read_areas(client, list(records))
    return {a: max(float(areas[a]["pop"]), 1.0) * r["cov"] for a, r in records.items() if a in areas}


def _shares(records: dict[str, dict], rule: str, weights: dict[str, float], parent: dict) -> dict[str, float]:
    """Each child's share of what the parent aggregates (see the module docstring)."""
    values = {a: r["v"] for a, r in records.items() if r["v"] is not None}
    if rule in ("max", "min"):
        return {a: float(v == parent["v"]) for a, v in values.items()}
    if rule == "sum":
        parts = values
    elif rule in ("mean", "rate_per_10k"):
        parts = {a: v * weights.get(a, 0.0) for a, v in values.items()}
    else:
        return {}
    total = sum(parts.values())
    return {a: (p / total if total else 0.0) for a, p in parts.items()}
