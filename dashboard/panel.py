"""A thematic panel for one area: its indicators in sections, with search and a state filter."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pandas as pd
from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, html

from cityvitals import store
from dashboard import context, data, exports, ids
from dashboard.components import PANEL_NAMES, age_text, bi, page_header, pair_text, state_badge, value_text
from dashboard.exports import chart_stores, csv_button, graph_config, tidy
from dashboard.ranges import parse_range, range_picker
from dashboard.trends import SPARK_POINTS, aggregation_label, series, spark_section
from dashboard.urls import indicator_path
from indicators.states import State as IndicatorState

FILTER_STATES = ("red", "yellow", "stale", "normal", "insufficient", "not_judged")
STATE_ORDER = {"red": 0, "yellow": 1, "stale": 2, "normal": 3, "insufficient": 4, "not_judged": 5}


def layout(panel: str, area_id: str, query: dict[str, str] | None = None) -> html.Div:
    """The page of ``panel`` for ``area_id``; rows (and, off the wall, their trends) are filled by :func:`refresh`."""
    tree = context.get().tree
    if panel not in PANEL_NAMES or area_id not in tree:
        return html.Div(bi(f"未知专题或区域: {panel} / {area_id}", f"Unknown panel or area: {panel} / {area_id}"),
                        className="error-page")
    query = query or {}
    area = tree[area_id]
    zh, en = PANEL_NAMES[panel]
    wall = query.get("kiosk", "") not in ("", "0", "false")  # the wall rotates panels as before: no trends there
    rng = parse_range(query)
    key = {"page": "panel", "panel": panel, "area": area_id, "trends": not wall, **rng.query}
    return html.Div(className="page panel-page", children=[
        dcc.Store(id=ids.PANEL_KEY, data=key),
        *chart_stores(key),
        page_header(bi(f"{zh} · {area.name_zh}", f"{en} · {area.name_en}"), area_id, panel,
                    crumb_href=f"/panel/{panel}?area={{id}}&{urlencode(rng.query)}"),
        None if wall else range_picker(f"/panel/{panel}", {"area": area_id}, rng),
        None if wall else report_header(f"{zh} {en}", f"{area.name_zh} {area.name_en}", rng),
        html.Div(className="panel-tools", children=[
            dcc.Input(id=ids.PANEL_SEARCH, type="search", placeholder="搜索指标 Search indicators", debounce=True,
                      className="search"),
            dcc.Checklist(id=ids.PANEL_FILTER, options=[{"label": s, "value": s} for s in FILTER_STATES],
                          value=list(FILTER_STATES), inline=True, className="state-filter"),
            html.Span(id=ids.PANEL_COUNTS, className=ids.PANEL_COUNTS),
        ]),
        html.Div(id=ids.PANEL_SECTIONS, className=ids.PANEL_SECTIONS),
    ])


def report_header(panel: str, area: str, rng) -> html.Div:
    """What a printed report (PDF) says at its top: panel, area, range and when; and the button that prints."""
    printed = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return html.Div([
        html.Div(f"City Vitals 城市生命体征 · {panel} · {area} · {' / '.join(dict.fromkeys(rng.names()))} · "
                 f"{printed}", className="print-header"),
        html.Button(bi("打印报告 / PDF", "Print report / PDF"), id=ids.REPORT_PRINT, className="export-button "
                    "report-button", n_clicks=0),
    ])


clientside_callback(ClientsideFunction("cityvitals_report", "print"), Output(ids.REPORT_PRINT, "title"),
                    Input(ids.REPORT_PRINT, "n_clicks"), prevent_initial_call=True)


@callback(
    Output(ids.PANEL_SECTIONS, "children"),
    Output(ids.PANEL_COUNTS, "children"),
    Input(ids.INTERVAL, "n_intervals"),
    Input(ids.PANEL_SEARCH, "value"),
    Input(ids.PANEL_FILTER, "value"),
    State(ids.PANEL_KEY, "data"),
)
def refresh(_n: int, search: str | None, shown: list[str], key: dict) -> tuple[list, list]:
    """Read the area's states and the catalog's definitions; list the panel's indicators by section."""
    ctx = context.get()
    definitions = data.definitions(ctx.client)
    states = store.read_states(ctx.client, key["area"])
    counts = {s: 0 for s in FILTER_STATES}
    sections: dict[tuple[str, str], list[dict]] = {}
    now = time.time()
    needle = (search or "").strip().lower()
    for title, defs in panel_sections(definitions, key["panel"]).items():
        for d in defs:
            state = states[d["id"]]["s"] if d["id"] in states else "stale"  # never scored: no data, not normal
            counts[state] += 1
            if state in shown and (not needle or needle in f"{d['id']} {d['name']['zh']} {d['name']['en']}".lower()):
                sections.setdefault(title, []).append(d)
    trends = key.get("trends", False)
    body = [section(title, defs, states, key, now, trends) for title, defs in sections.items()]
    summary = [html.Span(f"{n} {s}", className=f"count state-{s}") for s, n in counts.items()]
    return body or [html.Div(bi("没有符合条件的指标", "No indicator matches"), className="empty")], summary


