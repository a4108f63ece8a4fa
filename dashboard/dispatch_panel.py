"""The dispatch panel (调度): the loop's figures and every task, with the dispatching level's steps.

Today's funnel, seconds per hop against the deadlines, overdue tasks by unit, the closure rate against
its target; verify, close and reopen go through the same commands as the API and the CLI.
"""

from __future__ import annotations

import time

import dash
from dash import ALL, Input, Output, State, callback, dcc, html

from cityvitals.dispatch.assessment import UnitScore, assess, scores_csv
from cityvitals.dispatch.commands import ACTIONS, Actor, DispatchError
from cityvitals.dispatch.routing import Routing
from cityvitals.dispatch.summary import FUNNEL, Summary, summarise
from cityvitals.dispatch.tasks import list_tasks
from cityvitals.security import current_name, current_role
from cityvitals.users import audit
from dashboard import clock, context, ids
from dashboard.components import action_refused, age_text, bi, page_header
from dashboard.dispatching import STATUS_ZH, warning_now
from dashboard.tables import data_table

STEPS_HERE = ("verify", "close", "reopen")
HOP_NAMES = {"sign": "签收 sign", "handle": "处置 handle", "verify": "核查 verify", "close": "办结 close"}
COLUMNS = [("id", "#"), ("status", "状态 Status"), ("area", "区域 Area"), ("unit", "承办 Unit"),
           ("indicator", "指标 Indicator"), ("priority", "优先 Priority"), ("on_step", "本环节 On step"),
           ("due", "截止 Due"), ("warning", "预警 Warning"), ("instruction", "指令 Instruction")]


def layout() -> html.Div:
    """The dispatch page; figures and table are filled by :func:`refresh`."""
    root = context.get().tree.root
    return html.Div(className="page dispatch-page", children=[
        dcc.Store(id=ids.DISPATCH_CHANGED, data=0),
        page_header(bi(f"调度 · {root.name_zh}", f"Dispatch · {root.name_en}"), root.id, "dispatch"),
        html.Div(id=ids.DISPATCH_SUMMARY, className="dispatch-summary"),
        html.Div(className="panel-tools", children=[
            dcc.Input(id=ids.DISPATCH_NOTE, placeholder="原因 Reason (to reopen)", maxLength=500, className="search"),
            *[html.Button(bi(*label), id=ids.dispatch_button(action), className="button")
              for action, label in (("verify", ("核查通过", "Verify")), ("close", ("办结", "Close")),
                                    ("reopen", ("退回重办", "Reopen")))],
        ]),
        html.Div(id=ids.DISPATCH_MESSAGE, className="message"),
        data_table(ids.DISPATCH_TABLE, COLUMNS, row_selectable="multi", page_size=30, sort_action="native"),
        html.H2(bi(f"考核 · 近{ASSESS_DAYS}天", f"Assessment · last {ASSESS_DAYS} days"), className="panel-title"),
        html.Button(bi("导出CSV", "Export CSV"), id=ids.DISPATCH_EXPORT, className="button"),
        dcc.Download(id=ids.DISPATCH_DOWNLOAD),
        data_table(ids.DISPATCH_ASSESS, ASSESS_COLUMNS, page_size=30, sort_action="native"),
    ])


ASSESS_DAYS = 7
ASSESS_COLUMNS = [("rank", "名次 Rank"), ("unit", "单位 Unit"), ("received", "接收 Received"),
                  ("on_time", "按时签收 Signed on time"), ("closed", "办结 Closed (on time)"),
                  ("returned", "退回 Returned"), ("reopened", "重办 Reopened"), ("sign", "签收中位 Median to sign"),
                  ("close", "办结中位 Median to close")]


def assessment_rows(scores: list[UnitScore], routing: Routing) -> list[dict]:
    """The ranked units as table rows."""
    def span(seconds: float | None) -> str:
        return "—" if seconds is None else age_text(seconds)

    rows = []
    for rank, s in enumerate(scores, start=1):
        unit = routing.unit(s.unit)
        rows.append({"rank": rank, "unit": f"{unit.name_zh if unit else s.unit} ({s.unit})", "received": s.received,
                     "on_time": f"{s.signed_on_time} ({s.on_time_rate or 0:.0f}%)",
                     "closed": f"{s.closed} ({s.closed_on_time})", "returned": s.returned, "reopened": s.reopened,
                     "sign": span(s.median_sign_s), "close": span(s.median_close_s)})
    return rows




def summary_cards(s: Summary, target: float, sign_deadline_s: float | None) -> list:
    """The funnel, the hops, the closure rate and the overdue units as cards."""
    funnel = html.Div(className="card funnel", children=[html.Div(bi("今日 Today", "funnel"), className="hint"), *[
        html.Span(f"{STATUS_ZH[step]} {step} {s.funnel[step]}", className=f"funnel-step step-{step}")
        for step in FUNNEL]])
    hops = html.Div(className="card hops", children=[html.Div("每环节中位用时 Median per hop", className="hint"), *[
        html.Span(f"{HOP_NAMES[h]} {'—' if v is None else age_text(v)}", className="hop") for h, v in
        s.hop_median_s.items()]] + ([html.Span(f"签收时限 sign deadline {age_text(sign_deadline_s)}",
                                               className="hint")] if sign_deadline_s else []))
    rate = "—" if s.closure_rate is None else f"{s.closure_rate:.2f}%"
    good = s.closure_rate is not None and s.closure_rate >= target
    closure = html.Div(className="card closure", children=[
        html.Div(f"办结率 Closure rate (7 d, {s.due_week} due)", className="hint"),
        html.Span(rate, className=f"closure-rate {'state-normal' if good else 'state-red' if s.due_week else ''}"),
        html.Span(f" 目标 target {target:.2f}%")])
    overdue = html.Div(className="card overdue", children=[html.Div("超时 Overdue by unit", className="hint"), *(
        [html.Div(f"{unit}: {n}", className="overdue-unit state-red") for unit, n in s.overdue_by_unit.items()]
        or [html.Div("无 none", className="state-normal")])])
    return [funnel, hops, closure, overdue]


