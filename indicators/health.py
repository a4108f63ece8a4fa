"""The city-health index and domain scores, from states and weights.

Formula (per area, at every level)::

    score(normal) = 1.0, score(yellow) = 0.6, score(red) = 0.2, stale indicators left out
    domain score  = 100 * sum(weight * score) / sum(weight)   over the domain's macro indicators
    health index  = 100 * sum(weight * score) / sum(weight)   over all macro indicators

A score is ``None`` when every indicator it covers is stale: unknown is never shown as healthy.
"""

from __future__ import annotations

import numpy as np

from cityvitals.vocabulary import DOMAINS, PANELS
from indicators.states import STATE_SCORE, State

SCORE_OF_STATE = np.array([STATE_SCORE[State.NORMAL], np.nan, STATE_SCORE[State.YELLOW], STATE_SCORE[State.RED]])


def weighted_score(state: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """0-100 score per area (column) from a (indicators x areas) state matrix; NaN if all stale."""
    if state.shape[0] == 0:
        return np.full(state.shape[1], np.nan)
    score = SCORE_OF_STATE[state]
    known = ~np.isnan(score)
    w = np.where(known, weight[:, None], 0.0)
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100 * np.nansum(score * w, axis=0) / total, np.nan)


def state_counts(state: np.ndarray) -> np.ndarray:
    """Counts per state (rows NORMAL, STALE, YELLOW, RED) for each area (column)."""
    return np.stack([(state == s).sum(axis=0) for s in State])


def summary_fields(state: np.ndarray, tiers: np.ndarray, groups: np.ndarray, weights: np.ndarray,
                   columns: np.ndarray) -> dict[str, np.ndarray]:
    """Summaries of the given area columns as arrays, one entry per area.

    Health, worst state, counts, domain scores and counts, panel counts: the fields of
    ``store.SUMMARY_CELL`` that states make.
    """
    macro = tiers == "macro"
    sub = state[:, columns]
    in_domain = [macro & (groups == d) for d in DOMAINS]
    return {
        "health": weighted_score(sub[macro], weights[macro]),
        "worst": sub.max(axis=0) if sub.shape[0] else np.full(len(columns), State.STALE),
        "counts": state_counts(sub[macro]).T,
        "domain_score": np.stack([weighted_score(sub[rows], weights[rows]) for rows in in_domain], axis=1),
        "domain_counts": np.stack([state_counts(sub[rows]).T for rows in in_domain], axis=1),
        "panel_counts": np.stack([state_counts(sub[~macro & (groups == p)]).T for p in PANELS], axis=1),
    }


def domain_scores(state: np.ndarray, tiers: np.ndarray, groups: np.ndarray, weights: np.ndarray) -> dict[str, list]:
    """Score per domain and the health index (as ``health``) for every area (column); None where all stale."""
    macro = tiers == "macro"
    scores = {d: weighted_score(state[macro & (groups == d)], weights[macro & (groups == d)]) for d in DOMAINS}
    scores["health"] = weighted_score(state[macro], weights[macro])
    return {d: [_num(x) for x in s] for d, s in scores.items()}


def _num(x: float) -> float | None:
    return None if np.isnan(x) else round(float(x), 1)
