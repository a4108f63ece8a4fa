"""Funnel-plot limits: whether an area's count is improbable under its reference area's rate.

A small area is judged against what the reference (the district, by default) predicts for it:

- a count or a rate per resident (``sum``, ``rate_per_10k``): the area's events ``x`` against a
  Poisson count with mean ``mu = reference rate x exposure`` (the area's residents), one-sided
  ``p = P(X >= x)``;
- a ratio (``ratio``): ``x`` successes (or events) of ``n`` against a binomial with the reference's
  share ``p0``: ``p = P(X >= x)`` when higher is worse, ``P(X <= x)`` when lower is worse.

The district judges tens of thousands of such cells at once, so a per-cell probability that looks
small would still raise warnings every tick. The p-values of every cell judged this way in one tick
form one family, adjusted by Benjamini–Hochberg (the expected share of false warnings among all the
warnings raised is held below ``1 - confidence``); a cell is yellow when its adjusted value is at or
below ``1 - yellow`` and red at or below ``1 - red``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from indicators.states import State


def p_values(x: np.ndarray, exposure: np.ndarray, rate: np.ndarray, binomial: np.ndarray,
             higher: np.ndarray) -> np.ndarray:
    """One-sided tail probability of each count under the reference rate (1 where it is not above/below).

    ``rate`` is events per unit of exposure (per resident; for a ratio the share, in 0..1). Counts and
    exposures of binomial cells are rounded to whole numbers. Only cells on the worse side of their
    expectation are computed: the others cannot be flagged.
    """
    x, n = np.rint(x), np.where(binomial, np.rint(exposure), exposure)
    mu = rate * n
    with np.errstate(invalid="ignore"):
        worse_side = np.where(higher, (x > mu) & (x >= 1), x < mu)
    ok = worse_side & np.isfinite(mu) & np.isfinite(x) & (n > 0)
    p = np.ones(x.shape)
    poisson = ok & ~binomial & higher
    p[poisson] = _poisson_sf(x[poisson] - 1, mu[poisson])
    share = np.clip(rate, 0.0, 1.0)
    up = ok & binomial & higher
    p[up] = _binom_sf(x[up] - 1, n[up], share[up])
    down = ok & binomial & ~higher
    p[down] = _binom_cdf(x[down], n[down], share[down])
    return p


# What scipy.stats' poisson.sf, binom.sf and binom.cdf give, bit for bit, for the cells p_values passes
# (whole counts, k >= -1, a positive whole n for the binomial, a share in 0..1): the distributions'
# own kernels (``_sf``, ``_cdf``, the hooks scipy's subclassing documents) without the argument
# checks and masks around them, which cost more than the kernels on the few thousand cells of a tick.
def _poisson_sf(k: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """P(X > k) for X ~ Poisson(mu) (1 below 0); NaN where mu < 0."""
    with np.errstate(invalid="ignore"):
        tail = np.where(k < 0, 1.0, np.clip(stats.poisson._sf(k, np.maximum(mu, 0.0)), 0, 1))
    return np.where(mu >= 0, tail, np.nan)


def _binom_sf(k: np.ndarray, n: np.ndarray, share: np.ndarray) -> np.ndarray:
    """P(X > k) for X ~ Binomial(n, share); k in 0.. (1 below 0, 0 from n on)."""
    inside = (k >= 0) & (k < n)
    out = np.where(k < 0, 1.0, 0.0)
    out[inside] = np.clip(stats.binom._sf(k[inside], n[inside], share[inside]), 0, 1)
    return out


def _binom_cdf(k: np.ndarray, n: np.ndarray, share: np.ndarray) -> np.ndarray:
    """P(X <= k) for X ~ Binomial(n, share) (0 below 0, 1 from n on)."""
    inside = (k >= 0) & (k < n)
    out = np.where(k >= n, 1.0, 0.0)
    out[inside] = np.clip(stats.binom._cdf(k[inside], n[inside], share[inside]), 0, 1)
    return out


def adjust(p: np.ndarray, m: int | None = None) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values) of a family of ``m`` tests (default: ``p.size``).

    Tests left out of ``p`` count in ``m`` as p = 1, which can never be flagged: so only the cells
    worth computing need be passed.
    """
    flat = p.ravel()
    m = flat.size if m is None else m
    if not flat.size:
        return p.copy()
    # Most cells of a family sit at p = 1 (not on the worse side): they rank after every p < 1, so only
    # the cells below 1 need sorting. The p = 1 cells at ranks j = k+1..n have the terms m / j, whose
    # suffix minimum is always the last, m / n: that is their q (clipped to 1), and the one term they
    # add to the suffix minimum of every cell ranked above them (no effect unless the array holds
    # more cells than ``m``). A NaN would spread through the whole minimum: plain path, as before.
    n = flat.size
    below = np.flatnonzero(flat < 1.0) if not np.isnan(flat).any() else np.arange(n)
    order = below[np.argsort(flat[below], kind="stable")]
    ranked = flat[order] * m / np.arange(1, order.size + 1)
    last = 1.0 * m / n  # the term of rank n (a p = 1 cell when there is one)
    if order.size < n:
        ranked = np.append(ranked, last)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1][: order.size]  # q_(i) = min over j >= i of p_(j) m / j
    q = np.full(n, min(last, 1.0))
    q[order] = np.minimum(ranked, 1.0)
    return q.reshape(p.shape)


