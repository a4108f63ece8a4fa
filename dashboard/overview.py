"""The overview of one area (district, street, community or grid): layout builders and refresh."""

from __future__ import annotations

import time

import dash
from dash import ALL, Input, Output, Patch, callback, dcc, html
from dash import State as DashState

from cityvitals import store
from cityvitals.vocabulary import DOMAINS
from dashboard import context, data, ids, map_view
from dashboard.components import DOMAIN_NAMES, age_span, area_name, bi, page_header, pending_note
from dashboard.delta import Delta, kept
from dashboard.figures import map_areas
from dashboard.theme import STATE_ICON
from indicators.history import read_domain_history
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
    # data-now: the server's clock, against which the browser ticks ages and the clock (assets/55_ages.js)
    return html.Div(className="overview", **{"data-now": time.time()}, children=[
        dcc.Store(id=ids.AREA_STORE, data=area_id),
        dcc.Store(id=ids.OVERVIEW_SHOWN),
        kept(("overview-header", area_id), lambda: build_header(area_id)),  # the same every time in a process
        html.Div(className="overview-body", children=[
            html.Div(className="left-column", children=kept(("overview-tiles",), lambda: [build_health(),
                                                                                         build_tiles()])),
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
    Output(ids.OVERVIEW_SHOWN, "data"),
    Input(ids.INTERVAL, "n_intervals"),
    Input(ids.MAP_BY, "value"),
    DashState(ids.AREA_STORE, "data"),
    DashState(ids.OVERVIEW_SHOWN, "data"),
)
def refresh(_n: int, by: str, area_id: str, shown: dict[str, str] | None) -> tuple:
    """Read the area's summary, its children's states (or one indicator's) and the warnings; patch the page.

    Only the parts whose data moved since the browser got them (``shown``: their digests) are built
    and sent; ages tick in the browser, so time passing alone changes nothing.
    """
    ctx = context.get()
    area = ctx.tree[area_id]
    own = store.read_summaries(ctx.client, area.level, [area_id]).get(area_id, {})
    defs = data.definitions(ctx.client)
    states, hover = map_view.map_states(map_areas(ctx.tree, area_id), by, defs)
    now = time.time()
    history = read_domain_history(ctx.sql, area_id, now - SPARK_HOURS * 3600)  # district and streets only
    feeds = store.read_feed_health(ctx.client)
    warnings = store.read_ticker(ctx.client, area_id, TICKER_LINES)
    live = engine_live(store.read_meta(ctx.client), now)
    simulated = any(f.get("simulated") for f in feeds.values())
    domains = own.get("domains", {})
    delta = Delta(shown)
    return (
        delta.part("health", own.get("health"), lambda: _health_text(own)),
        [delta.part(f"tile:{d}", (domains.get(d), history.get(d, [])),
                    lambda d=d: tile_body(d, domains.get(d), history.get(d, []), now)) for d in DOMAINS],
        delta.part("map", (states, hover), lambda: _map_patch(states, hover), keep=False),
        delta.part("ticker", [(w, data.indicator_names(defs, w["i"])) for w in warnings],
                   lambda: ticker_lines(warnings, now, defs)),
        delta.part("status", (own.get("data_ts"), simulated, live), lambda: status_line(own, live, simulated, now)),
        delta.part("feeds", [(n, f.get("simulated"), f.get("last_sample"), f.get("accepted"), f.get("refused"))
                             for n, f in sorted(feeds.items())], lambda: feed_lines(feeds, now)),
        delta.part("legend", (states, by, defs.get(by, {}).get("name")), lambda: map_view.legend(states, by, defs)),
        delta.store(),
    )


def _map_patch(states: list[State], hover: list[str]) -> Patch:
    """Colours, hover texts and state icons of the map's areas: the geometry stays in the browser."""
    fig = Patch()
    fig["data"][0]["z"] = [int(s) for s in states]
    fig["data"][0]["text"] = hover
    fig["data"][1]["text"] = [STATE_ICON[s] if s != State.NORMAL else "" for s in states]
    return fig


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
    return [*bi("数据 ", "data "), age_span(data_ts, now)]


def sparkline(scores: list[float | None], points: int = SPARK_POINTS) -> str:
    """The last ``points`` scores as block characters (a gap where all was stale), the highest at the top."""
    shown = scores[-points:]
    known = [s for s in shown if s is not None]
    if len(known) < 2:
        return ""
    hi = max(known)
    lo = min(min(known), hi - 10.0)  # the scale spans at least 10 points below the top, so a wobble stays a wobble
    return "".join(" " if s is None else SPARK_BLOCKS[min(7, int((s - lo) / (hi - lo) * 8))] for s in shown)


def ticker_lines(warnings: list[dict], now: float, defs: dict[str, dict]) -> list:
    """The ticker's lines for ``warnings`` (as the store orders them: red first, then longest-standing)."""
    if not warnings:
        return [html.Li(bi("无预警", "No warnings"), className="ticker-empty")]
    return [ticker_line(w, now, defs) for w in warnings]


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
        age_span(w["since"], now, "since"),
        html.Span(pending_note(w.get("p"), w.get("ps"), defs.get(w["i"], {}).get("min_duration", 0.0), now),
                  className="pending") if w.get("p") else None,
    ])


def engine_live(meta: dict, now: float) -> bool:
    """Whether the engine ticked lately (within three tick periods)."""
    return now - float(meta.get("last_tick", 0) or 0) < 3 * context.get().tick_seconds


def status_line(summary: dict, live: bool, simulated: bool, now: float) -> list:
    """Clock, data age, a simulated-data mark and engine liveness; a stalled engine is said, not hidden."""
    return [
        # the browser ticks the clock on from here (assets/55_ages.js)
        html.Span(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)), id=ids.CLOCK, className="clock"),
        html.Span(data_age(summary.get("data_ts"), now), className="data-age"),
        html.Span(bi("模拟数据", "SIMULATED"), className="simulated-badge") if simulated else None,
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
        html.Span([" · ", age_span(f["last_sample"], now)] if f.get("last_sample") else " · —"),
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
