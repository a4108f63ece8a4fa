"""The overview of one area (district, street, community or grid): layout builders and refresh."""

from __future__ import annotations

import time

import dash
from dash import ALL, Input, Output, Patch, callback, dcc, html
from dash import State as DashState

from cityvitals import store
from dashboard import context, data, ids, map_view
from dashboard.components import DOMAIN_NAMES, age_text, area_name, bi, page_header
from dashboard.figures import map_areas
from dashboard.theme import STATE_ICON
from indicators.history import read_domain_history
from indicators.schema import DOMAINS
from indicators.states import State

TICKER_LINES = 14
SPARK_HOURS = 2
SPARK_POINTS = 20
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def layout(area_id: str, by: str = map_view.WORST) -> html.Div:
    """The whole overview page of ``area_id``, its map coloured by indicator ``by`` (default: worst state)."""
    ctx = context.get()
    if area_id not in ctx.tree:
        return html.Div(bi(f"未知区域: {area_id}", f"Unknown area: {area_id}"), className="error-page")
    return html.Div(className="overview", children=[
        dcc.Store(id=ids.AREA_STORE, data=area_id),
        build_header(area_id),
        html.Div(className="overview-body", children=[
            html.Div(className="left-column", children=[build_health(), build_tiles()]),
            html.Div(className="map-panel", children=map_view.build_map(area_id, by)),
            html.Div(className="right-column", children=[
                html.H2(bi("预警", "Warnings"), className="panel-title"),
                html.Ul(id=ids.TICKER, className="ticker"),
                html.H2(bi("数据源", "Feeds"), className="panel-title"),
                html.Ul(id=ids.FEEDS, className="feeds"),
            ]),
        ]),
    ])


def build_header(area_id: str) -> html.Header:
    """Title, breadcrumb to climb the hierarchy, navigation and the live status line."""
    return page_header(area_name(area_id), area_id, "overview", ids.HEADER_STATUS)


def build_health() -> html.Div:
    """The city-health index block."""
    return html.Div(className="health", children=[
        html.Div(bi("城市体征指数", "Health index"), className="label"),
        html.Div("—", id=ids.HEALTH, className="value"),
    ])


def build_tiles() -> html.Div:
    """Six domain tiles, filled by the refresh callback."""
    return html.Div(className="tiles", children=[
        html.Div(id=ids.tile(d), className="tile", children=[html.Div(bi(*DOMAIN_NAMES[d]), className="tile-name")])
        for d in DOMAINS
    ])


@callback(
    Output(ids.HEALTH, "children"),
    Output(ids.tile(ALL), "children"),
    Output(ids.MAP, "figure"),
    Output(ids.TICKER, "children"),
    Output(ids.HEADER_STATUS, "children"),
    Output(ids.FEEDS, "children"),
    Output(ids.MAP_LEGEND, "children"),
    Input(ids.INTERVAL, "n_intervals"),
    Input(ids.MAP_BY, "value"),
    DashState(ids.AREA_STORE, "data"),
)
def refresh(_n: int, by: str, area_id: str) -> tuple:
    """Read the area's summary, its children's states (or one indicator's) and the warnings; patch the page."""
    ctx = context.get()
    area = ctx.tree[area_id]
    own = store.read_summaries(ctx.client, area.level, [area_id]).get(area_id, {})
    areas = map_areas(ctx.tree, area_id)
    defs = data.definitions(ctx.client)
    states, hover = map_view.map_states(areas, by, defs)
    fig = Patch()
    fig["data"][0]["z"] = [int(s) for s in states]
    fig["data"][0]["text"] = hover
    fig["data"][1]["text"] = [STATE_ICON[s] if s != State.NORMAL else "" for s in states]
    now = time.time()
    history = read_domain_history(ctx.sql, area_id, now - SPARK_HOURS * 3600)  # district and streets only
    feeds = store.read_feed_health(ctx.client)
    return (
        _health_text(own), [tile_body(d, own.get("domains", {}).get(d), history.get(d, []), now) for d in DOMAINS],
        fig,
        ticker_lines(area_id, now, defs), status_line(own, store.read_meta(ctx.client), now, feeds),
        feed_lines(feeds, now), map_view.legend(states, by, defs),
    )


def _health_text(summary: dict) -> str:
    health = summary.get("health")
    return "—" if health is None else f"{health:.1f}"


