"""Compare areas on one indicator: the children ranked, small multiples, 2–6 picked lines, a map by value.

Every number is the value archive's mean over the page's range (``?range=``), per child area as the
engine judged it there: nothing is rolled up here.
"""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import pandas as pd
from dash import Input, Output, State, callback, dcc, html, no_update

from cityvitals.archive.matrix import ABSENT
from cityvitals.archive.values import Bucket, newest_step, values_root
from dashboard import clock, context, data, exports, ids
from dashboard.area_cells import AreaCells, area_cells
from dashboard.components import bi, page_header, value_text
from dashboard.delta import shared
from dashboard.exports import chart_stores, csv_button, graph_config, tidy
from dashboard.map_view import value_map
from dashboard.ranges import TimeRange, parse_range, range_picker
from dashboard.theme import STATE_COLOR
from dashboard.trends import (
    AXIS,
    LINE_POINTS,
    LOOK,
    aggregation_text,
    aligned,
    axis_range,
    band_shapes,
    range_bucket,
    series,
    view_range,
)
from indicators.states import State as IndicatorState

PICK_MIN, PICK_MAX, PICK_DEFAULT = 2, 6, 3
# Bars, picks and small multiples show the worst this many children: a province's 1,250 streets would be a
# 35,000 px bar chart and megabytes of small multiples. The map shows them all, the CSV holds them all.
SHOWN_MAX = 40
MULTIPLE_POINTS = 100  # per small multiple: 24 h in 15-minute means
NO_JUDGEMENT = "#5c677d"
LINE_COLOURS = ("#8ecae6", "#f4a261", "#b5e48c", "#cdb4db", "#ffafcc", "#90e0ef")


def compared_areas(area_id: str) -> tuple[str, list[str]]:
    """The area whose children are compared and their ids: a grid's siblings, since a grid has no children."""
    tree = context.get().tree
    parent = area_id if tree.children(area_id) else (tree[area_id].parent or area_id)
    return parent, [a.id for a in tree.children(parent)] or [area_id]


def compare_cells(indicator: str, areas: list[str], rng: TimeRange) -> tuple[AreaCells, Bucket]:
    """``indicator`` in ``areas`` at the lines' bucket, from the range's window to the small multiples' end.

    One read for the ranking, the picked lines and the small multiples (their window ends at their coarser
    bucket's end, the same length).
    """
    bucket = range_bucket(rng, LINE_POINTS)
    window = aligned(rng, bucket)
    end = max(window.end, aligned(rng, range_bucket(rng, MULTIPLE_POINTS)).end)
    return area_cells(indicator, areas, window.start, end, bucket), bucket


def in_window(cells: AreaCells, bucket: Bucket, rng: TimeRange) -> AreaCells:
    """The cells of the range's window at the lines' bucket (what the ranking and the lines show)."""
    window = aligned(rng, bucket)
    return cells.regrid(bucket.seconds, window.start, window.end)


def ranking(indicator: str, d: dict, areas: list[str], rng: TimeRange) -> pd.DataFrame:
    """Each area's mean over the range and its state at the range's end, worst first by the indicator's direction."""
    cells, bucket = compare_cells(indicator, areas, rng)
    return rank_cells(d, areas, in_window(cells, bucket, rng))


def rank_cells(d: dict, areas: list[str], cells: AreaCells) -> pd.DataFrame:
    """The ranking of ``areas`` by their means in ``cells``; an area without data is stale, never normal."""
    tree = context.get().tree
    value, state = cells.rows(areas).means()
    out = pd.DataFrame({"area": areas, "value": value,
                        "state": np.where(state == ABSENT, int(IndicatorState.STALE), state).astype(int),
                        "name_zh": [tree[a].name_zh for a in areas], "name_en": [tree[a].name_en for a in areas],
                        "population": [tree[a].population for a in areas]})
    worst_high = d["direction"] != "lower_is_worse"
    return out.sort_values("value", ascending=not worst_high, na_position="last", kind="stable").reset_index(drop=True)


