"""A thematic panel for one area: its indicators in sections, with search and a state filter."""

from __future__ import annotations

import time

from dash import Input, Output, State, callback, dcc, html

from cityvitals import store
from dashboard import context, data, ids
from dashboard.components import PANEL_NAMES, age_text, bi, page_header, pair_text, state_badge, value_text
from dashboard.urls import indicator_path
from indicators.states import State as IndicatorState

FILTER_STATES = ("red", "yellow", "stale", "normal", "insufficient", "not_judged")
STATE_ORDER = {"red": 0, "yellow": 1, "stale": 2, "normal": 3, "insufficient": 4, "not_judged": 5}


def layout(panel: str, area_id: str) -> html.Div:
    """The page of ``panel`` for ``area_id``; rows are filled by :func:`refresh`."""
    tree = context.get().tree
    if panel not in PANEL_NAMES or area_id not in tree:
        return html.Div(bi(f"未知专题或区域: {panel} / {area_id}", f"Unknown panel or area: {panel} / {area_id}"),
                        className="error-page")
    area = tree[area_id]
    zh, en = PANEL_NAMES[panel]
    return html.Div(className="page panel-page", children=[
        dcc.Store(id=ids.PANEL_KEY, data={"panel": panel, "area": area_id}),
        page_header(bi(f"{zh} · {area.name_zh}", f"{en} · {area.name_en}"), area_id, panel,
                    crumb_href=f"/panel/{panel}?area={{id}}"),
        html.Div(className="panel-tools", children=[
            dcc.Input(id=ids.PANEL_SEARCH, type="search", placeholder="搜索指标 Search indicators", debounce=True,
                      className="search"),
            dcc.Checklist(id=ids.PANEL_FILTER, options=[{"label": s, "value": s} for s in FILTER_STATES],
                          value=list(FILTER_STATES), inline=True, className="state-filter"),
            html.Span(id=ids.PANEL_COUNTS, className=ids.PANEL_COUNTS),
        ]),
        html.Div(id=ids.PANEL_SECTIONS, className=ids.PANEL_SECTIONS),
    ])


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
    mine = [d for d in definitions.values() if d["tier"] == "panel" and d["group"] == key["panel"]]
    counts = {s: 0 for s in FILTER_STATES}
    sections: dict[str, list] = {}
    now = time.time()
    needle = (search or "").strip().lower()
    for d in sorted(mine, key=catalog_order):
        record = states.get(d["id"])
        state = record["s"] if record else "stale"  # never scored yet: no data, so not normal
        counts[state] += 1
        if state not in shown or (needle and needle not in f"{d['id']} {d['name']['zh']} {d['name']['en']}".lower()):
            continue
        title = (d["section"]["zh"], d["section"]["en"]) if d.get("section") else ("其他", "Other")
        sections.setdefault(title, []).append(indicator_row(d, record, key["area"], now))
    body = [html.Section(className="panel-section", children=[html.H2(bi(*title)), html.Div(rows, className="rows")])
            for title, rows in sections.items()]
    summary = [html.Span(f"{n} {s}", className=f"count state-{s}") for s, n in counts.items()]
    return body or [html.Div(bi("没有符合条件的指标", "No indicator matches"), className="empty")], summary


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
