"""The city-health index and domain scores, from states and weights.

Formula (per area, at every level)::

    score(normal) = 1.0, score(yellow) = 0.6, score(red) = 0.2
    score(stale)  = the score of the last normal/yellow/red the indicator held (missing data never
                    raises a score); not judged and insufficient evidence are left out
    domain score  = 100 * sum(weight * score) / sum(weight)   over the domain's macro indicators,
                    then capped by its worst warning (the bands below)
    health index  = the same over all macro indicators, capped at the top of "attention" while any
                    macro indicator is red or a heavy one (weight >= HEAVY) is yellow

Bands: healthy >= 80, attention 60-80, unhealthy < 60. A domain with a red indicator is at most at
the top of "attention" (79); with a red heavy indicator (weight >= HEAVY), at most 59: unhealthy.
A mean alone would hide one red among fifteen normals (it costs about 5 points).

A score is ``None`` when no indicator it covers has ever been judged: unknown is never shown as
healthy. ``share`` is the weighted share of the judged indicators whose judgement is current (not
stale, enough evidence): shown beside every score.
"""

from __future__ import annotations

import numpy as np

from cityvitals.areas import LEVELS
from cityvitals.vocabulary import DOMAINS, PANELS
from indicators.states import STATE_SCORE, Code, State

HEAVY = 2.0  # a weight at or above this makes an indicator heavy
HEALTHY_FROM, ATTENTION_FROM = 80.0, 60.0
CAP_RED, CAP_HEAVY_RED = 79.0, 59.0

SCORE_OF_STATE = np.full(len(State), np.nan)
for _state, _score in STATE_SCORE.items():
    SCORE_OF_STATE[_state] = _score


def scored_state(state: np.ndarray, judged: np.ndarray) -> np.ndarray:
    """The state each cell scores as: a stale cell as the last state it was judged in."""
    return np.where(state == Code.STALE, judged, state)


def weighted_score(state: np.ndarray, weight: np.ndarray, judged: np.ndarray | None = None,
                   heavy_red_cap: float = CAP_HEAVY_RED) -> np.ndarray:
    """0-100 score per area (column) from a (indicators x areas) state matrix, capped by its warnings; NaN if none."""
    if state.shape[0] == 0:
        return np.full(state.shape[1], np.nan)
    s = scored_state(state, state if judged is None else judged)
    score = SCORE_OF_STATE[s]
    known = ~np.isnan(score)
    w = np.where(known, weight[:, None], 0.0)
    total = w.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(total > 0, 100 * np.nansum(score * w, axis=0) / total, np.nan)
    heavy = (weight >= HEAVY)[:, None]
    red = s == Code.RED
    warned = red.any(axis=0) | ((s == Code.YELLOW) & heavy).any(axis=0)
    cap = np.where((red & heavy).any(axis=0), heavy_red_cap, np.where(warned, CAP_RED, 100.0))
    return np.minimum(mean, cap)


def data_share(state: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted share of the judged indicators (not NOT_JUDGED) whose judgement is current; NaN if none judged."""
    judged = state != Code.NOT_JUDGED
    current = (state == Code.NORMAL) | (state >= Code.YELLOW)
    w = weight[:, None]
    total = np.where(judged, w, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, np.where(current, w, 0.0).sum(axis=0) / total, np.nan)


def state_counts(state: np.ndarray) -> np.ndarray:
    """Counts per state (rows in ``State`` order) for each area (column)."""
    return np.stack([(state == s).sum(axis=0) for s in Code.ALL])


def worst(state: np.ndarray) -> np.ndarray:
    """Worst state per area (column); NOT_JUDGED where there is no indicator."""
    return state.max(axis=0) if state.shape[0] else np.full(state.shape[1], State.NOT_JUDGED, dtype=np.int8)


def summary_fields(state: np.ndarray, judged: np.ndarray, tiers: np.ndarray, groups: np.ndarray,
                   weights: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
    """Summaries of the given area columns as arrays, one entry per area.

    Health, worst macro state, macro counts, domain scores, counts and data shares, panel counts:
    the fields of ``store.SUMMARY_CELL`` that states make. Everything on the overview counts the
    macro indicators only; a panel's page counts its own.
    """
    macro = tiers == "macro"
    sub, sub_judged = state[:, columns], judged[:, columns]
    in_domain = [macro & (groups == d) for d in DOMAINS]
    score = lambda rows, cap=CAP_HEAVY_RED: weighted_score(sub[rows], weights[rows], sub_judged[rows], cap)  # noqa: E731
    return {
        "health": score(macro, CAP_RED),
        "share": data_share(sub[macro], weights[macro]),
        "worst": worst(sub[macro]),
        "counts": state_counts(sub[macro]).T,
        "domain_score": np.stack([score(rows) for rows in in_domain], axis=1),
        "domain_share": np.stack([data_share(sub[rows], weights[rows]) for rows in in_domain], axis=1),
        "domain_counts": np.stack([state_counts(sub[rows]).T for rows in in_domain], axis=1),
        "panel_counts": np.stack([state_counts(sub[~macro & (groups == p)]).T for p in PANELS], axis=1),
    }


def below_counts(worst_of: dict[str, np.ndarray], ancestor: dict[tuple[str, str], np.ndarray]) -> dict[str, np.ndarray]:
    """Per level, per area: how many areas of each level below it are red and yellow (their worst macro state).

    ``worst_of[level]``: worst macro state per area of the level; ``ancestor[(level, above)]``: the
    index of each area's ancestor at ``above``. Returns level -> int array (areas x levels below the
    district x 2: red, yellow), indexed by ``LEVELS[1:]``.
    """
    out = {}
    for k, level in enumerate(LEVELS):
        n = worst_of[level].size
        counts = np.zeros((n, len(LEVELS) - 1, 2), dtype=np.int32)
        for lower in LEVELS[k + 1:]:
            j = LEVELS.index(lower) - 1
            up = ancestor[(lower, level)]
            counts[:, j, 0] = np.bincount(up, weights=worst_of[lower] == Code.RED, minlength=n)
            counts[:, j, 1] = np.bincount(up, weights=worst_of[lower] == Code.YELLOW, minlength=n)
        out[level] = counts
    return out


def domain_scores(state: np.ndarray, judged: np.ndarray, tiers: np.ndarray, groups: np.ndarray,
                  weights: np.ndarray) -> dict[str, list]:
    """Score per domain and the health index (as ``health``) for every area (column); None where unknown."""
    macro = tiers == "macro"
    scores = {d: weighted_score(state[macro & (groups == d)], weights[macro & (groups == d)],
                                judged[macro & (groups == d)]) for d in DOMAINS}
    scores["health"] = weighted_score(state[macro], weights[macro], judged[macro], CAP_RED)
    return {d: [_num(x) for x in s] for d, s in scores.items()}


def _num(x: float) -> float | None:
    return None if np.isnan(x) else round(float(x), 1)