def layout(indicator: str, area_id: str, query: dict[str, str] | None = None) -> html.Div | dict:
    """The compare page of ``indicator`` over the children of ``area_id``.

    Built once for its data (the definition, the range's window, the archive's newest step) by the first
    process asked, kept in Redis for the others: every analyst opening the same comparison shares one build.
    """
    ctx = context.get()
    d = data.definitions(ctx.client).get(indicator)
    if d is None or area_id not in ctx.tree:
        return html.Div(f"未知指标或区域 Unknown indicator or area: {indicator} / {area_id}", className="error-page")
    query = query or {}
    parent, areas = compared_areas(area_id)
    rng = parse_range(query)
    window = aligned(rng, range_bucket(rng, LINE_POINTS))  # what every chart reads: the page's data
    root = ctx.archive_path
    newest = newest_step(values_root(root), {ctx.tree[a].level for a in areas}) if root else 0.0
    return shared(ctx.client, ("compare", indicator, repr(d), parent, window.start, window.end, window.key,
                               query.get("pick"), str(root), newest), lambda: page(indicator, d, parent, areas, query,
                                                                                   window))


def page(indicator: str, d: dict, parent: str, areas: list[str], query: dict[str, str], rng: TimeRange) -> html.Div:
    """The compare page's components: ranking, map, picked lines and small multiples over ``rng``."""
    ctx = context.get()
    cells, bucket = compare_cells(indicator, areas, rng)
    window = in_window(cells, bucket, rng)
    ranked = rank_cells(d, areas, window)
    shown = ranked.head(SHOWN_MAX)
    asked = [a for a in (query.get("pick") or "").split(",") if a in areas]
    pick = asked[:PICK_MAX] if len(asked) >= PICK_MIN else ranked["area"].head(PICK_DEFAULT).tolist()
    choices = pd.concat([shown, ranked[ranked["area"].isin(pick) & ~ranked["area"].isin(shown["area"])]])
    area = ctx.tree[parent]
    key = {"page": "compare", "indicator": indicator, "area": parent, "pick": pick, **rng.query}
    return html.Div(className="page compare-page", children=[
        dcc.Store(id=ids.COMPARE_KEY, data=key),
        *chart_stores(key),
        page_header(bi(f"比较 · {d['name']['zh']} · {area.name_zh}", f"Compare · {d['name']['en']} · {area.name_en}"),
                    parent, d["group"] if d["tier"] == "panel" else "overview",
                    crumb_href=f"/compare/{indicator}?area={{id}}&{urlencode(rng.query)}"),
        range_picker(f"/compare/{indicator}", {"area": parent}, rng),
        html.Div(className="compare-body", children=[
            card(bi(f"下级区域排名 · {rng.names()[0]}均值", f"Children ranked · mean over {rng.names()[1]}"), "bars",
                 html.Div([*cut_note(len(shown), len(ranked)),
                           dcc.Graph(id=ids.COMPARE_BARS, figure=bars_figure(shown, d, rng),
                                     config=graph_config(f"compare-{indicator}-{parent}-bars"))])),
            card(bi("按数值着色的地图", "Map coloured by value"), "map",
                 dcc.Graph(figure=value_map(ctx.tree, parent, ranked, d.get("unit", "")), className="compare-map",
                           style={"height": "640px"}, config=graph_config(f"compare-{indicator}-{parent}-map"))),
            card(bi("选择2–6个区域同图比较", "Pick 2–6 areas to see together"), "lines", html.Div([
                dcc.Checklist(id=ids.COMPARE_PICK, className="compare-pick", inline=True, value=pick,
                              options=[{"label": f"{r.name_zh} {r.name_en}", "value": r.area}
                                       for r in choices.itertuples()]),
                dcc.Graph(id=ids.COMPARE_LINES, figure=lines_figure(d, pick, window, bucket, rng),
                          config=graph_config(f"compare-{indicator}-{parent}-lines"))]), wide=True),
            card(bi("各区域走势（同一纵轴）", "Each area over time (one shared scale)"), "multiples",
                 dcc.Graph(figure=multiples_figure(d, shown, cells, rng),
                           config=graph_config(f"compare-{indicator}-{parent}-multiples")), wide=True),
        ]),
    ])


def shown_colour(state: int) -> str:
    """A state's colour, with "not judged" and "insufficient" lifted so a bar or line stays visible on the dark page."""
    return STATE_COLOR[IndicatorState(state)] if state >= IndicatorState.NORMAL else NO_JUDGEMENT


