"""Active and past warnings for an area and everything below it: filters, acknowledgement, CSV export."""

from __future__ import annotations

import time

import dash
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from cityvitals import store
from cityvitals.acks import read_acks
from cityvitals.dispatch.commands import Actor
from cityvitals.dispatch.tasks import PRIORITIES
from cityvitals.security import allowed, current_name, current_role, refuse, write_allowed
from cityvitals.users import audit
from dashboard import clock, context, data, ids
from dashboard.acknowledging import acknowledge_episodes
from dashboard.components import (
    BUSY,
    DOMAIN_NAMES,
    PANEL_NAMES,
    action_refused,
    age_text,
    bi,
    page_header,
    pair_text,
    pending_note,
    value_text,
    warning_phase,
)
from dashboard.dispatching import (
    active_warning,
    dispatch_episodes,
    history_tasks,
    prefilled,
    preview,
    task_texts,
)
from dashboard.tables import data_table
from dashboard.theme import STATE_ICON
from dashboard.urls import area_path, indicator_path
from indicators.history import read_transitions
from indicators.states import State as IndicatorState

PAST_ROWS = 200
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as the start of a formula


def layout(area_id: str) -> html.Div:
    """The warnings page of ``area_id``; both tables are filled by :func:`refresh`."""
    tree = context.get().tree
    if area_id not in tree:
        return html.Div(f"未知区域 Unknown area: {area_id}", className="error-page")
    area = tree[area_id]
    groups = [{"label": f"领域 {pair_text(v)}", "value": k} for k, v in DOMAIN_NAMES.items()]
    groups += [{"label": f"专题 {pair_text(v)}", "value": f"panel:{k}"} for k, v in PANEL_NAMES.items()]
    return html.Div(className="page warnings-page", children=[
        dcc.Store(id=ids.WARN_KEY, data={"area": area_id}),
        dcc.Store(id=ids.WARN_ACKED, data=0),
        page_header(bi(f"预警 · {area.name_zh}", f"Warnings · {area.name_en}"), area_id, "warnings",
                    crumb_href="/warnings?area={id}"),
        html.Div(className="panel-tools", children=[
            dcc.Dropdown(id=ids.WARN_GROUP, options=groups, placeholder="全部领域与专题 All domains and panels",
                         className="dropdown"),
            dcc.Checklist(id=ids.WARN_STATES, options=["red", "yellow"], value=["red", "yellow"], inline=True,
                          className="state-filter"),
            dcc.Dropdown(id=ids.WARN_LEVEL, options=["street", "community", "grid"], placeholder="全部层级 All levels",
                         className="dropdown small"),
            dcc.Input(id=ids.WARN_COMMENT, placeholder="确认备注 Comment for acknowledging", maxLength=500,
                      className="search"),
            html.Button(bi("确认所选", "Acknowledge selected"), id=ids.WARN_ACK, className="button"),
            html.Button(bi("导出CSV", "Export CSV"), id=ids.WARN_EXPORT, className="button"),
            dcc.Download(id=ids.WARN_DOWNLOAD),
        ]),
        dispatch_tools(),
        html.Div(id=ids.WARN_PREVIEW, className="dispatch-preview"),
        html.Div(id=ids.WARN_MESSAGE, className="message"),
        html.H2(bi("当前预警", "Active"), className="panel-title"),
        data_table(ids.WARN_ACTIVE, ACTIVE_COLUMNS, {"area", "indicator"}, row_selectable="multi", page_size=50,
                   sort_action="native", styles=CLEARING_STYLES),
        html.H2(bi("预测预警（非状态）", "Early warnings (forecast, not a state)"), className="panel-title"),
        data_table(ids.WARN_EARLY, EARLY_COLUMNS, {"area", "indicator"}, page_size=25, sort_action="native"),
        html.H2(bi("状态变化记录", "Past state changes"), className="panel-title"),
        data_table(ids.WARN_PAST, PAST_COLUMNS, {"area", "indicator"}, page_size=25, sort_action="native"),
    ])


