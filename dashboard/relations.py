"""Indicators that moved with one indicator over a range: over time in the area, and across its children.

Read from the value archive only (the engine's values); a correlation is a hint where to look, never a
cause, and the card says so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from dash import dcc, html

from dashboard import context
from dashboard.components import bi
from dashboard.ranges import TimeRange
from dashboard.trends import means, series
from dashboard.urls import quoted

TOP = 5
MIN_POINTS = 8  # buckets (over time) or children (across areas) both have, for a correlation to be shown
RELATION_POINTS = 100


def correlations(target: pd.Series, others: pd.DataFrame) -> pd.Series:
    """Pearson r of each column of ``others`` with ``target`` (aligned on the index), where enough pairs exist."""
    out = {}
    for col in others.columns:
        pair = pd.concat([target, others[col]], axis=1).dropna()
        if len(pair) >= MIN_POINTS and pair.iloc[:, 0].std() > 0 and pair.iloc[:, 1].std() > 0:
            out[col] = float(np.corrcoef(pair.iloc[:, 0], pair.iloc[:, 1])[0, 1])
    return pd.Series(out, dtype=float)


def related(indicator: str, area: str, candidates: list[str], rng: TimeRange) -> pd.DataFrame:
    """The indicators most correlated with ``indicator``: r over time at ``area``, r across its children's means."""
    wanted = sorted({indicator, *candidates})
    frame, _bucket = series(wanted, [area], rng, RELATION_POINTS)
    over_time = frame.pivot_table(index="ts", columns="indicator", values="value", aggfunc="mean")
    r_time = correlations(over_time[indicator], over_time.drop(columns=indicator)) \
        if indicator in over_time else pd.Series(dtype=float)
    children = [a.id for a in context.get().tree.children(area)]
    r_areas = pd.Series(dtype=float)
    if len(children) >= MIN_POINTS:
        kids = means(wanted, children, rng).pivot(index="area", columns="indicator", values="value")
        if indicator in kids:
            r_areas = correlations(kids[indicator], kids.drop(columns=indicator))
    out = pd.DataFrame({"r_time": r_time, "r_areas": r_areas})
    out["strength"] = out.abs().max(axis=1)
    return out.dropna(subset=["strength"]).sort_values("strength", ascending=False).head(TOP)


def relations_card(indicator: str, area: str, definitions: dict[str, dict], rng: TimeRange) -> html.Div:
    """The top five related indicators with both correlations, and the caveat."""
    d = definitions[indicator]
    same = [i for i, x in definitions.items() if x["group"] == d["group"] or x["tier"] == "macro"]
    top = related(indicator, area, same, rng)
    caveat = html.P(bi("相关不等于因果：时段、人口与同一数据源会让许多指标一起变化。仅作线索。",
                       "Correlation is not cause: the time of day, population and a shared source move many "
                       "indicators together. A hint where to look, no more."), className="hint")
    if not len(top):
        return html.Div([html.Div(bi("此时段数据不足以计算相关", "Too little data in this range to correlate"),
                                  className="empty"), caveat])

    def cell(r: float) -> str:
        return "—" if r != r else f"{r:+.2f}"

    rows = [html.Tr([html.Td(dcc.Link(bi(definitions[i]["name"]["zh"], definitions[i]["name"]["en"]),
                                      href=f"/indicator/{i}?area={quoted(area)}&range={rng.key}")),
                     html.Td(cell(r.r_time)), html.Td(cell(r.r_areas))]) for i, r in top.iterrows()]
    return html.Div([html.Table(className="table relations", children=[
        html.Thead(html.Tr([html.Th("指标 Indicator"), html.Th("随时间 r over time"),
                            html.Th("各下级区域 r across children")])), html.Tbody(rows)]), caveat])
