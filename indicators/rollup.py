"""Roll grid values up to a coarser level, each indicator by its own rule (pure numpy).

Counts sum; rates and ratios are recomputed from summed numerators and denominators (never
averaged); means are weighted by population; worst-of takes max or min. Only fresh grids
count. All indicators of one rule are aggregated in one pass over a flattened index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

RULES = ("sum", "mean", "ratio", "rate_per_10k", "max", "min")
SAME, OWN = -2, -1  # a row of SharedRows that is its base's row, or one kept apart (k >= 0: shared vector k)


class SharedRows:
    """A (rows x areas) matrix whose rows are mostly another matrix's rows or a vector several rows share.

    Per row, ``kind`` says which: SAME (the row of ``base``), OWN (kept here), or k >= 0
    (``shared[k]``). Indexing gives what the full matrix would hold: at province scale a full
    numerator and denominator per indicator and grid would cost 16 bytes a cell where few rows
    have their own.
    """

    def __init__(self, kind: np.ndarray, base: np.ndarray, shared: Sequence[np.ndarray]) -> None:
        """Rows of ``kind`` over ``base``'s shape; the OWN rows start uninitialised."""
        self.kind, self.base, self.shared, self.shape = kind, base, list(shared), base.shape
        own = kind == OWN
        self.slot = np.cumsum(own) - 1  # of each OWN row, its row in ``own``
        self.own = np.empty((int(own.sum()), base.shape[1]))

    def __setitem__(self, rows: int | np.ndarray, x: np.ndarray | float) -> None:
        """Set rows (an index or indices), kept where a row is its own.

        The others are what they share, which ``x`` then is. ``x``: one row per index, or one row or
        number for all.
        """
        if isinstance(rows, int):  # one row (a formula's, a few dozen a tick): no index arrays
            if self.kind[rows] == OWN:
                self.own[self.slot[rows]] = x
            return
        r = np.atleast_1d(np.arange(self.shape[0])[rows])
        own = self.kind[r] == OWN
        if not own.any():
            return
        x = np.asarray(x)
        self.own[self.slot[r[own]]] = x[own] if x.ndim == 2 and x.shape[0] == r.size else x

    def __getitem__(self, key: object) -> np.ndarray:
        """Rows (an index, indices or a slice), optionally with columns, as from the full matrix."""
        rows, cols = key if isinstance(key, tuple) else (key, slice(None))
        r = np.arange(self.shape[0])[rows]
        if isinstance(cols, slice):
            out = self._rows(np.atleast_1d(r))[:, cols]
            return out[0] if np.ndim(r) == 0 else out
        if isinstance(rows, slice):  # a slice of rows and columns listed: every listed column of each row
            r = r[:, None]
        c = np.asarray(cols)
        if r.ndim == 2 and r.shape[1] == 1 and c.ndim == 2 and c.shape[0] == 1:  # rows by columns (whole rows)
            return self._rows(r[:, 0])[:, c[0]]
        r, c = np.broadcast_arrays(r, c)
        out, kind = np.empty(r.shape), self.kind[r]
        for k in np.unique(self.kind[np.unique(r)]).tolist():
            m = kind == k
            out[m] = self._cells(k, r[m], c[m])
        return out

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        """The full matrix (a copy: for comparisons, not for province-sized work)."""
        full = self._rows(np.arange(self.shape[0]))
        return full if dtype is None else full.astype(dtype)

    def row(self, r: int) -> np.ndarray:
        """Row ``r`` itself, not a copy: what is set into it later is read through it."""
        k = int(self.kind[r])
        return self.base[r] if k == SAME else self.own[self.slot[r]] if k == OWN else self.shared[k]

    def take(self, rows: np.ndarray, base_rows: np.ndarray) -> np.ndarray:
        """Some rows, to read only: ``base_rows`` (the base's, taken already) or a vector all share, else a copy."""
        kinds = np.unique(self.kind[rows])
        if kinds.size == 1 and kinds[0] == SAME:
            return base_rows
        if kinds.size == 1 and kinds[0] >= 0:
            return np.broadcast_to(self.shared[kinds[0]], (rows.size, self.shape[1]))
        return self._rows(rows)

    def _rows(self, rows: np.ndarray) -> np.ndarray:
        out, kind = np.empty((rows.size, self.shape[1])), self.kind[rows]
        for k in np.unique(kind).tolist():
            m = kind == k
            out[m] = self.base[rows[m]] if k == SAME else self.own[self.slot[rows[m]]] if k == OWN else self.shared[k]
        return out

    def _cells(self, k: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        if k == SAME:
            return self.base[rows, cols]
        return self.own[self.slot[rows], cols] if k == OWN else self.shared[k][cols]


class OnlyFresh:
    """Grid values where the cell is fresh, NaN elsewhere (or, without values, the coverage: 1 or 0).

    What a grid rolls up to itself, computed for the cells asked for: a copy would cost 12 bytes
    a cell at province scale. Indexing gives what the full matrix would hold.
    """

    def __init__(self, fresh: np.ndarray, values: np.ndarray | None = None) -> None:
        """Over ``fresh`` (cells with current data) and the grid ``values`` (None: coverage)."""
        self.fresh, self.values, self.shape = fresh, values, fresh.shape

    def __getitem__(self, key: object) -> np.ndarray:
        """Cells as from the full matrix."""
        if self.values is None:
            return self.fresh[key].astype(np.float32)
        return np.where(self.fresh[key], self.values[key], np.nan)

    def __array__(self, dtype: np.dtype | None = None, copy: bool | None = None) -> np.ndarray:
        """The full matrix."""
        full = self[...]
        return full if dtype is None else full.astype(dtype)


def grid_pieces(rules: Sequence[str], value: np.ndarray, population: np.ndarray) -> tuple[SharedRows, SharedRows]:
    """Numerators and denominators of rows of ``rules`` over grid ``value``: see :class:`GridParts`."""
    num = np.array([OWN if rule in ("ratio", "rate_per_10k") else SAME for rule in rules], dtype=np.int64)
    den = np.array([OWN if rule == "ratio" else 1 if rule in ("rate_per_10k", "sum") else 0 for rule in rules],
                   dtype=np.int64)
    return SharedRows(num, value, []), SharedRows(den, value, [np.ones(value.shape[1]), population])


@dataclass
class GridParts:
    """Grid-level pieces of indicators (rows) by grids (columns)."""

    value: np.ndarray | SharedRows  # one metric's (no rate): its row
    num: np.ndarray | SharedRows  # numerator for ratio/rate rules (value itself otherwise)
    den: np.ndarray | SharedRows  # denominator for ratio rules, residents for rate_per_10k and sum (1 otherwise)
    ts: np.ndarray | SharedRows  # time of the oldest input of each cell (NaN: never seen); one metric's: its row


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
    return finish(Mix.one(rule, rows), p, total[0], scale)


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
    bottom: np.ndarray | None  # sum of denominators or weights of the rows that add (None: no such rule)
    count: np.ndarray  # fresh grids
    ts: np.ndarray  # oldest fresh input (inf: none)


_EXTREME = {"max": (np.maximum, -np.inf), "min": (np.minimum, np.inf)}


@dataclass(frozen=True)
class Mix:
    """Rows of several rules rolled up together, in blocks in the order of ``RULES``.

    The rules that add (sums, means, ratios, rates) come first, then the maxima, then the minima:
    one pass per level does them all, where a pass per rule and level took small arrays each.
    """

    blocks: tuple[tuple[str, int, int], ...]  # (rule, first row, end) of each rule present
    added: int  # rows [0, added) add their aggregates, [added, maxed) take the maximum, [maxed, ..) the minimum
    maxed: int
    divides: np.ndarray  # (rows, 1): a mean, ratio or rate, whose value is its top over its bottom

    @classmethod
    def of(cls, counts: Sequence[tuple[str, int]]) -> Mix:
        """The blocks of ``counts`` (rule, rows), given in the order of ``RULES``."""
        rules = [rule for rule, _ in counts]
        if rules != sorted(rules, key=RULES.index):
            raise ValueError(f"roll-up rules {rules} are not in the order {RULES}")
        blocks, at = [], 0
        for rule, k in counts:
            if k:
                blocks.append((rule, at, at + k))
                at += k
        ends = {rule: end for rule, _, end in blocks}
        added = max((ends.get(r, 0) for r in RULES[:4]), default=0)
        maxed = ends.get("max", added)
        divides = np.zeros((at, 1), dtype=bool)
        for rule, first, end in blocks:
            divides[first:end] = rule in ("mean", "ratio", "rate_per_10k")
        return cls(tuple(blocks), added, maxed, divides)

    @classmethod
    def one(cls, rule: str, rows: int) -> Mix:
        """``rows`` rows of one rule."""
        return cls.of([(rule, rows)])


def start(mix: Mix, parts: GridParts, rows: np.ndarray, fresh: np.ndarray, population: np.ndarray) -> Partial:
    """Start the aggregates at grid level of ``rows`` of ``parts`` (in ``mix``'s blocks) from fresh cells.

    ``fresh`` is of those rows; stale cells contribute nothing.
    """
    value = parts.value[rows]
    top, bottom = np.empty(value.shape), np.empty((mix.added, value.shape[1]))
    for rule, a, b in mix.blocks:
        f, v = fresh[a:b], value[a:b]
        if rule in _EXTREME:
            top[a:b] = np.where(f, v, _EXTREME[rule][1])
        elif rule == "mean":
            weight = np.broadcast_to(np.maximum(population, 1.0), v.shape)
            top[a:b], bottom[a:b] = np.where(f, v * weight, 0.0), np.where(f, weight, 0.0)
        else:  # numerators and denominators that are values, 1 or residents are not copied
            num = v if rule == "sum" else _take(parts.num, rows[a:b], v)
            top[a:b], bottom[a:b] = np.where(f, num, 0.0), np.where(f, _take(parts.den, rows[a:b], v), 0.0)
    return Partial(top, bottom, fresh.astype(np.int32), np.where(fresh, parts.ts[rows], np.inf))


def _take(matrix: np.ndarray | SharedRows, rows: np.ndarray, base_rows: np.ndarray) -> np.ndarray:
    """Some rows of ``matrix``, to read only (see :meth:`SharedRows.take`)."""
    return matrix.take(rows, base_rows) if isinstance(matrix, SharedRows) else matrix[rows]


def combine(mix: Mix, p: Partial, seg: Segments) -> Partial:
    """Aggregate the children's aggregates into their parents (contiguous reduceat passes)."""
    a, m, n = mix.added, mix.maxed, p.top.shape[0]
    tops = [seg.reduce(op, p.top[lo:hi], identity) for (op, identity), lo, hi
            in (((np.add, 0.0), 0, a), (_EXTREME["max"], a, m), (_EXTREME["min"], m, n)) if hi > lo]
    return Partial(tops[0] if len(tops) == 1 else np.concatenate(tops), seg.reduce(np.add, p.bottom, 0.0),
                   seg.reduce(np.add, p.count, 0), seg.reduce(np.minimum, p.ts, np.inf))


def finish(mix: Mix, p: Partial, total: np.ndarray, scale: np.ndarray) -> Rolled:
    """Turn aggregates into values like :func:`roll`; ``total`` is each area's number of grids."""
    a = mix.added
    value = p.top
    if mix.divides.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            divided = np.where(p.bottom > 0, p.top[:a] / p.bottom * scale[:a], np.nan)
        value = p.top.copy()
        value[:a] = np.where(mix.divides[:a], divided, p.top[:a])
    has = p.count > 0
    nan = np.nan
    den = np.full(value.shape, nan)
    if a:
        den[:a] = np.where(has[:a], p.bottom, nan)
    return Rolled(value=np.where(has, value, nan), ts=np.where(has, p.ts, nan),
                  coverage=p.count / np.maximum(total, 1)[None, :], num=np.where(has, p.top, nan), den=den)


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