def cut_note(shown: int, total: int) -> list:
    """Say that only the worst ``shown`` of ``total`` children are drawn, where that is so."""
    if shown >= total:
        return []
    return [html.P(bi(f"仅显示最差的{shown}个，共{total}个；地图与CSV含全部", f"The worst {shown} of {total} shown; "
                      "the map and the CSV hold them all"), className="hint compare-cut")]


def card(title: list, chart: str, body, wide: bool = False) -> html.Div:
    """A titled card with its chart's CSV export."""
    return html.Div(className="card wide" if wide else "card", children=[html.H2([*title, csv_button(chart)]), body])


def bars_figure(ranked: pd.DataFrame, d: dict, rng: TimeRange) -> dict:
    """Horizontal bars, worst on top, coloured by each area's state at the range's end, population in the label."""
    unit = d.get("unit", "")
    shown = ranked[::-1]  # plotly draws the first bar at the bottom
    values = [None if not np.isfinite(v) else float(v) for v in shown["value"]]
    return {
        "data": [{"type": "bar", "orientation": "h", "x": values, "y": [f"{z} {e}" for z, e in
                                                                        zip(shown["name_zh"], shown["name_en"],
                                                                            strict=True)],
                  "marker": {"color": [shown_colour(s) for s in shown["state"]]},
                  "text": [f"{value_text(v, unit)} · {p:,} 人" for v, p in zip(values, shown["population"],
                                                                               strict=True)],
                  "textposition": "auto", "customdata": shown["area"].tolist(),
                  "hovertemplate": "%{y}<br>%{text}<extra></extra>"}],
        "layout": {**LOOK, "height": max(260, 28 * len(ranked) + 60), "margin": {"l": 200, "r": 20, "t": 10, "b": 50},
                   "xaxis": {**AXIS, "title": {"text": f"{unit} · {rng.names()[1]} mean · 颜色=区间末状态 "
                                                       "colour: state at the end"}},
                   "yaxis": {**AXIS, "automargin": True}, "showlegend": False},
    }


def lines_figure(d: dict, pick: list[str], cells: AreaCells, bucket: Bucket, rng: TimeRange) -> dict:
    """The picked areas' lines together, with the indicator's bands (``cells``: the range's window, every child)."""
    tree = context.get().tree
    picked = cells.rows(pick)
    first = pick[0] if pick else None  # siblings: one level, one set of limits
    lo, hi = view_range(picked.mean().ravel(), d, first)
    traces = [{"type": "scatter", "mode": "lines", "x0": clock.axis_ms(start), "dx": bucket.seconds * 1000,
               "name": f"{tree[a].name_zh} {tree[a].name_en}",
               "y": [None if v is None else float(f"{v:.4g}") for v in points],
               "line": {"color": LINE_COLOURS[k % len(LINE_COLOURS)], "width": 2}}
              for k, a in enumerate(pick) for line in [picked.line(k)] if line is not None for start, points in [line]]
    return {"data": traces, "layout": {
        **LOOK, "height": 320, "margin": {"l": 50, "r": 10, "t": 10, "b": 40}, "shapes": band_shapes(d, lo, hi, first),
        "legend": {"orientation": "h", "y": 1.12},
        "yaxis": {**AXIS, "range": [lo, hi], "title": {"text": d.get("unit", "")}},
        "xaxis": {**AXIS, "type": "date", "range": axis_range(rng), "title": {"text": aggregation_text(bucket)}}}}


