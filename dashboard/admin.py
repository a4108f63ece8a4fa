"""The admin page: scenarios, threshold profiles, the catalog check, feeds' health, ingest tokens, the audit log.

Only admins see the controls, and every action callback checks the role again on the server
(:mod:`dashboard.admin_actions`), since anyone may post to a Dash callback. The lists are
re-read from Redis and SQL on every refresh and right after each action.
"""

from __future__ import annotations

import time

import dash
from dash import Input, Output, callback, dcc, html

from cityvitals import store
from cityvitals.scenarios import KINDS
from cityvitals.security import allowed
from cityvitals.tokens import list_tokens
from cityvitals.users import read_audit
from dashboard import clock, context, ids
from dashboard.components import age_text, page_header, value_text
from dashboard.tables import data_table

REFUSED = "管理操作需要管理员权限，请以管理员登录 Admin actions need the admin role: log in at /login as an admin"
SCENARIO_LEVELS = ("district", "street", "community")
AUDIT_ROWS = 30


def layout() -> html.Div:
    """The admin page for admins; anyone else gets the refusal and no controls."""
    root = context.get().tree.root
    header = page_header(["管理 Admin", html.Small(f" · {root.name_zh}")], root.id, "admin")
    if not allowed("admin"):
        return html.Div(className="page admin-page", children=[
            header, html.Div(REFUSED, id=ids.ADMIN_MESSAGE, className="message refused")])
    return html.Div(className="page admin-page", children=[
        header,
        dcc.Store(id=ids.ADMIN_CHANGED, data=0),
        html.Div(id=ids.ADMIN_MESSAGE, className="message"),
        html.Div(className="admin-grid", children=[
            scenario_card(), profile_card(), catalog_card(), token_card(),
            card("数据源 Feeds", data_table(ids.ADMIN_FEEDS, FEED_COLUMNS, page_size=20)),
            card("审计日志 Audit log", data_table(ids.ADMIN_AUDIT, AUDIT_COLUMNS, page_size=15)),
        ]),
    ])


def card(title: str, *children) -> html.Section:
    """A titled card of the admin grid."""
    return html.Section(className="card admin-card", children=[html.H2(title), *children])


def scenario_card() -> html.Section:
    """Start a simulator scenario in an area; the running ones, each with its stop button."""
    tree = context.get().tree
    areas = [{"label": f"{tree[a].name_zh} ({a})", "value": a} for lv in SCENARIO_LEVELS for a in tree.ids(lv)]
    return card(
        "模拟场景 Simulator scenarios",
        html.Div(className="panel-tools", children=[
            dcc.Dropdown(id=ids.ADMIN_SCENARIO, className="dropdown", placeholder="场景 Scenario",
                         options=[{"label": f"{s.name_zh} {s.name_en}", "value": s.id} for s in KINDS.values()]),
            dcc.Dropdown(id=ids.ADMIN_AREA, className="dropdown", placeholder="区域 Area", options=areas),
            dcc.Input(id=ids.ADMIN_MINUTES, type="number", min=1, max=1440, placeholder="分钟 min",
                      className="search short"),
            html.Button("开始 Start", id=ids.ADMIN_START, className="button"),
        ]),
        html.Div(id=ids.ADMIN_RUNNING),
    )


def profile_card() -> html.Section:
    """Threshold profiles the live catalog's overrides name, each with its switch."""
    return card("阈值方案 Threshold profiles", html.Div(id=ids.ADMIN_PROFILES))


def catalog_card() -> html.Section:
    """The engine's live catalog and a button that checks the catalog files now."""
    return card(
        "指标目录 Catalog",
        html.Div(id=ids.ADMIN_ENGINE_CATALOG),
        html.Button("立即检查目录文件 Check the catalog files now", id=ids.ADMIN_CHECK, className="button"),
        dcc.Loading(html.Div(id=ids.ADMIN_CHECK_RESULT, className="config-status")),
    )


def token_card() -> html.Section:
    """Create an ingest token for a source (shown once); the tokens, each live one with its revoke button."""
    return card(
        "接入令牌 Ingest tokens",
        html.Div(className="panel-tools", children=[
            dcc.Input(id=ids.ADMIN_TOKEN_SOURCE, placeholder="来源 Source, e.g. env-bureau", maxLength=48,
                      className="search"),
            html.Button("生成令牌 Create token", id=ids.ADMIN_TOKEN_CREATE, className="button"),
        ]),
        html.Div(id=ids.ADMIN_TOKENS),
    )


@callback(
    Output(ids.ADMIN_RUNNING, "children"),
    Output(ids.ADMIN_PROFILES, "children"),
    Output(ids.ADMIN_ENGINE_CATALOG, "children"),
    Output(ids.ADMIN_FEEDS, "data"),
    Output(ids.ADMIN_TOKENS, "children"),
    Output(ids.ADMIN_AUDIT, "data"),
    Input(ids.INTERVAL, "n_intervals"),
    Input(ids.ADMIN_CHANGED, "data"),
)
def refresh(_n: int, _changed: float) -> tuple:
    """Re-read what the page lists (admins only: the lists are not for everyone's eyes)."""
    if not allowed("admin"):
        return (dash.no_update,) * 6
    c, now = context.get(), time.time()
    return (running_table(store.read_scenarios(c.client), now), profile_table(),
            engine_catalog(store.meta(c.client), now), feed_rows(store.read_feed_health(c.client), now),
            token_table(), audit_rows(read_audit(c.sql, AUDIT_ROWS)))


