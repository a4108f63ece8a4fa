"""The live catalog as operators see it: thresholds, and the result of the last reload with its errors."""

from __future__ import annotations

import time

from dash import Input, Output, callback, html

from cityvitals import store
from dashboard import clock, context, data, ids
from dashboard.components import age_text, bi, page_header
from dashboard.tables import data_table
from indicators.history import read_catalog_events


def layout() -> html.Div:
    """The configuration page; status and table are filled by :func:`refresh`."""
    root = context.get().tree.root
    return html.Div(className="page config-page", children=[
        page_header(bi(f"指标配置 · {root.name_zh}", f"Catalog · {root.name_en}"), root.id, "config"),
        html.Div(id=ids.CONFIG_STATUS, className="card config-status"),
        html.P("每列可筛选与排序 Filter and sort by any column", className="hint"),
        data_table(ids.CONFIG_TABLE, COLUMNS, page_size=40, sort_action="native", filter_action="native"),
    ])


@callback(
    Output(ids.CONFIG_STATUS, "children"),
    Output(ids.CONFIG_TABLE, "data"),
    Input(ids.INTERVAL, "n_intervals"),
)
def refresh(_n: int) -> tuple:
    """Read the catalog status from the engine's meta record, the reload log and the live definitions."""
    ctx = context.get()
    now = time.time()
    status = reload_status(store.meta(ctx.client), now) + reload_log(read_catalog_events(ctx.sql, 10), now)
    return status, threshold_rows(data.definitions(ctx.client))


def reload_status(meta: store.Meta, now: float) -> list:
    """Live version, when the files were last checked, and every error of that check with file and line."""
    errors, checked = meta.catalog_errors, meta.catalog_checked
    version = "—" if meta.catalog_version is None else meta.catalog_version
    when = f" · 检查于 checked {age_text(now - checked)} ago" if checked else " · 尚未检查 not checked yet"
    head = [html.Span(f"当前版本 Live version {version}"), html.Span(when)]
    if not errors:
        return [html.Div(head), html.Div("✓ 上次重载无错误 The last reload check found no errors",
                                         className="state-normal")]
    return [
        html.Div(head),
        html.Div(f"✗ 上次重载被拒绝，仍使用上一个有效配置 The last reload was refused; "
                 f"the last good catalog stays live ({len(errors)} error(s))", className="state-red"),
        html.Ul([html.Li(e, className="config-error") for e in errors]),
    ]


def reload_log(events: list[dict], now: float) -> list:
    """The last catalog checks that changed something, newest first: when, version, accepted or refused."""
    if not events:
        return []
    lines = [html.Li(f"{age_text(now - clock.seconds(e['at']))} ago · "
                     f"{e['version']} · " + ("✓ accepted 已生效" if e["ok"] else
                                           f"✗ refused 被拒绝 ({len(e['errors'].splitlines())} error(s))"),
                     className="state-normal" if e["ok"] else "state-red") for e in events]
    return [html.Div("重载记录 Reload log", className="hint"), html.Ul(lines, className="reload-log")]


COLUMNS = [("id", "id"), ("name", "名称 Name"), ("group", "组 Group"), ("direction", "方向 Direction"),
           ("yellow", "▲ 黄 Yellow"), ("red", "■ 红 Red"), ("overrides", "覆盖规则 Overrides"),
           ("stale_after", "过期 Stale after"), ("position", "位置 File:line")]


def threshold_rows(definitions: dict[str, dict]) -> list[dict]:
    """One row per indicator: id, name, group, direction, default limits, overrides, staleness, file:line."""
    return [{
        "id": d["id"], "name": d["name"]["zh"], "group": f"{d['tier']}/{d['group']}", "direction": d["direction"],
        "yellow": str(d["thresholds"]["yellow"]), "red": str(d["thresholds"]["red"]),
        "overrides": len(d.get("overrides") or []), "stale_after": age_text(d["stale_after"]),
        "position": d.get("position", "").rsplit("/", 1)[-1],
    } for d in sorted(definitions.values(), key=lambda d: (d["tier"], d["group"], d["id"]))]