def panel_sections(definitions: dict[str, dict], panel: str) -> dict[tuple[str, str], list[dict]]:
    """The panel's indicators by section (Chinese and English title), in catalog order."""
    sections: dict[tuple[str, str], list[dict]] = {}
    mine = [d for d in definitions.values() if d["tier"] == "panel" and d["group"] == panel]
    for d in sorted(mine, key=catalog_order):
        title = (d["section"]["zh"], d["section"]["en"]) if d.get("section") else ("其他", "Other")
        sections.setdefault(title, []).append(d)
    return sections


def section(title: tuple[str, str], defs: list[dict], states: dict, key: dict, now: float, trends: bool
            ) -> html.Section:
    """One section: its rows and, beside them, one figure of their trends over the page's range."""
    rows = [indicator_row(d, states.get(d["id"]), key["area"], now) for d in defs]
    if not trends:
        return html.Section(className="panel-section", children=[html.H2(bi(*title)), html.Div(rows, className="rows")])
    rng = parse_range(key, now)
    frame, bucket = series([d["id"] for d in defs], [key["area"]], rng, SPARK_POINTS)
    name = f"section:{title[1]}"
    return html.Section(className="panel-section with-trends", children=[
        html.Div(className="section-head", children=[
            html.H2(bi(*title)), html.Span(aggregation_label(bucket), className="aggregation"), csv_button(name)]),
        html.Div(className="trend-rows", children=[
            html.Div(rows, className="rows"),
            dcc.Graph(figure=spark_section(defs, frame, key["area"], rng, bucket), className="sparks",
                      config={**graph_config(f"{key['panel']}-{key['area']}-{title[1]}"),
                              "modeBarButtons": [["toImage"]]}),
        ]),
    ])


def section_csv(key: dict, chart: str) -> pd.DataFrame:
    """The data of one section's trends (every indicator of the section, whatever the filter shows)."""
    definitions = data.definitions(context.get().client)
    wanted = chart.removeprefix("section:")
    defs = next((d for title, d in panel_sections(definitions, key["panel"]).items() if title[1] == wanted), [])
    frame, bucket = series([d["id"] for d in defs], [key["area"]], parse_range(key), SPARK_POINTS)
    return tidy(frame, definitions, bucket.label)


exports.register("panel", section_csv)


def catalog_order(d: dict) -> tuple[str, int]:
    """Sort key: file, then line, so sections keep the order the catalog gives them."""
    path, _, rest = d.get("position", "").rpartition(".yaml:")
    return path, int(rest.split(":")[0]) if rest[:1].isdigit() else 0


def indicator_row(d: dict, record: dict | None, area_id: str, now: float) -> html.Div:
    """One indicator: state, name (link to its detail), value and unit, limits, data age."""
    state = IndicatorState[record["s"].upper()] if record else IndicatorState.STALE
    limits = f"▲{record['y']} ■{record['r']}" if record else ""
    age = age_text(now - record["ts"]) if record and record["ts"] else bi("无数据", "no data")
    return html.Div(className=f"row state-{state.label}", children=[
        state_badge(state),
        dcc.Link(bi(d["name"]["zh"], d["name"]["en"]), href=indicator_path(d['id'], area_id), className="name",
                 title=pair_text((d["name"]["zh"], d["name"]["en"]))),
        html.Span(value_text(record["v"] if record else None, d.get("unit", "")), className="value"),
        html.Span(limits, className="limits"),
        html.Span(age, className="age"),
    ])
