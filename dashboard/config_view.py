"""The live catalog as operators see it: thresholds, and the result of the last reload with its errors."""

from __future__ import annotations

import json
import time

from dash import Input, Output, callback, dcc, html

from cityvitals import store
from dashboard import context, data, ids
from dashboard.components import age_text, page_header


def layout() -> html.Div:
    """The configuration page; status and table are filled by :func:`refresh`."""
    root = context.get().tree.root
    return html.Div(className="page config-page", children=[
        page_header(["指标配置 Catalog", html.Small(f" · {root.name_zh}")], root.id, "config"),
        html.Div(id=ids.CONFIG_STATUS, className="card config-status"),
        html.Div(className="panel-tools", children=[
            dcc.Input(id=ids.CONFIG_SEARCH, type="search", placeholder="搜索指标 Search id, name, group",
                      debounce=True, className="search"),
        ]),
        html.Div(id=ids.CONFIG_TABLE),
    ])


@callback(
    Output(ids.CONFIG_STATUS, "children"),
    Output(ids.CONFIG_TABLE, "children"),
    Input(ids.INTERVAL, "n_intervals"),
    Input(ids.CONFIG_SEARCH, "value"),
)
def refresh(_n: int, search: str | None) -> tuple:
    """Read the catalog status from the engine's meta record and the live definitions."""
    client = context.get().client
    return reload_status(store.read_meta(client), time.time()), threshold_table(data.definitions(client), search)


def reload_status(meta: dict, now: float) -> list:
    """Live version, when the files were last checked, and every error of that check with file and line."""
    errors = json.loads(meta.get("catalog_errors") or "[]")
    checked = float(meta.get("catalog_checked") or 0)
    when = f" · 检查于 checked {age_text(now - checked)} ago" if checked else " · 尚未检查 not checked yet"
    head = [html.Span(f"当前版本 Live version {meta.get('catalog_version', '—')}"), html.Span(when)]
    if not errors:
        return [html.Div(head), html.Div("✓ 上次重载无错误 The last reload check found no errors",
                                         className="state-normal")]
    return [
        html.Div(head),
        html.Div(f"✗ 上次重载被拒绝，仍使用上一个有效配置 The last reload was refused; "
                 f"the last good catalog stays live ({len(errors)} error(s))", className="state-red"),
        html.Ul([html.Li(e, className="config-error") for e in errors]),
    ]


def threshold_table(definitions: dict[str, dict], search: str | None) -> html.Table:
    """One row per indicator: id, name, group, direction, limits, overrides, staleness, file:line."""
    needle = (search or "").strip().lower()
    rows = [d for d in definitions.values()
            if not needle or needle in f"{d['id']} {d['name']['zh']} {d['name']['en']} {d['group']}".lower()]
    return html.Table(className="table", children=[
        html.Thead(html.Tr([html.Th(h) for h in (
            "id", "名称 Name", "组 Group", "方向 Direction", "▲ 黄 Yellow", "■ 红 Red", "覆盖规则 Overrides",
            "过期 Stale after", "位置 File:line")])),
        html.Tbody([html.Tr([
            html.Td(d["id"]), html.Td(d["name"]["zh"]), html.Td(f"{d['tier']}/{d['group']}"),
            html.Td(d["direction"]),
            html.Td(str(d["thresholds"]["yellow"])), html.Td(str(d["thresholds"]["red"])),
            html.Td(str(len(d.get("overrides") or []))), html.Td(age_text(d["stale_after"])),
            html.Td(d.get("position", "").rsplit("/", 1)[-1]),
        ]) for d in sorted(rows, key=lambda d: (d["tier"], d["group"], d["id"]))]),
    ])
