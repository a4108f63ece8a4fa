"""Roll grid values up to a coarser level, each indicator by its own rule (pure numpy).

Counts sum; rates and ratios are recomputed from summed numerators and denominators (never
averaged); means are weighted by population; worst-of takes max or min. Only fresh grids
count. All indicators of one rule are aggregated in one pass over a flattened index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RULES = ("sum", "mean", "ratio", "rate_per_10k", "max", "min")


@dataclass
class GridParts:
    """Grid-level pieces of indicators (rows) by grids (columns)."""

    value: np.ndarray
    num: np.ndarray  # numerator for ratio/rate rules (value itself otherwise)
    den: np.ndarray  # denominator for ratio/rate rules (1 otherwise)
    ts: np.ndarray  # time of the oldest input of each cell (NaN: never seen)


@dataclass
class Rolled:
    """Indicators (rows) at one level's areas (columns)."""

    value: np.ndarray
    ts: np.ndarray
    coverage: np.ndarray  # share of the area's grids that contributed fresh data


def roll(rule: str, parts: GridParts, fresh: np.ndarray, parent: np.ndarray, n: int,
         population: np.ndarray, scale: np.ndarray) -> Rolled:
    """Aggregate fresh grid cells into ``n`` parents for indicators sharing one ``rule``."""
    rows = parts.value.shape[0]
    flat = (np.arange(rows)[:, None] * n + parent[None, :])[fresh]
    size = rows * n
    count = np.bincount(flat, minlength=size).reshape(rows, n)
    total = np.bincount(parent, minlength=n)[None, :]
    if rule in ("max", "min"):
        value = np.full(size, -np.inf if rule == "max" else np.inf)
        (np.fmax if rule == "max" else np.fmin).at(value, flat, parts.value[fresh])
        value = value.reshape(rows, n)
    else:
        if rule == "sum":
            top, bottom = parts.value[fresh], None
        elif rule == "mean":
            weight = np.broadcast_to(np.maximum(population, 1.0), parts.value.shape)[fresh]
            top, bottom = parts.value[fresh] * weight, weight
        else:
            top, bottom = parts.num[fresh], parts.den[fresh]
        value = np.bincount(flat, weights=top, minlength=size).reshape(rows, n)
        if bottom is not None:
            den = np.bincount(flat, weights=bottom, minlength=size).reshape(rows, n)
            with np.errstate(divide="ignore", invalid="ignore"):
                value = np.where(den > 0, value / den * scale, np.nan)
    ts = np.full(size, np.inf)
    np.fmin.at(ts, flat, parts.ts[fresh])
    has = count > 0
    return Rolled(
        value=np.where(has, value, np.nan),
        ts=np.where(has, ts.reshape(rows, n), np.nan),
        coverage=count / np.maximum(total, 1),
    )