def multiples_figure(d: dict, ranked: pd.DataFrame, cells: AreaCells, rng: TimeRange, columns: int = 6) -> dict:
    """One small chart per area of ``ranked`` in its order, all on one y scale so heights compare.

    Each line on the bucket grid (``x0``, ``dx``: no times sent), merged from ``cells`` (:func:`compare_cells`)
    into at most MULTIPLE_POINTS buckets.
    """
    bucket = range_bucket(rng, MULTIPLE_POINTS)
    window = aligned(rng, bucket)
    lines = cells.rows(ranked["area"].tolist()).regrid(bucket.seconds, window.start, window.end)
    lo, hi = view_range(lines.mean().ravel(), d, ranked["area"].iloc[0] if len(ranked) else None)
    n = len(ranked)
    rows = max(1, -(-n // columns))
    gap_x, gap_y = 0.02, 0.08 / rows
    data_, layout = [], {**LOOK, "height": 150 * rows + 40, "margin": {"l": 40, "r": 10, "t": 20, "b": 30},
                         "showlegend": False, "annotations": [], "shapes": []}
    for k, r in enumerate(ranked.itertuples()):
        ax = "" if k == 0 else str(k + 1)
        col, row = k % columns, k // columns
        x0, y1 = col / columns, 1 - row / rows
        layout[f"xaxis{ax}"] = {**AXIS, "domain": [x0, x0 + 1 / columns - gap_x], "type": "date", "anchor": f"y{ax}",
                                "showticklabels": row == rows - 1, "range": axis_range(rng)}
        layout[f"yaxis{ax}"] = {**AXIS, "domain": [y1 - 1 / rows + gap_y * 2, y1 - gap_y], "range": [lo, hi],
                                "anchor": f"x{ax}", "showticklabels": col == 0}
        first, points = lines.line(k) or (0.0, [])
        data_.append({"type": "scatter", "mode": "lines", "x0": clock.axis_ms(first), "dx": bucket.seconds * 1000,
                      "y": [None if v is None else float(f"{v:.4g}") for v in points], "xaxis": f"x{ax}",
                      "yaxis": f"y{ax}", "line": {"color": shown_colour(r.state), "width": 1.5}, "name": r.name_zh})
        layout["annotations"].append({"text": f"{r.name_zh} {value_text(r.value if np.isfinite(r.value) else None)}",
                                      "xref": f"x{ax} domain", "yref": f"y{ax} domain", "x": 0, "y": 1.02,
                                      "xanchor": "left", "yanchor": "bottom", "showarrow": False,
                                      "font": {"size": 11}})
        layout["shapes"] += [{**s, "xref": f"x{ax} domain", "yref": f"y{ax}"} for s in band_shapes(d, lo, hi, r.area)]
    layout["annotations"].append({"text": aggregation_text(bucket), "xref": "paper", "yref": "paper", "x": 1,
                                  "y": 0, "yshift": -28, "showarrow": False, "xanchor": "right",
                                  "font": {"size": 11}})
    return {"data": data_, "layout": layout}


@callback(
    Output(ids.COMPARE_LINES, "figure"),
    Output(ids.CHART_KEY, "data"),
    Input(ids.COMPARE_PICK, "value"),
    State(ids.COMPARE_KEY, "data"),
    prevent_initial_call=True,
)
def pick_lines(pick: list[str], key: dict) -> tuple:
    """Redraw the lines for the areas picked (2 to 6; outside that the chart stays as it was)."""
    if not PICK_MIN <= len(pick or []) <= PICK_MAX:
        return no_update, no_update
    d = data.definitions(context.get().client)[key["indicator"]]
    rng = parse_range(key)
    cells, bucket = compare_cells(key["indicator"], compared_areas(key["area"])[1], rng)
    return lines_figure(d, pick, in_window(cells, bucket, rng), bucket, rng), {**key, "pick": pick}


def compare_csv(key: dict, chart: str) -> pd.DataFrame:
    """The data of one compare chart: the ranking (bars, map) or the series (lines, small multiples)."""
    definitions = data.definitions(context.get().client)
    d, rng = definitions[key["indicator"]], parse_range(key)
    _parent, areas = compared_areas(key["area"])
    if chart in ("bars", "map"):
        ranked = ranking(key["indicator"], d, areas, rng)
        ranked.insert(0, "rank", range(1, len(ranked) + 1))
        ranked["state"] = [IndicatorState(s).label for s in ranked["state"]]
        return ranked.assign(unit=d.get("unit", ""), aggregation=f"mean over {rng.names()[1]}")
    wanted = key.get("pick") or areas if chart == "lines" else areas
    frame, bucket = series([key["indicator"]], wanted, rng, MULTIPLE_POINTS if chart == "multiples" else 300)
    return tidy(frame, definitions, bucket.label)


exports.register("compare", compare_csv)
