"""Pieces every page shares: names of groups, labels in two languages, the page header, state badges, ages."""

from __future__ import annotations

from dash import dcc, html

from cityvitals.security import allowed, refuse, write_allowed
from cityvitals.vocabulary import PANELS
from dashboard import clock, context, ids
from dashboard.theme import STATE_ICON, STATE_NAME
from dashboard.urls import area_path, area_query, quoted
from indicators.health import ATTENTION_FROM, HEALTHY_FROM
from indicators.schema import MONTHLY_S
from indicators.states import State

DOMAIN_NAMES = {
    "public_service": ("公共服务", "Public service"),
    "public_safety": ("公共安全", "Public safety"),
    "social_governance": ("社会治理", "Social governance"),
    "city_management": ("城市管理", "City management"),
    "eco_environment": ("生态环境", "Ecological environment"),
    "economic_development": ("经济发展", "Economic development"),
}
PANEL_NAMES = {
    "party_building": ("党建引领", "Party building"),
    "public_safety": ("公共安全", "Public safety"),
    "public_service": ("公共服务", "Public service"),
    "eco_environment": ("生态环境", "Ecological environment"),
    "city_management": ("城市管理", "City management"),
    "social_governance": ("社会治理", "Social governance"),
}
LANGS = ("zh", "en")
BUSY = "操作过于频繁，请稍后再试 Too many actions: try again in a minute"


def action_refused(needed: str, callback: str, role_message: str) -> str | None:
    """Why the request's user may not take an action now (role, then rate; each refusal audited); None: go on."""
    if not allowed(needed):
        refuse(context.get().sql, "role", callback=callback)
        return role_message
    if not write_allowed():
        refuse(context.get().sql, "rate_limit", callback=callback)
        return BUSY
    return None


def bi(zh: str, en: str) -> list[html.Span]:
    """A label in both languages; the root's ``lang-*`` class shows one of them (assets/70_lang.css)."""
    return [html.Span(zh, className="zh", lang="zh"), html.Span(en, className="en", lang="en")]


def pair_text(names: tuple[str, str]) -> str:
    """Both names as one plain string, for places that take no markup (dropdowns, table headers, hover)."""
    return f"{names[0]} {names[1]}"


def area_name(area_id: str) -> list[html.Span]:
    """An area's Chinese and English names as a two-language label."""
    area = context.get().tree[area_id]
    return bi(area.name_zh, area.name_en)


def lang_switch() -> html.Div:
    """The zh/en switch; the current language is marked by CSS from the root class, so it never lags."""
    return html.Div(className="lang-switch", children=[
        html.Button(label, id=ids.lang_button(lang), className=f"lang-button lang-{lang}", n_clicks=0)
        for lang, label in zip(LANGS, ("中文", "EN"), strict=True)
    ])



def nav(area_id: str, here: str) -> html.Nav:
    """Links to the overview, the six panels and the warnings, for the area in view."""
    links = [("overview", area_path(area_id), bi("总览", "Overview"))]
    links += [(p, f"/panel/{p}{area_query(area_id)}", bi(*PANEL_NAMES[p])) for p in PANELS]
    links += [("indicators", f"/indicators{area_query(area_id)}", bi("全部指标", "All indicators"))]
    links += [("warnings", f"/warnings{area_query(area_id)}", bi("预警", "Warnings")),
              ("dispatch", "/dispatch", bi("调度", "Dispatch")), ("config", "/config", bi("配置", "Config")),
              ("admin", "/admin", bi("管理", "Admin"))]
    return html.Nav(className="page-nav", children=[
        dcc.Link(label, href=href, className="nav-link current" if key == here else "nav-link")
        for key, href, label in links
    ])


def breadcrumb(area_id: str, href: str = "/area/{id}") -> html.Nav:
    """The area's ancestors as links (each to ``href`` with its id), then the area itself."""
    tree = context.get().tree
    crumbs: list = []
    for a in tree.ancestors(area_id):
        crumbs += [dcc.Link(bi(a.name_zh, a.name_en), href=href.format(id=quoted(a.id)), className="crumb"),
                   html.Span(" › ", className="sep")]
    crumbs.append(html.Span(area_name(area_id), className="crumb current"))
    return html.Nav(crumbs, className="breadcrumb")


def page_header(title: list | str, area_id: str, here: str, status_id: str | None = None,
                crumb_href: str = "/area/{id}") -> html.Header:
    """Title, breadcrumb, navigation and (optionally) a live status element."""
    return html.Header(className="header", children=[
        html.Div(className="title", children=[html.H1(title), breadcrumb(area_id, crumb_href)]),
        html.Div(className="header-right", children=[
            html.Div(id=status_id, className="status") if status_id else None,
            html.Div(className="header-tools", children=[nav(area_id, here), lang_switch(), account()]),
        ]),
    ])