def dispatch_tools() -> html.Div:
    """Task type, priority, instruction and the dispatch button (一键调度) for the selected warnings."""
    dispatch = context.get().dispatch
    types = dispatch.routing.task_types if dispatch else {}
    return html.Div(className="panel-tools dispatch-tools", children=[
        dcc.Dropdown(id=ids.WARN_TASK_TYPE, className="dropdown small", clearable=False,
                     value=dispatch.routing.spec.default_type if dispatch else None,
                     options=[{"label": f"{t.name.zh} {t.name.en} ({t.handle_hours:g} h)", "value": k}
                              for k, t in types.items()]),
        dcc.Dropdown(id=ids.WARN_PRIORITY, className="dropdown small", placeholder="优先级 Priority (by state)",
                     options=list(PRIORITIES)),
        dcc.Input(id=ids.WARN_INSTRUCTION, placeholder="指令 Instruction (prefilled from the warning)",
                  maxLength=500, className="search wide"),
        html.Button(bi("一键调度", "Dispatch selected"), id=ids.WARN_DISPATCH, className="button primary"),
    ])


def active_warnings(area_id: str, group: str | None, states: list[str], level: str | None) -> list[dict]:
    """Warnings now in force in and below the area that pass the filters, in the ticker's order.

    Macro first, red first, then the district before a street before a community before a grid, then the
    newest, then the most residents (``store.ticker_score``).
    """
    client = context.get().client
    definitions = data.definitions(client)
    out = []
    for w in store.read_ticker(client, area_id):  # only the area's own warnings, already in order
        d = definitions.get(store.WarningKey.of(w).indicator)
        if w["s"] not in states or (level and w["level"] != level) or not d or not _matches(d, group):
            continue
        out.append({**w, "name": d["name"]["zh"], "unit": d.get("unit", ""),
                    "min_duration": d.get("min_duration", 0.0), "clear_after": d.get("clear_after")})
    return out


def _matches(d: dict, group: str | None) -> bool:
    if not group:
        return True
    if group.startswith("panel:"):
        return d["tier"] == "panel" and d["group"] == group.removeprefix("panel:")
    return d["tier"] == "macro" and d["group"] == group


def episode_key(w: dict) -> str:
    """Identifies one warning episode: indicator, area and since (to the millisecond)."""
    return f"{store.WarningKey.of(w)}@{w['since']:.3f}"


def early_warnings(area_id: str, group: str | None, level: str | None) -> list[dict]:
    """Early warnings standing in and below the area that pass the filters, the soonest expected first."""
    c = context.get()
    definitions = data.definitions(c.client)
    out = []
    for e in store.read_early(c.client):
        d = definitions.get(e["i"])
        if not d or not _matches(d, group) or (level and e["l"] != level) or e["a"] not in c.tree:
            continue
        if e["a"] == area_id or any(a.id == area_id for a in c.tree.ancestors(e["a"])):
            out.append({**e, "name": d["name"]["zh"], "unit": d.get("unit", "")})
    return out


EARLY_COLUMNS = [("area", "区域 Area"), ("indicator", "指标 Indicator"), ("expected", "预计 Expected"),
                 ("value", "数值/界限 Value / limit"), ("for", "已预警 Warned for")]
TOWARD = {"red": "红色", "yellow": "黄色"}


def early_rows(early: list[dict], now: float) -> list[dict]:
    """One row per early warning: "rising toward red, expected in ~40 min" (falling, for a lower limit)."""
    tree = context.get().tree
    rows = []
    for e in early:
        verb = ("上升", "rising") if e["v"] < e["lim"] else ("下降", "falling")
        eta = age_text(max(e["at"] - now, 0.0))
        rows.append({
            "area": f"[{tree[e['a']].name_zh}]({area_path(e['a'])})",
            "indicator": f"[{e['name']}]({indicator_path(e['i'], e['a'])})",
            "expected": f"{verb[0]}趋向{TOWARD[e['to']]}，预计约{eta}后 · {verb[1]} toward {e['to']}, "
                        f"expected in ~{eta}",
            "value": f"{value_text(e['v'], e['unit'])} / {value_text(e['lim'])}", "for": age_text(now - e["since"]),
        })
    return rows