def tile_body(domain: str, d: dict | None, history: list[float | None], now: float) -> list:
    """Contents of one domain tile: score, its sparkline, counts by state (icon and colour) and data age."""
    d = d or {}
    score = d.get("score")
    counts = [html.Span(f"{STATE_ICON[s]} {d.get(s.label, 0)}", className=f"count state-{s.label}")
              for s in (State.RED, State.YELLOW, State.STALE, State.NORMAL)]
    return [
        html.Div(className="tile-head", children=[
            html.Div(bi(*DOMAIN_NAMES[domain]), className="tile-name"),
            html.Span(data_age(d.get("data_ts"), now), className="tile-age"),
        ]),
        html.Div(className="tile-middle", children=[
            html.Div("—" if score is None else f"{score:.0f}", className="tile-score"),
            html.Div(sparkline(history), className="tile-spark", title=f"{SPARK_HOURS} h"),
        ]),
        html.Div(counts, className="tile-counts"),
    ]


def data_age(data_ts: float | None, now: float) -> list:
    """How old the data is, or that there is none, in both languages."""
    if not data_ts:
        return bi("无数据", "no data")
    return bi(f"数据 {age_text(now - data_ts)}", f"data {age_text(now - data_ts)}")


def sparkline(scores: list[float | None], points: int = SPARK_POINTS) -> str:
    """The last ``points`` scores as block characters (a gap where all was stale), the highest at the top."""
    shown = scores[-points:]
    known = [s for s in shown if s is not None]
    if len(known) < 2:
        return ""
    hi = max(known)
    lo = min(min(known), hi - 10.0)  # the scale spans at least 10 points below the top, so a wobble stays a wobble
    return "".join(" " if s is None else SPARK_BLOCKS[min(7, int((s - lo) / (hi - lo) * 8))] for s in shown)


def ticker_lines(area_id: str, now: float, defs: dict[str, dict]) -> list:
    """Active warnings in and below the area: red first, then longest-standing (the store keeps them in order)."""
    mine = store.read_ticker(context.get().client, area_id, TICKER_LINES)
    if not mine:
        return [html.Li(bi("无预警", "No warnings"), className="ticker-empty")]
    return [ticker_line(w, now, defs) for w in mine]


def ticker_line(w: dict, now: float, defs: dict[str, dict]) -> html.Li:
    """One warning: icon, area, indicator, value against threshold, time in state."""
    state = State[w["s"].upper()]
    threshold = w["r"] if state == State.RED else w["y"]
    value = "—" if w["v"] is None else f"{w['v']:.4g}"
    return html.Li(className=f"ticker-line state-{state.label}", children=[
        html.Span(STATE_ICON[state], className="icon"),
        dcc.Link(area_name(w["a"]), href=f"/area/{w['a']}", className="where"),
        dcc.Link(bi(*data.indicator_names(defs, w["i"])), href=f"/indicator/{w['i']}?area={w['a']}",
                 className="what", title=w["i"]),
        html.Span(f"{value} / {threshold}", className="value"),
        html.Span(f"{age_text(now - w['since'])}", className="since"),
    ])


def status_line(summary: dict, meta: dict, now: float, feeds: dict[str, dict]) -> list:
    """Clock, data age, a simulated-data mark and engine liveness; a stalled engine is said, not hidden."""
    ctx = context.get()
    last_tick = float(meta.get("last_tick", 0) or 0)
    live = now - last_tick < 3 * ctx.tick_seconds
    data_ts = summary.get("data_ts")
    return [
        html.Span(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)), id=ids.CLOCK, className="clock"),
        html.Span(data_age(data_ts, now), className="data-age"),
        html.Span(bi("模拟数据", "SIMULATED"), className="simulated-badge")
        if any(f.get("simulated") for f in feeds.values()) else None,
        html.Span(bi("● 实时", "● live") if live else bi("◌ 引擎停滞", "◌ engine stalled"),
                  className="conn live" if live else "conn stalled"),
    ]


def feed_lines(feeds: dict[str, dict], now: float) -> list:
    """One line per feed: name, simulated mark, age of its last sample, counts."""
    if not feeds:
        return [html.Li(bi("无数据源", "No feeds"), className="feed")]
    return [html.Li(className="feed", children=[
        html.Span(name, className="feed-name"),
        html.Span(bi(" 模拟", " SIMULATED"), className="simulated") if f.get("simulated") else None,
        html.Span(f" · {age_text(now - f['last_sample'])}" if f.get("last_sample") else " · —"),
        html.Span(f" · ✓{f.get('accepted', 0)} ✗{f.get('refused', 0)}"),
    ]) for name, f in sorted(feeds.items())]


@callback(Output("_pages_location", "pathname"), Input(ids.MAP, "clickData"), prevent_initial_call=True)
def drill(click: dict | None) -> str:
    """Clicking an area on the map opens its overview."""
    if not click or not click.get("points"):
        return dash.no_update
    point = click["points"][0]
    area_id = point.get("location") or point.get("customdata")
    if not area_id or area_id not in context.get().tree:
        return dash.no_update
    return f"/area/{area_id}"