def account() -> html.Div:
    """Log in, and log out (assets/56_logout.js posts it); the same for everyone, as headers are shared."""
    return html.Div(className="login", children=[
        html.A(bi("登录", "Log in"), href="/login", className="nav-link"),
        html.Button(bi("退出", "Log out"), className="lang-button logout", title="end every session of this user"),
    ])


def state_badge(state: State) -> html.Span:
    """Icon and colour of a state (shape and colour, so colour-blind viewers can tell them apart)."""
    return html.Span(STATE_ICON[state], className=f"badge state-{state.label}", title=state.label)


def age_text(seconds: float) -> str:
    """A duration as a short text: 45 s, 12 min, 3 h, 2 d (a time just ahead of the clock is 0 s, not "-0 s")."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"




def data_time_text(ts: float, now: float, stale_after: float | None) -> str:
    """How old data is: "3 min" for live data, "截至10月 as of October" for a monthly statistic."""
    if stale_after is None or stale_after < MONTHLY_S:
        return age_text(now - ts)
    when = clock.local(ts)
    year = "" if when.year == clock.local(now).year else f"{when.year}年"
    en_year = "" if not year else f" {when.year}"
    return f"截至{year}{when.month}月 as of {when:%B}{en_year}"


def age_span(ts: float, now: float, class_name: str = "age") -> html.Span:
    """How long ago ``ts`` was; the browser keeps it ticking from ``data-ts`` (assets/55_ages.js).

    So the text is the server's only until the next second, and a refresh whose data did not move
    need not send it again.
    """
    return html.Span(age_text(now - ts), className=class_name, **{"data-ts": ts})


def value_text(value: float | None, unit: str = "") -> str:
    """A value for display with 4 significant digits, ``—`` when there is none."""
    if value is None:
        return "—"
    number = f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"
    return f"{number}{(' ' + unit) if unit and unit != '%' else unit}"


def pending_note(pending: str | None, pending_since: float | None, min_duration_s: float, now: float) -> list | None:
    """Say that a state is about to change (it waits out its minimum duration), and when it will.

    Without it a warning held on its way down shows a value already back in range under a red
    mark: true to the rule, but it reads as a contradiction. The browser counts the time down
    from ``data-until`` (assets/55_ages.js).
    """
    if not pending or pending_since is None:
        return None
    zh, en = STATE_NAME[State[pending.upper()]]
    until = pending_since + min_duration_s
    left = lambda: html.Span(age_text(max(0.0, until - now)), **{"data-until": until})  # noqa: E731
    return [html.Span(["→ ", zh, "（", left(), "后）"], className="zh", lang="zh"),
            html.Span(["→ ", en, " in ", left()], className="en", lang="en")]


def pending_for(w: dict, definition: dict, now: float) -> list | None:
    """:func:`pending_note` for a state record and its definition.

    A clear waits ``clear_after`` (default ``min_duration``), a raise ``min_duration``.
    """
    if not w.get("p"):
        return None
    wait = float(definition.get("min_duration") or 0.0)
    if State[w["p"].upper()] < State[w["s"].upper()] and definition.get("clear_after") is not None:
        wait = float(definition["clear_after"])
    return pending_note(w["p"], w.get("ps"), wait, now)


def band_class(score: float | None) -> str:
    """The CSS class of a score's band (indicators/health.py): healthy >= 80, attention 60-80, unhealthy < 60."""
    if score is None:
        return "band-unknown"
    return "band-healthy" if score >= HEALTHY_FROM else "band-attention" if score >= ATTENTION_FROM \
        else "band-unhealthy"


def share_span(share: float | None, extra: str = "") -> html.Span:
    """The share of indicators with current data, shown beside a score ("数据 92%"); low when under 80%.

    None: nothing here is judged at this level (no data is missing), shown as "—".
    """
    text = "—" if share is None else f"{100 * share:.0f}%"
    classes = ["share", extra] + (["low"] if share is not None and share < 0.8 else [])
    return html.Span(bi(f"数据 {text}", f"data {text}"), className=" ".join(c for c in classes if c),
                     title="有当前数据的指标占比（按权重） weighted share of indicators with data")


def warning_phase(w: dict) -> str:
    """``clearing`` when the warning waits to drop to a lower state, ``escalating`` to a higher one, else ``active``."""
    if not w.get("p"):
        return "active"
    return "clearing" if State[w["p"].upper()] < State[w["s"].upper()] else "escalating"
