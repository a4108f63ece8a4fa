"""How well each forecast rule warned early, from a run's early-warning log and its warnings log.

A *crossing* is a cell's transition into the state a rule warns of (into red from any other state
for ``toward: red``; into yellow or red from neither for ``toward: yellow``), as the warnings log
has it: the warning the early one is meant to come before. An early warning's *episode* runs from
``raised`` to ``reached`` or ``cleared`` (or the end of the run). A crossing is *hit* by the latest
episode of its cell raised before it that still stood, or ended less than the rule's horizon before
it (the forecast promised the crossing within the horizon); its *lead time* is the crossing's time
minus that episode's onset. ``hit_rate``: hit crossings over all crossings. An episode with no
crossing of its cell from its onset until a horizon after its end is a *false* early warning;
``false_early_per_day``: those per day of the run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from indicators.loader import Catalog

CELL = ["indicator", "level", "area"]


def crossings(log: pd.DataFrame, indicator: str, toward: str) -> pd.DataFrame:
    """The rows of a warnings log where ``indicator`` entered the state ``toward`` (or a worse one)."""
    worse = ("red",) if toward == "red" else ("yellow", "red")
    mine = log[log["indicator"] == indicator]
    return mine[mine["to_state"].isin(worse) & ~mine["from_state"].isin(worse)]


def episodes(early: pd.DataFrame, end: float) -> pd.DataFrame:
    """Early-warning episodes: indicator, level, area, onset, until (``end`` if still standing)."""
    rows, open_at = [], {}
    for at, *cell, event in early[["at", *CELL, "event"]].itertuples(index=False):
        key = tuple(cell)
        if event == "raised":
            open_at[key] = at
        elif key in open_at:
            rows.append((*key, open_at.pop(key), at))
    rows += [(*key, onset, end) for key, onset in open_at.items()]
    return pd.DataFrame(rows, columns=[*CELL, "onset", "until"])


def rule_figures(early: pd.DataFrame, log: pd.DataFrame, indicator: str, toward: str, horizon_s: float,
                 start: float, end: float) -> dict:
    """lead_time_p50_s, hit_rate and false_early_per_day of one forecast rule, with the counts behind them."""
    eps = episodes(early[early["indicator"] == indicator], end)
    cross = crossings(log, indicator, toward)
    leads = []
    for level, area, at in cross[["level", "area", "at"]].itertuples(index=False):
        mine = eps[(eps["level"] == level) & (eps["area"] == area) & (eps["onset"] < at)
                   & (eps["until"] + horizon_s >= at)]
        if len(mine):
            leads.append(at - mine["onset"].max())
    false = 0
    for level, area, onset, until in eps[["level", "area", "onset", "until"]].itertuples(index=False):
        after = cross[(cross["level"] == level) & (cross["area"] == area) & (cross["at"] > onset)
                      & (cross["at"] <= until + horizon_s)]
        false += not len(after)
    days = (end - start) / 86400
    return {"toward": toward, "crossings": len(cross), "early_warnings": len(eps), "hits": len(leads),
            "lead_time_p50_s": float(np.median(leads)) if leads else None,
            "hit_rate": round(len(leads) / len(cross), 3) if len(cross) else None,
            "false_early": false, "false_early_per_day": round(false / days, 3) if days > 0 else None}


def forecast_figures(catalog: Catalog, early: pd.DataFrame, log: pd.DataFrame, start: float,
                     end: float) -> dict[str, dict]:
    """Per forecast rule of ``catalog`` (by indicator id): its figures over the run from ``start`` to ``end``."""
    return {ind.id: rule_figures(early, log, ind.id, ind.forecast.toward, ind.forecast.horizon, start, end)
            for ind in catalog.indicators if ind.forecast is not None}