@callback(
    Output(ids.WARN_ACTIVE, "data"),
    Output(ids.WARN_EARLY, "data"),
    Output(ids.WARN_PAST, "data"),
    Input(ids.INTERVAL, "n_intervals"),
    Input(ids.WARN_GROUP, "value"),
    Input(ids.WARN_STATES, "value"),
    Input(ids.WARN_LEVEL, "value"),
    Input(ids.WARN_ACKED, "data"),
    State(ids.WARN_KEY, "data"),
)
def refresh(_n: int, group: str | None, states: list[str], level: str | None, _acked: int, key: dict) -> tuple:
    """Re-read active warnings (Redis), their acknowledgements, early warnings and the warnings log (SQL)."""
    c = context.get()
    active = active_warnings(key["area"], group, states, level)
    acks = read_acks(c.sql, {store.WarningKey.of(w).indicator for w in active})
    now = time.time()
    tasks = task_texts(c, {store.WarningKey.of(w).area for w in active}, now)
    early = early_rows(early_warnings(key["area"], group, level), now)
    return active_rows(active, acks, now, tasks), early, past_table_rows(key["area"], group, states, level)


ACTIVE_COLUMNS = [("state", "状态 State"), ("area", "区域 Area"), ("indicator", "指标 Indicator"),
                  ("value", "数值/界限 Value / limit"), ("trail", "起/峰 Raised / peak"), ("for", "持续 For"),
                  ("change", "待变 Changing"), ("ack", "确认 Acknowledged"), ("task", "任务 Task")]
# A warning on its way out (its value back, waiting out the clear duration) is dimmed and its value struck;
# one on its way up is marked: they read differently from one that holds (``phase`` is a row field, not a column).
CLEARING_STYLES = [
    {"if": {"filter_query": '{phase} = "clearing"'}, "color": "#7d8799"},
    {"if": {"filter_query": '{phase} = "clearing"', "column_id": "value"}, "textDecoration": "line-through"},
    {"if": {"filter_query": '{phase} = "escalating"', "column_id": "change"}, "fontWeight": "700"},
]
PAST_COLUMNS = [("time", "时间 Time"), ("area", "区域 Area"), ("indicator", "指标 Indicator"), ("from", "从 From"),
                ("state", "到 To"), ("value", "数值 Value"), ("task", "任务 Task")]


def _label(state: str) -> str:
    return f"{STATE_ICON[IndicatorState[state.upper()]]} {state}"


def active_rows(active: list[dict], acks: dict, now: float, tasks: dict | None = None) -> list[dict]:
    """One row per active warning; the row id names the episode, so a selection survives refreshes."""
    tree = context.get().tree
    rows = []
    for w in active:
        key = store.WarningKey.of(w)
        ack = acks.get((key.indicator, key.area, round(w["since"], 3)))
        limit = w["r"] if w["s"] == "red" else w["y"]
        rows.append({
            "id": episode_key(w), "state": _label(w["s"]),
            "area": f"[{tree[key.area].name_zh}]({area_path(key.area)})",
            "indicator": f"[{w['name']}]({indicator_path(key.indicator, key.area)})",
            "value": f"{value_text(w['v'], w['unit'])} / {limit}",
            "trail": f"{value_text(w.get('raised'))} / {value_text(w.get('peak'))}",
            "for": age_text(now - w["since"]), "change": change_text(w, now), "phase": warning_phase(w),
            "ack": f"✓ {ack['user']} {ack['at']:%m-%d %H:%M} {ack['comment']}" if ack else "",
            "task": (tasks or {}).get((key.indicator, key.area, round(w["since"], 3)), ""),
        })
    return rows