@callback(
    Output(ids.DISPATCH_SUMMARY, "children"),
    Output(ids.DISPATCH_TABLE, "data"),
    Output(ids.DISPATCH_ASSESS, "data"),
    Input(ids.INTERVAL, "n_intervals"),
    Input(ids.DISPATCH_CHANGED, "data"),
)
def refresh(_n: int, _changed: int) -> tuple:
    """Re-read the figures, the tasks and the assessment (SQL)."""
    c = context.get()
    if c.dispatch is None:
        return "调度未配置 Dispatch is not set up", [], []
    now = time.time()
    routing = c.dispatch.routing
    s = summarise(c.sql, now, clock.midnight(now))
    sign_s = routing.deadlines_s(routing.spec.default_type)[0]
    scores = assess(c.sql, routing, now - ASSESS_DAYS * 86400.0, now + 1)
    return summary_cards(s, c.closure_target, sign_s), task_rows(c, now), assessment_rows(scores, routing)


@callback(
    Output(ids.DISPATCH_DOWNLOAD, "data"),
    Output(ids.DISPATCH_MESSAGE, "children", allow_duplicate=True),
    Input(ids.DISPATCH_EXPORT, "n_clicks"),
    prevent_initial_call=True,
)
def export_assessment(_clicks: int) -> tuple:
    """The assessment of the last ASSESS_DAYS days as CSV (admins only: it ranks people's units)."""
    c = context.get()
    refused = action_refused("admin", "assessment_export",
                             "导出考核需要管理员权限 Exporting the assessment needs the admin role")
    if refused or c.dispatch is None:
        return dash.no_update, refused or "调度未配置 Dispatch is not set up"
    now = time.time()
    scores = assess(c.sql, c.dispatch.routing, now - ASSESS_DAYS * 86400.0, now + 1)
    audit(c.sql, current_name(), "assessment_export", units=len(scores), days=ASSESS_DAYS)
    name = f"assessment-{clock.shown(now, '%Y%m%d-%H%M')}.csv"
    return dcc.send_string(scores_csv(scores, c.dispatch.routing), name), f"已导出 Exported {len(scores)} units"


def task_rows(c: context.DashboardContext, now: float) -> list[dict]:
    """One row per task, open ones first, newest first; the row id is the task number."""
    tasks = sorted(list_tasks(c.sql, limit=500), key=lambda t: (t.status == "closed", -t.id))
    return [{
        "id": t.id, "status": f"{STATUS_ZH.get(t.status, t.status)} {t.status}",
        "area": c.tree[t.area].name_zh if t.area in c.tree else t.area, "unit": t.unit,
        "indicator": t.indicator or "", "priority": t.priority, "on_step": age_text(max(0.0, now - t.step_at)),
        "due": clock.shown(t.due, "%m-%d %H:%M") + (" ⚠" if now > t.due and
                                                                        t.status != "closed" else ""),
        "warning": warning_now(c, t), "instruction": t.instruction[:80],
    } for t in tasks]


@callback(
    Output(ids.DISPATCH_CHANGED, "data"),
    Output(ids.DISPATCH_MESSAGE, "children"),
    Input(ids.dispatch_button(ALL), "n_clicks"),
    State(ids.DISPATCH_TABLE, "selected_row_ids"),
    State(ids.DISPATCH_NOTE, "value"),
    State(ids.DISPATCH_CHANGED, "data"),
    prevent_initial_call=True,
)
def take_step(_clicks: list, selected: list | None, note: str | None, changed: int) -> tuple:
    """Verify, close or reopen the selected tasks (analysts and admins; the commands check each)."""
    action = (dash.ctx.triggered_id or {}).get("action")
    if action not in STEPS_HERE or not any(_clicks or []):
        return dash.no_update, dash.no_update
    refused = action_refused("analyst", f"task_{action}",
                             "需要分析员权限，请登录 This needs the analyst role: log in at /login")
    if refused:
        return dash.no_update, refused
    return run_steps(context.get(), Actor(current_name(), current_role()), action, selected, note, changed)


def run_steps(c: context.DashboardContext, actor: Actor, action: str, selected: object, note: str | None,
              changed: int) -> tuple:
    """Take ``action`` on each selected task; the change marker and what was done or refused."""
    if not isinstance(selected, list) or not selected:
        return dash.no_update, "请先选择任务 Select tasks first"
    done, refused = [], []
    for task_id in selected[:100]:
        try:
            ACTIONS[action](c.dispatch, actor, task_id, note).run()
            done.append(f"#{task_id}")
        except DispatchError as exc:
            refused.append(f"#{task_id}: {exc}")
    message = f"{action}: {', '.join(done) or '—'}" + (f"; refused {'; '.join(refused)}" if refused else "")
    return (changed if isinstance(changed, int) else 0) + (1 if done else 0), message
