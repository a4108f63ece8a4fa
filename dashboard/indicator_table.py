"""Every indicator of one area (a grid first of all) in one table: state, value, limits in force, age, trend."""

from __future__ import annotations

import time
from html import escape

from dash import Input, Output, State, callback, dcc, html

from cityvitals import store
from dashboard import context, data, ids
from dashboard.components import DOMAIN_NAMES, PANEL_NAMES, age_text, bi, data_time_text, page_header, value_text
from dashboard.tables import data_table
from dashboard.theme import STATE_ICON
from dashboard.urls import indicator_path
from indicators.history import read_values_at_step
from indicators.states import State as IndicatorState

TREND_WINDOW_S = 3600
STATE_ORDER = {"red": 0, "yellow": 1, "stale": 2, "normal": 3, "insufficient": 4, "not_judged": 5}
COLUMNS = [("state", "状态 State"), ("group", "领域/专题 Domain / panel"), ("name", "指标 Indicator"),
           ("value", "数值 Value"), ("limits", "界限 Limits in force"), ("rule", "界限来源 Limits from"),
           ("since", "状态持续 In state for"), ("age", "数据时间 Data age"), ("trend", "1小时趋势 1 h trend")]


def layout(area_id: str) -> html.Div:
    """The table page of ``area_id``; rows are filled by :func:`refresh`."""
    tree = context.get().tree
    if area_id not in tree:
        return html.Div(bi(f"未知区域: {area_id}", f"Unknown area: {area_id}"), className="error-page")
    area = tree[area_id]
    return html.Div(className="page indicators-page", children=[
        dcc.Store(id=ids.INDICATORS_KEY, data=area_id),
        page_header(bi(f"全部指标 · {area.name_zh}", f"All indicators · {area.name_en}"), area_id, "indicators",
                    crumb_href="/indicators?area={id}"),
        html.P(bi("红色与黄色在前；每列可筛选与排序。趋势：与一小时前相比（仅区和街道保存历史）",
                  "Red and yellow first; filter and sort by any column. Trend: against an hour ago "
                  "(history is kept for the district and streets)"), className="hint"),
        data_table(ids.INDICATORS_TABLE, COLUMNS, {"group", "name"}, page_action="none", sort_action="native",
                   filter_action="native", markdown_html=True),
    ])


@callback(
    Output(ids.INDICATORS_TABLE, "data"),
    Input(ids.INTERVAL, "n_intervals"),
    State(ids.INDICATORS_KEY, "data"),
)
def refresh(_n: int, area_id: str) -> list[dict]:
    """Read the area's states (Redis) and its values an hour ago (SQL history); one row per indicator."""
    ctx = context.get()
    now = time.time()
    then = read_values_at_step(ctx.sql, area_id, now - TREND_WINDOW_S)
    return indicator_rows(data.definitions(ctx.client), store.read_states(ctx.client, area_id), then, area_id, now)


def indicator_rows(definitions: dict[str, dict], states: dict[str, dict], then: dict[str, float | None],
                   area_id: str, now: float) -> list[dict]:
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
            "trend": trend_text(then.get(d["id"]), value, d["direction"]),
            "order": (STATE_ORDER[label], d["tier"] != "macro", d["group"], d["id"]),
        })
    rows.sort(key=lambda r: r.pop("order"))
    return rows


def _both(zh: str, en: str) -> str:
    """Both names as inline HTML for a markdown cell; the language CSS hides one, as for :func:`bi`."""
    return f'<span class="zh" lang="zh">{escape(zh)}</span><span class="en" lang="en">{escape(en)}</span>'


def trend_text(before: float | None, now: float | None, direction: str) -> str:
    """Arrow and change against the value an hour ago, with ✗ when it moved the worse way; ``—`` without both."""
    if before is None or now is None:
        return "—"
    if now == before:
        return "→ 0"
    worse = (now > before) if direction == "higher_is_worse" else (now < before) if direction == "lower_is_worse" \
        else None  # a band has no worse way to move
    change = f"{(now - before) / abs(before):+.0%}" if before else f"{now - before:+.3g}"
    return f"{'↑' if now > before else '↓'} {change}" + {True: " ✗", False: "", None: ""}[worse]