def change_text(w: dict, now: float) -> str:
    """Where a pending warning goes and in how long ("→ normal in 3 min"), both languages; "" when none."""
    if not w.get("p"):
        return ""
    clearing = warning_phase(w) == "clearing" and w.get("clear_after") is not None
    note = pending_note(w["p"], w.get("ps"), float(w["clear_after"] if clearing else w.get("min_duration") or 0.0), now)
    return " ".join(_plain(part) for part in note)


def _plain(component) -> str:
    children = getattr(component, "children", component)
    if isinstance(children, list):
        return "".join(_plain(c) for c in children)
    return str(children)


def past_table_rows(area_id: str, group: str | None, states: list[str], level: str | None) -> list[dict]:
    """Rows of the past-changes table."""
    tree = context.get().tree
    changes = past_rows(area_id, group, states, level)
    return [{
        "time": clock.shown(r["at"]),
        "area": f"[{tree[r['area']].name_zh}]({area_path(r['area'])})",
        "indicator": f"[{r['name']}]({indicator_path(r['indicator'], r['area'])})",
        "from": _label(r["from_state"]), "state": _label(r["to_state"]), "value": value_text(r["value"]),
        "task": task,
    } for r, task in zip(changes, history_tasks(context.get(), changes), strict=True)]


def past_rows(area_id: str, group: str | None, states: list[str], level: str | None) -> list[dict]:
    """Rows of the warnings log in and below the area that pass the filters, newest first."""
    c = context.get()
    definitions = data.definitions(c.client)
    wanted = [i for i, d in definitions.items() if _matches(d, group)] if group else None
    out = []
    for r in read_transitions(c.sql, limit=PAST_ROWS * 5, states=states, level=level, indicators=wanted):
        d = definitions[r["indicator"]]
        if r["area"] in c.tree and (r["area"] == area_id or any(a.id == area_id for a in c.tree.ancestors(r["area"]))):
            out.append({**r, "name": d["name"]["zh"]})
    return out[:PAST_ROWS]


@callback(
    Output(ids.WARN_ACKED, "data"),
    Output(ids.WARN_MESSAGE, "children"),
    Input(ids.WARN_ACK, "n_clicks"),
    State(ids.WARN_ACTIVE, "selected_row_ids"),
    State(ids.WARN_COMMENT, "value"),
    State(ids.WARN_ACKED, "data"),
    prevent_initial_call=True,
)
def acknowledge_selected(_clicks: int, selected: list[str] | None, comment: str | None, acked: int) -> tuple:
    """Store an acknowledgement for each selected warning that is or was real (analysts and admins only)."""
    if not allowed("analyst"):
        refuse(context.get().sql, "role", callback="warning_ack")
        return dash.no_update, "确认需要分析员权限，请登录 Acknowledging needs the analyst role: log in at /login"
    if not write_allowed():
        refuse(context.get().sql, "rate_limit", callback="warning_ack")
        return dash.no_update, BUSY
    outcome = acknowledge_episodes(context.get(), current_name(), selected, comment)
    if not outcome.done:
        return dash.no_update, f"未确认 Nothing acknowledged: {'; '.join(outcome.refused)}"
    refused = f"; refused {len(outcome.refused)}: {'; '.join(outcome.refused)}" if outcome.refused else ""
    marker = (acked if isinstance(acked, int) else 0) + 1
    return marker, f"已确认 {outcome.done} 条 Acknowledged {outcome.done} warning(s){refused}"


@callback(
    Output(ids.WARN_PREVIEW, "children"),
    Output(ids.WARN_INSTRUCTION, "value"),
    Input(ids.WARN_ACTIVE, "selected_row_ids"),
    Input(ids.WARN_TASK_TYPE, "value"),
    prevent_initial_call=True,
)
def dispatch_preview(selected: list[str] | None, task_type: str | None) -> tuple:
    """Where the selected warnings would go and by when; one warning's instruction prefilled for editing."""
    c = context.get()
    lines = preview(c, selected, task_type)
    instruction = dash.no_update
    if isinstance(selected, list) and len(selected) == 1 and dash.ctx.triggered_id == ids.WARN_ACTIVE:
        found = active_warning(c, selected[0])
        instruction = prefilled(*found, None, None, None)["instruction"] if not isinstance(found, str) else ""
    return [html.Div(line) for line in lines], instruction


