"""Every indicator of one area (a grid first of all) in one table: state, value, limits in force, age, trend."""

from __future__ import annotations

import time
from html import escape

from dash import Input, Output, State, callback, dcc, html

from cityvitals import store
from dashboard import context, data, ids
from dashboard.components import DOMAIN_NAMES, PANEL_NAMES, age_text, bi, data_time_text, page_header, value_text
from dashboard.ranges import parse_range, range_picker
from dashboard.tables import data_table
from dashboard.theme import STATE_ICON
from dashboard.trends import series, text_spark
from dashboard.urls import indicator_path
from indicators.states import State as IndicatorState

SPARK_POINTS = 48  # block characters per trend: 24 h in half hours, 7 d in 6 hours
STATE_ORDER = {"red": 0, "yellow": 1, "stale": 2, "normal": 3, "insufficient": 4, "not_judged": 5}
COLUMNS = [("state", "状态 State"), ("group", "领域/专题 Domain / panel"), ("name", "指标 Indicator"),
           ("value", "数值 Value"), ("limits", "界限 Limits in force"), ("rule", "界限来源 Limits from"),
           ("since", "状态持续 In state for"), ("age", "数据时间 Data age"), ("spark", "走势 Trend"),
           ("trend", "区间变化 Change over range")]


def layout(area_id: str, query: dict[str, str] | None = None) -> html.Div:
    """The table page of ``area_id``; rows are filled by :func:`refresh`; ``?range=`` sets the trends' range."""
    tree = context.get().tree
    if area_id not in tree:
        return html.Div(bi(f"未知区域: {area_id}", f"Unknown area: {area_id}"), className="error-page")
    area = tree[area_id]
    rng = parse_range(query or {})
    return html.Div(className="page indicators-page", children=[
        dcc.Store(id=ids.INDICATORS_KEY, data={"area": area_id, **rng.query}),
        page_header(bi(f"全部指标 · {area.name_zh}", f"All indicators · {area.name_en}"), area_id, "indicators",
                    crumb_href="/indicators?area={id}"),
        range_picker("/indicators", {"area": area_id}, rng),
        html.P(bi(f"红色与黄色在前；每列可筛选与排序。走势：{rng.names()[0]}，颜色为各时段最差状态；变化：与区间起点相比",
                  f"Red and yellow first; filter and sort by any column. Trend: {rng.names()[1]}, each block "
                  "coloured by its worst state; change: against the start of the range"), className="hint"),
        data_table(ids.INDICATORS_TABLE, COLUMNS, {"group", "name", "spark"}, page_action="none", sort_action="native",
                   filter_action="native", markdown_html=True),
    ])


@callback(
    Output(ids.INDICATORS_TABLE, "data"),
    Input(ids.INTERVAL, "n_intervals"),
    State(ids.INDICATORS_KEY, "data"),
)
def refresh(_n: int, key: dict | str) -> list[dict]:
    """Read the area's states (Redis) and its trends over the range (value archive); one row per indicator."""
    ctx = context.get()
    now = time.time()
    key = key if isinstance(key, dict) else {"area": key}  # a page loaded before this version had the id alone
    definitions = data.definitions(ctx.client)
    frame, _bucket = series(sorted(definitions), [key["area"]], parse_range(key, now), SPARK_POINTS)
    by_ind = dict(iter(frame.groupby("indicator", observed=True)))
    then = {i: first_value(g) for i, g in by_ind.items()}
    sparks = {i: text_spark(g) for i, g in by_ind.items()}
    return indicator_rows(definitions, store.read_states(ctx.client, key["area"]), then, key["area"], now, sparks)


def first_value(frame) -> float | None:
    """The first finite value of a trend (the start of the range), None without one."""
    finite = frame["value"].dropna()
    return float(finite.iloc[0]) if len(finite) else None


def indicator_rows(definitions: dict[str, dict], states: dict[str, dict], then: dict[str, float | None],
                   area_id: str, now: float, sparks: dict[str, str] | None = None) -> list[dict]:
    """Rows worst first; an indicator never scored here is stale (no data is not normal)."""
    rows = []
    for d in definitions.values():
        record = states.get(d["id"])
        label = record["s"] if record else "stale"
        value = record["v"] if record else None
        rows.append({
            "id": d["id"], "state": f"{STATE_ICON[IndicatorState[label.upper()]]} {label}",
            "group": _both(*(DOMAIN_NAMES if d["tier"] == "macro" else PANEL_NAMES).get(d["group"], (d["group"],) * 2)),
            "name": f"[{_both(d['name']['zh'], d['name']['en'])}]({indicator_path(d['id'], area_id)})",
            "value": value_text(value, d.get("unit", "")),
            "limits": f"▲{record['y']} ■{record['r']}" if record else "—",
            "rule": record.get("rule", "") if record else "",
            "since": age_text(now - record["since"]) if record and record.get("since") else "—",
            "age": data_time_text(record["ts"], now, d.get("stale_after")) if record and record.get("ts") else "—",
            "spark": (sparks or {}).get(d["id"], "—"),
            "trend": trend_text(then.get(d["id"]), value, d["direction"]),
            "order": (STATE_ORDER[label], d["tier"] != "macro", d["group"], d["id"]),
        })
    rows.sort(key=lambda r: r.pop("order"))
    return rows


def _both(zh: str, en: str) -> str:
    """Both names as inline HTML for a markdown cell; the language CSS hides one, as for :func:`bi`."""
    return f'<span class="zh" lang="zh">{escape(zh)}</span><span class="en" lang="en">{escape(en)}</span>'


def trend_text(before: float | None, now: float | None, direction: str) -> str:
    """Arrow and change against the range start; ✗ when it moved the worse way; ``—`` without both values."""
    if before is None or now is None:
        return "—"
    if now == before:
        return "→ 0"
    worse = (now > before) if direction == "higher_is_worse" else (now < before) if direction == "lower_is_worse" \
        else None  # a band has no worse way to move
    change = f"{(now - before) / abs(before):+.0%}" if before else f"{now - before:+.3g}"
    return f"{'↑' if now > before else '↓'} {change}" + {True: " ✗", False: "", None: ""}[worse]
