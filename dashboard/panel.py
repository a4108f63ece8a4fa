"""A thematic panel for one area: its indicators in sections, with search and a state filter."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import pandas as pd
from dash import ClientsideFunction, Input, Output, Patch, State, callback, clientside_callback, dcc, html, no_update

from cityvitals import store
from cityvitals.archive.values import Bucket, newest_step, values_root
from dashboard import clock, context, data, exports, ids
from dashboard.components import PANEL_NAMES, age_span, bi, page_header, pair_text, state_badge, value_text
from dashboard.delta import Delta, kept
from dashboard.exports import chart_stores, csv_button, graph_config, tidy
from dashboard.ranges import parse_range, range_picker
from dashboard.trends import SPARK_POINTS, aggregation_label, aligned, limits_at, range_bucket, series, spark_section
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
    # data-now: the server's clock, against which the browser ticks the rows' ages (assets/55_ages.js)
    return html.Div(className="page panel-page", **{"data-now": time.time()}, children=[
        dcc.Store(id=ids.PANEL_KEY, data=key),
        dcc.Store(id=ids.PANEL_SHOWN),
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
    printed = f"{clock.shown(time.time(), '%Y-%m-%d %H:%M')} {clock.zone().key}"
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
    Output(ids.PANEL_SHOWN, "data"),
    Input(ids.INTERVAL, "n_intervals"),
    Input(ids.PANEL_SEARCH, "value"),
    Input(ids.PANEL_FILTER, "value"),
    State(ids.PANEL_KEY, "data"),
    State(ids.PANEL_SHOWN, "data"),
)
def refresh(_n: int, search: str | None, shown: list[str], key: dict, sent: dict[str, str] | None) -> tuple:
    """Read the area's states of the panel's indicators; list them by section, each beside its trends.

    Only what moved since the browser got it (``sent``: digests, as on the overview) is built and sent: a
    section's rows when their states did, its trends when the range's bucket moved or the archive got a
    step; the whole list when the sections' rows changed (search, filter, a state leaving the filter).
    Built parts are kept per process (dashboard/delta.py), so every client of an area shares one build; the
    trends, which read the archive, are kept in Redis too, so the first worker's read serves the others.
    """
    ctx = context.get()
    definitions = data.definitions(ctx.client)
    every = panel_sections(definitions, key["panel"])
    states = store.read_states(ctx.client, key["area"], [d["id"] for defs in every.values() for d in defs])
    counts = {s: 0 for s in FILTER_STATES}
    sections: dict[tuple[str, str], list[dict]] = {}
    needle = (search or "").strip().lower()
    for title, defs in every.items():
        for d in defs:
            state = states[d["id"]]["s"] if d["id"] in states else "stale"  # never scored: no data, not normal
            counts[state] += 1
            if state in shown and (not needle or needle in f"{d['id']} {d['name']['zh']} {d['name']['en']}".lower()):
                sections.setdefault(title, []).append(d)
    trends, area = key.get("trends", False), key["area"]
    rng = parse_range(key)
    bucket = range_bucket(rng, SPARK_POINTS)
    window = aligned(rng, bucket)
    delta = Delta(sent)
    fresh = delta.changed("layout", (area, trends, window.query, bucket, [(t, [d["id"] for d in defs])
                                                                          for t, defs in sections.items()]))
    if fresh:
        delta.forget()  # a new list of sections: every part goes into it
    newest = newest_step(values_root(ctx.archive_path), {ctx.tree[area].level}) if trends and ctx.archive_path else 0
    panel_ids = [d["id"] for defs in every.values() for d in defs]  # one archive read for the whole panel
    rows = {t: delta.part(f"rows:{t[1]}", (area, [(d["id"], d["name"], d.get("unit"), row_data(states.get(d["id"])))
                                                  for d in defs]),
                          lambda defs=defs: [indicator_row(d, states.get(d["id"]), area) for d in defs])
            for t, defs in sections.items()}
    sparks = {t: delta.part(f"trends:{t[1]}", (area, [trend_data(d, area) for d in defs], window.start, bucket,
                                               str(ctx.archive_path), newest),
                            lambda defs=defs: spark_section(defs, series(panel_ids, [area], rng, SPARK_POINTS)[0],
                                                            area, window, bucket), share=ctx.client)
              for t, defs in sections.items()} if trends else {}
    body = patch(rows, sparks)
    if fresh:  # the same for every page just opened on the same data: built and converted once per process
        body = kept(("panel-body", key["panel"], *sorted(delta.digests.items())), lambda: [
            section(t, rows[t], sparks.get(t), key, bucket) for t in sections]
            or [html.Div(bi("没有符合条件的指标", "No indicator matches"), className="empty")])
    summary = delta.part("counts", counts, lambda: [html.Span(f"{n} {s}", className=f"count state-{s}")
                                                    for s, n in counts.items()])
    return body, summary, delta.store()


def row_data(record: dict | None) -> tuple | None:
    """What a row shows of a state record (its age ticks in the browser): a changed tuple is a changed row."""
    return record and (record["s"], record["v"], record["y"], record["r"], record["ts"])


def trend_data(d: dict, area: str) -> tuple:
    """What a sparkline draws of a definition besides the archive: its unit, direction and limits at ``area``."""
    return d["id"], d.get("unit", ""), d["direction"], limits_at(d, area)


def patch(rows: dict[tuple[str, str], Any], sparks: dict[tuple[str, str], Any]) -> Patch | Any:
    """The sections' rows and trends that changed, patched into the list the browser shows (no update: none)."""
    changes = Patch()
    moved = False
    for k, title in enumerate(rows):
        body = changes[k]["props"]["children"][1]["props"]  # section(): the rows, or the rows beside their trends
        if rows[title] is not no_update:
            if title in sparks:
                body["children"][0]["props"]["children"] = rows[title]
            else:
                body["children"] = rows[title]
            moved = True
        if sparks.get(title, no_update) is not no_update:
            body["children"][1]["props"]["figure"] = sparks[title]
            moved = True
    return changes if moved else no_update