def running_table(running: list[dict], now: float) -> html.Table | html.P:
    """One row per scenario asked for: what, where, time left, and its stop button."""
    if not running:
        return html.P("没有运行中的场景 No scenario running", className="hint")
    tree = context.get().tree
    rows = [html.Tr(className="scenario-row", children=[
        html.Td(f"{KINDS[r['scenario']].name_zh} {r['scenario']}" if r["scenario"] in KINDS else r["scenario"]),
        html.Td(tree[r["area"]].name_zh if r["area"] in tree else r["area"]),
        html.Td(f"{age_text(max(0.0, r['start'] + r['minutes'] * 60 - now))} left"),
        html.Td(html.Button("停止 Stop", id=ids.admin_button("stop", key=store.scenario_key(r["scenario"], r["area"])),
                            className="button small")),
    ]) for r in sorted(running, key=lambda r: r["start"])]
    return html.Table(rows, className="table")


def catalog_profiles(definitions: dict[str, dict]) -> dict[str, int]:
    """Profiles the live catalog's overrides name, with how many indicators each changes."""
    counts: dict[str, int] = {}
    for d in definitions.values():
        for name in {o["profile"] for o in d.get("overrides") or [] if o.get("profile")}:
            counts[name] = counts.get(name, 0) + 1
    return counts


def profile_table() -> html.Table | html.P:
    """Each profile: switched on or off by an operator, how many indicators it changes, its switch."""
    client = context.get().client
    on = store.profiles_on(client)
    counts = catalog_profiles(store.read_definitions(client))
    if not counts and not on:
        return html.P("目录中没有阈值方案 The catalog has no threshold profiles", className="hint")
    rows = [html.Tr(className="profile-row", children=[
        html.Td(name), html.Td("ON 已开启" if name in on else "off 未开启",
                               className="state-yellow" if name in on else ""),
        html.Td(f"{counts.get(name, 0)} indicator(s)"),
        html.Td(html.Button("关闭 Switch off" if name in on else "开启 Switch on",
                            id=ids.admin_button("profile", profile=name, switch="off" if name in on else "on"),
                            className="button small")),
    ]) for name in sorted(counts.keys() | on)]
    return html.Table(rows, className="table")


def engine_catalog(meta: store.Meta, now: float) -> list:
    """The version the engine runs and the result of its last hot-reload check."""
    errors, checked = meta.catalog_errors, meta.catalog_checked
    version = "—" if meta.catalog_version is None else meta.catalog_version
    when = f"checked {age_text(now - checked)} ago" if checked else "not checked yet"
    verdict = (html.Span(f"✗ its last check refused the files ({len(errors)} error(s))", className="state-red")
               if errors else html.Span("✓ its last check found no errors", className="state-normal"))
    return [html.Div(f"引擎运行版本 The engine runs {version} · {when}"), html.Div(verdict)]


FEED_COLUMNS = [("feed", "数据源 Feed"), ("last", "最新数据 Last sample"), ("rate", "速率 /s"),
                ("read", "读取 Read"), ("accepted", "接收 Accepted"), ("refused", "拒绝 Refused"),
                ("not_applied", "未采用 Late · dup · superseded"), ("buffered", "缓冲 Buffered"),
                ("error", "最近错误 Last error")]


def feed_rows(feeds: dict[str, dict], now: float) -> list[dict]:
    """One row per feed from its health record: age of its last sample, rate, counts, last error."""
    return [{
        "feed": name + (" (simulated)" if f.get("simulated") else ""),
        "last": f"{age_text(now - float(f['last_sample']))} ago" if f.get("last_sample") else "never",
        "rate": value_text(f.get("rate")), "read": f.get("read", 0), "accepted": f.get("accepted", 0),
        "refused": _refused_text(f), "not_applied": " · ".join(str(f.get(k, 0)) for k in store.SCORED_KINDS),
        "buffered": f.get("buffered", 0), "error": f.get("last_error") or "",
    } for name, f in sorted(feeds.items())]


def _refused_text(health: dict) -> str:
    """The refused count with its reasons, the most frequent first: ``5 (unknown_area 4, too_old 1)``."""
    by = sorted(health.get("refused_by", {}).items(), key=lambda kv: -kv[1])
    reasons = ", ".join(f"{kind} {n}" for kind, n in by)
    return f"{health.get('refused', 0)} ({reasons})" if reasons else str(health.get("refused", 0))


def token_table() -> html.Table | html.P:
    """Every token by id and source (never its value), each live one with its revoke button."""
    tokens = list_tokens(context.get().sql)
    if not tokens:
        return html.P("还没有令牌 No tokens yet", className="hint")
    rows = [html.Tr(className="token-row", children=[
        html.Td(f"#{t.id}"), html.Td(t.source), html.Td(f"created {t.created_at:%Y-%m-%d %H:%M}"),
        html.Td(f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else
                html.Button("吊销 Revoke", id=ids.admin_button("revoke", token=str(t.id)), className="button small")),
    ]) for t in tokens]
    return html.Table(rows, className="table")


AUDIT_COLUMNS = [("at", "时间 Time"), ("user", "用户 User"), ("action", "操作 Action"), ("detail", "详情 Detail")]


def audit_rows(entries: list[dict]) -> list[dict]:
    """The newest audit entries as table rows."""
    return [{"at": clock.shown(e["at"]), "user": e["user"], "action": e["action"],
             "detail": e["detail"]} for e in entries]