@callback(
    Output(ids.WARN_ACKED, "data", allow_duplicate=True),
    Output(ids.WARN_MESSAGE, "children", allow_duplicate=True),
    Input(ids.WARN_DISPATCH, "n_clicks"),
    State(ids.WARN_ACTIVE, "selected_row_ids"),
    State(ids.WARN_TASK_TYPE, "value"),
    State(ids.WARN_PRIORITY, "value"),
    State(ids.WARN_INSTRUCTION, "value"),
    State(ids.WARN_ACKED, "data"),
    prevent_initial_call=True,
)
def dispatch_selected(_clicks: int, selected: list[str] | None, task_type: str | None, priority: str | None,
                      instruction: str | None, changed: int) -> tuple:
    """Dispatch a task for each selected warning (analysts and admins: the command checks and audits)."""
    refused = action_refused("analyst", "dispatch",
                             "调度需要分析员权限，请登录 Dispatching needs the analyst role: log in at /login")
    if refused:
        return dash.no_update, refused
    outcome = dispatch_episodes(context.get(), Actor(current_name(), current_role()), selected, task_type,
                                priority, instruction)
    if not outcome.tasks:
        return dash.no_update, f"未派发 Nothing dispatched: {'; '.join(outcome.refused)}"
    made = ", ".join(f"#{t.id} → {t.unit}" for t in outcome.tasks)
    refused = f"; refused {len(outcome.refused)}: {'; '.join(outcome.refused)}" if outcome.refused else ""
    return (changed if isinstance(changed, int) else 0) + 1, f"已派发 Dispatched {made}{refused}"


@callback(
    Output(ids.WARN_DOWNLOAD, "data"),
    Output(ids.WARN_MESSAGE, "children", allow_duplicate=True),
    Input(ids.WARN_EXPORT, "n_clicks"),
    State(ids.WARN_GROUP, "value"),
    State(ids.WARN_STATES, "value"),
    State(ids.WARN_LEVEL, "value"),
    State(ids.WARN_KEY, "data"),
    prevent_initial_call=True,
)
def export_csv(_clicks: int, group: str | None, states: list[str], level: str | None, key: dict) -> tuple:
    """The active warnings shown, as CSV (analysts and admins only)."""
    if not allowed("analyst"):
        refuse(context.get().sql, "role", callback="warnings_export")
        return dash.no_update, "导出需要分析员权限，请登录 Export needs the analyst role: log in at /login"
    if not write_allowed():
        refuse(context.get().sql, "rate_limit", callback="warnings_export")
        return dash.no_update, BUSY
    area = _text_or_none(key.get("area")) if isinstance(key, dict) else None
    if area is None or area not in context.get().tree:
        return dash.no_update, "未知区域 Unknown area"
    rows = active_warnings(area, _text_or_none(group), states if isinstance(states, list) else [],
                           _text_or_none(level))
    columns = ["i", "name", "a", "level", "s", "v", "unit", "y", "r", "rule", "since", "ts"]
    frame = pd.DataFrame(rows, columns=columns).rename(columns={"i": "indicator", "a": "area", "s": "state",
                                                                "v": "value", "y": "yellow", "r": "red"})
    for col in ("since", "ts"):
        frame[col] = pd.to_datetime(frame[col], unit="s", utc=True)
    audit(context.get().sql, current_name(), "warnings_export", area=area, rows=len(frame))
    return dcc.send_data_frame(csv_safe(frame).to_csv, f"warnings-{area}-{time.strftime('%Y%m%d-%H%M')}.csv",
                               index=False), f"已导出 {len(frame)} 行 Exported {len(frame)} rows"


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with every text cell a spreadsheet would run as a formula prefixed with ``'`` (OWASP's advice)."""
    return frame.map(lambda v: f"'{v}" if isinstance(v, str) and v.startswith(FORMULA_START) else v)