def section(title: tuple[str, str], rows: list, figure: dict | None, key: dict, bucket: Bucket) -> html.Section:
    """One section: a head, then its rows (beside one figure of their trends, off the wall)."""
    if figure is None:
        return html.Section(className="panel-section", children=[html.H2(bi(*title)), html.Div(rows, className="rows")])
    return html.Section(className="panel-section with-trends", children=[
        html.Div(className="section-head", children=[
            html.H2(bi(*title)), html.Span(aggregation_label(bucket), className="aggregation"),
            csv_button(f"section:{title[1]}")]),
        html.Div(className="trend-rows", children=[
            html.Div(rows, className="rows"),
            dcc.Graph(figure=figure, className="sparks",
                      config={**graph_config(f"{key['panel']}-{key['area']}-{title[1]}"),
                              "modeBarButtons": [["toImage"]]}),
        ]),
    ])


def panel_sections(definitions: dict[str, dict], panel: str) -> dict[tuple[str, str], list[dict]]:
    """The panel's indicators by section (Chinese and English title), in catalog order."""
    sections: dict[tuple[str, str], list[dict]] = {}
    mine = [d for d in definitions.values() if d["tier"] == "panel" and d["group"] == panel]
    for d in sorted(mine, key=catalog_order):
        title = (d["section"]["zh"], d["section"]["en"]) if d.get("section") else ("其他", "Other")
        sections.setdefault(title, []).append(d)
    return sections


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


def indicator_row(d: dict, record: dict | None, area_id: str) -> html.Div:
    """One indicator: state, name (link to its detail), value and unit, limits, data age (ticking in the browser)."""
    state = IndicatorState[record["s"].upper()] if record else IndicatorState.STALE
    limits = f"▲{record['y']} ■{record['r']}" if record else ""
    age = age_span(record["ts"], time.time()) if record and record["ts"] else html.Span(bi("无数据", "no data"),
                                                                                          className="age")
    return html.Div(className=f"row state-{state.label}", children=[
        state_badge(state),
        dcc.Link(bi(d["name"]["zh"], d["name"]["en"]), href=indicator_path(d['id'], area_id), className="name",
                 title=pair_text((d["name"]["zh"], d["name"]["en"]))),
        html.Span(value_text(record["v"] if record else None, d.get("unit", "")), className="value"),
        html.Span(limits, className="limits"),
        age,
    ])