def step_up_cuts(p: np.ndarray, m: int, alphas: np.ndarray) -> np.ndarray | None:
    """Per level in ``alphas``, the largest p-value whose :func:`adjust`-ed q-value is at or below it.

    A q-value is at or below ``alpha`` exactly when the cell's p-value is at or below the last
    p_(j) with p_(j) m / j <= alpha (Benjamini–Hochberg's step-up cut; tied p-values share their
    q-value), so only the cells with p-values near the largest level are sorted, not the family.
    -inf: no cell reaches the level. None where the shortcut does not hold (a NaN p-value, a level
    of 1 or more): adjust the whole family instead.
    """
    alphas = np.asarray(alphas, dtype=float)
    if not alphas.size:
        return alphas
    if np.isnan(p).any() or not (alphas < 1.0).all():
        return None
    # A p-value above the largest level by more than rounding can never be scaled under it (m / j >= 1).
    small = np.sort(p[p <= alphas.max() * (1 + 1e-9)])
    ranked = small * m / np.arange(1, small.size + 1)  # the same terms as adjust's, bit for bit
    # The last rank at or below a level is the last whose suffix minimum is: that minimum never falls,
    # so one search per level finds it (a family has a level per row, hundreds of them).
    last = np.searchsorted(np.minimum.accumulate(ranked[::-1])[::-1], alphas, side="right") - 1
    return np.where(last >= 0, small[np.maximum(last, 0)] if small.size else -np.inf, -np.inf)


def family_severity(p: np.ndarray, valid: np.ndarray, m: int, yellow: np.ndarray, red: np.ndarray) -> np.ndarray:
    """:func:`severity` of the ``valid`` cells of ``p`` :func:`adjust`-ed in a family of ``m`` (the others NORMAL).

    The same states, from each level's step-up cut (:func:`step_up_cuts`) rather than every cell's
    q-value: at province scale the family holds millions of cells, nearly all far from any level.
    """
    judged = p[valid]
    cuts = step_up_cuts(judged, m, np.concatenate([1 - np.ravel(red), 1 - np.ravel(yellow)]))
    if cuts is None:
        q = np.ones_like(p)
        q[valid] = adjust(judged, m)
        return severity(q, yellow, red)
    red_cut, yellow_cut = cuts[: np.size(red)].reshape(np.shape(red)), cuts[np.size(red):].reshape(np.shape(yellow))
    return np.where(valid & (p <= red_cut), np.int8(State.RED),
                    np.where(valid & (p <= yellow_cut), np.int8(State.YELLOW), np.int8(State.NORMAL))).astype(np.int8)


def severity(q: np.ndarray, yellow: np.ndarray | float, red: np.ndarray | float) -> np.ndarray:
    """NORMAL, YELLOW or RED per cell from adjusted p-values and the confidence levels."""
    return np.where(q <= 1 - red, np.int8(State.RED),
                    np.where(q <= 1 - yellow, np.int8(State.YELLOW), np.int8(State.NORMAL))).astype(np.int8)


def limit(rate: float, exposure: float, confidence: float, m: int, binomial: bool = False,
          higher: bool = True) -> float:
    """The count at which one cell alone (the best-ranked of ``m``) would reach ``confidence``: for explanations.

    The smallest count ``x`` (the largest, when lower is worse) with a tail probability at or below
    ``(1 - confidence) / m``: what the cell needs when no other cell is flagged with it.
    """
    alpha = (1 - confidence) / max(m, 1)
    if binomial:
        n = round(exposure)
        dist = stats.binom(n, min(max(rate, 0.0), 1.0))
    else:
        dist = stats.poisson(rate * exposure)
    if higher:
        return float(dist.isf(alpha) + 1)  # P(X >= k) <= alpha  <=>  P(X > k - 1) <= alpha
    return float(dist.ppf(alpha) - (1 if dist.cdf(dist.ppf(alpha)) > alpha else 0))
