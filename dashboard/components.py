"""Pieces every page shares: names of groups, the page header with navigation, state badges, ages."""

from __future__ import annotations

from dash import dcc, html

from dashboard import context
from dashboard.theme import STATE_ICON
from indicators.schema import PANELS
from indicators.states import State

DOMAIN_NAMES = {
    "public_service": "公共服务 Public service",
    "public_safety": "公共安全 Public safety",
    "social_governance": "社会治理 Social governance",
    "city_management": "城市管理 City management",
    "eco_environment": "生态环境 Ecological environment",
    "economic_development": "经济发展 Economic development",
}
PANEL_NAMES = {
    "party_building": "党建引领 Party building",
    "public_safety": "公共安全 Public safety",
    "public_service": "公共服务 Public service",
    "eco_environment": "生态环境 Ecological environment",
    "city_management": "城市管理 City management",
    "social_governance": "社会治理 Social governance",
}


def area_query(area_id: str) -> str:
    """The query string that keeps the area in view when moving between pages."""
    return f"?area={area_id}"


def nav(area_id: str, here: str) -> html.Nav:
    """Links to the overview, the six panels and the warnings, for the area in view."""
    links = [("overview", f"/area/{area_id}", "总览 Overview")]
    links += [(p, f"/panel/{p}{area_query(area_id)}", PANEL_NAMES[p].split(" ")[0]) for p in PANELS]
    links += [("warnings", f"/warnings{area_query(area_id)}", "预警 Warnings"), ("config", "/config", "配置 Config"),
              ("admin", "/admin", "管理 Admin")]
    return html.Nav(className="page-nav", children=[
        dcc.Link(label, href=href, className="nav-link current" if key == here else "nav-link")
        for key, href, label in links
    ])


def breadcrumb(area_id: str, href: str = "/area/{id}") -> html.Nav:
    """The area's ancestors as links (each to ``href`` with its id), then the area itself."""
    tree = context.get().tree
    crumbs: list = []
    for a in tree.ancestors(area_id):
        crumbs += [dcc.Link(a.name_zh, href=href.format(id=a.id), className="crumb"), html.Span(" › ", className="sep")]
    crumbs.append(html.Span(tree[area_id].name_zh, className="crumb current"))
    return html.Nav(crumbs, className="breadcrumb")


def page_header(title: list | str, area_id: str, here: str, status_id: str | None = None,
                crumb_href: str = "/area/{id}") -> html.Header:
    """Title, breadcrumb, navigation and (optionally) a live status element."""
    return html.Header(className="header", children=[
        html.Div(className="title", children=[html.H1(title), breadcrumb(area_id, crumb_href)]),
        html.Div(className="header-right", children=[
            html.Div(id=status_id, className="status") if status_id else None, nav(area_id, here),
        ]),
    ])


def state_badge(state: State) -> html.Span:
    """Icon and colour of a state (shape and colour, so colour-blind viewers can tell them apart)."""
    return html.Span(STATE_ICON[state], className=f"badge state-{state.label}", title=state.label)


def age_text(seconds: float) -> str:
    """A duration as a short text: 45 s, 12 min, 3 h, 2 d."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def value_text(value: float | None, unit: str = "") -> str:
    """A value for display with 4 significant digits, ``—`` when there is none."""
    if value is None:
        return "—"
    number = f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"
    return f"{number}{(' ' + unit) if unit and unit != '%' else unit}"
