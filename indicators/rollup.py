"""Roll grid values up to a coarser level, each indicator by its own rule (pure numpy).

Counts sum; rates and ratios are recomputed from summed numerators and denominators (never
averaged); means are weighted by population; worst-of takes max or min. Only fresh grids
count. All indicators of one rule are aggregated in one pass over a flattened index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RULES = ("sum", "mean", "ratio", "rate_per_10k", "max", "min")


@dataclass
class GridParts:
    """Grid-level pieces of indicators (rows) by grids (columns)."""

    value: np.ndarray
    num: np.ndarray  # numerator for ratio/rate rules (value itself otherwise)
    den: np.ndarray  # denominator for ratio rules, residents for rate_per_10k and sum (1 otherwise)
    ts: np.ndarray  # time of the oldest input of each cell (NaN: never seen)


@dataclass
class Rolled:
    """Indicators (rows) at one level's areas (columns)."""

    value: np.ndarray
    ts: np.ndarray
    coverage: np.ndarray  # share of the area's grids that contributed fresh data
    num: np.ndarray  # events behind the value (numerator of a ratio or rate, a sum's count; else the value)
    den: np.ndarray  # their exposure (the ratio's denominator, residents of the fresh grids; else NaN)


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
            top, bottom = parts.value[fresh], parts.den[fresh]
        elif rule == "mean":
            weight = np.broadcast_to(np.maximum(population, 1.0), parts.value.shape)[fresh]
            top, bottom = parts.value[fresh] * weight, weight
        else:
            top, bottom = parts.num[fresh], parts.den[fresh]
        value = np.bincount(flat, weights=top, minlength=size).reshape(rows, n)
        den = np.bincount(flat, weights=bottom, minlength=size).reshape(rows, n)
    ts = np.full(size, np.inf)
    np.fmin.at(ts, flat, parts.ts[fresh])
    p = Partial(value, None if rule in ("max", "min") else den, count, ts.reshape(rows, n))
    return finish(rule, p, total[0], scale)


@dataclass
class Segments:
    """Children ordered by parent: parent ``k`` owns children ``start[k]:start[k] + size[k]``."""

    start: np.ndarray
    size: np.ndarray
    full: bool = field(init=False)  # no parent is empty: a plain reduceat is the whole reduction

    def __post_init__(self) -> None:
        self.full = bool(self.size.size) and bool(self.size.all())

    @classmethod
    def of(cls, parent: np.ndarray, n: int) -> Segments | None:
        """Segments of a parent index, or None if children are not grouped by parent."""
        if parent.size and np.any(np.diff(parent) < 0):
            return None
        return cls(np.searchsorted(parent, np.arange(n)), np.bincount(parent, minlength=n))

    def reduce(self, op: np.ufunc, x: np.ndarray, identity: float) -> np.ndarray:
        """Reduce ``x`` (rows x children) to (rows x parents) with ``op``; empty parents get ``identity``."""
        if self.full and self.start[-1] < x.shape[1]:  # every parent has children among the columns
            return op.reduceat(x, self.start, axis=1, dtype=x.dtype)
        out = np.full((x.shape[0], self.start.size), identity, dtype=x.dtype)
        inside = int(np.searchsorted(self.start, x.shape[1]))  # parents after the last child are empty
        if inside:
            out[:, :inside] = op.reduceat(x, self.start[:inside], axis=1)
        out[:, self.size == 0] = identity  # reduceat gives an empty parent its next child's value
        return out


@dataclass
class Partial:
    """Running aggregates of one rule's indicators per area: combine level by level, then finish."""

    top: np.ndarray  # sum of values / numerators / weighted values, or the extreme for max and min
    bottom: np.ndarray | None  # sum of denominators or weights (None: the rule has none)
    count: np.ndarray  # fresh grids
    ts: np.ndarray  # oldest fresh input (inf: none)


_EXTREME = {"max": (np.maximum, -np.inf), "min": (np.minimum, np.inf)}


def start(rule: str, parts: GridParts, fresh: np.ndarray, population: np.ndarray) -> Partial:
    """Start the aggregates at grid level from fresh cells (stale ones contribute nothing)."""
    if rule in _EXTREME:
        top, bottom = np.where(fresh, parts.value, _EXTREME[rule][1]), None
    elif rule == "sum":
        top, bottom = np.where(fresh, parts.value, 0.0), np.where(fresh, parts.den, 0.0)
    elif rule == "mean":
        weight = np.broadcast_to(np.maximum(population, 1.0), parts.value.shape)
        top, bottom = np.where(fresh, parts.value * weight, 0.0), np.where(fresh, weight, 0.0)
    else:
        top, bottom = np.where(fresh, parts.num, 0.0), np.where(fresh, parts.den, 0.0)
    return Partial(top, bottom, fresh.astype(np.int32), np.where(fresh, parts.ts, np.inf))


def combine(rule: str, p: Partial, seg: Segments) -> Partial:
    """Aggregate the children's aggregates into their parents (contiguous reduceat passes)."""
    op, identity = _EXTREME.get(rule, (np.add, 0.0))
    return Partial(seg.reduce(op, p.top, identity),
                   None if p.bottom is None else seg.reduce(np.add, p.bottom, 0.0),
                   seg.reduce(np.add, p.count, 0), seg.reduce(np.minimum, p.ts, np.inf))


def finish(rule: str, p: Partial, total: np.ndarray, scale: np.ndarray) -> Rolled:
    """Turn aggregates into values like :func:`roll`; ``total`` is each area's number of grids."""
    value, num, den = p.top, p.top, p.bottom
    if rule in ("mean", "ratio", "rate_per_10k"):
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(p.bottom > 0, p.top / p.bottom * scale, np.nan)
    has = p.count > 0
    nan = np.nan
    return Rolled(value=np.where(has, value, nan), ts=np.where(has, p.ts, nan),
                  coverage=p.count / np.maximum(total, 1)[None, :], num=np.where(has, num, nan),
                  den=np.where(has, den, nan) if den is not None else np.full(value.shape, nan))


def partial_of(rule: str, rolled: Rolled, total: np.ndarray) -> Partial:
    """The aggregates behind finished values (their ``num``, ``den``, coverage of ``total`` grids and data time)."""
    has = rolled.coverage > 0
    identity = _EXTREME.get(rule, (np.add, 0.0))[1]
    return Partial(np.where(has, rolled.num, identity), None if rule in _EXTREME else np.where(has, rolled.den, 0.0),
                   np.rint(rolled.coverage * np.maximum(total, 1)).astype(np.int64), np.where(has, rolled.ts, np.inf))


def merge(rule: str, parts: list[Partial]) -> Partial:
    """Aggregate the aggregates of disjoint sets of grids (the cities of a province, each scored on its own)."""
    op = _EXTREME.get(rule, (np.add, 0.0))[0]
    return Partial(op.reduce([p.top for p in parts]),
                   None if parts[0].bottom is None else np.add.reduce([p.bottom for p in parts]),
                   np.add.reduce([p.count for p in parts]), np.minimum.reduce([p.ts for p in parts]))
