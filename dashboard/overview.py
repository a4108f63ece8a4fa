"""The overview of one area (district, street, community or grid): layout builders and refresh."""

from __future__ import annotations

import time

import dash
import redis
from dash import ALL, Input, Output, Patch, callback, dcc, html
from dash import State as DashState

from cityvitals import store
from cityvitals.areas import LEVELS, AreaTree
from cityvitals.vocabulary import DOMAINS
from dashboard import clock, context, data, ids, map_view, trouble
from dashboard.components import (
    DOMAIN_NAMES,
    age_span,
    area_name,
    band_class,
    bi,
    page_header,
    pending_for,
    share_span,
    warning_phase,
)
from dashboard.delta import Delta, kept, plain
from dashboard.figures import MapLook, map_areas
from dashboard.theme import STATE_ICON, STATE_NAME
from dashboard.urls import area_path, indicator_path
from indicators.history import read_domain_history
from indicators.states import State
from indicators.thresholds import FUNNEL_LABEL

TICKER_LINES = 14
TICKER_READ = 200  # rows read to fold a street's grids into its row: an incident in one street is one line
SPARK_HOURS = 2
SPARK_POINTS = 20
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def layout(area_id: str, by: str = map_view.WORST) -> dict:
    """The whole overview page of ``area_id``, its map coloured by indicator ``by`` (default: worst state).

    In the plain form Dash sends (:func:`~dashboard.delta.plain`): a response of plain JSON types is encoded by
    orjson in one pass, where one component left in it makes plotly walk the whole page (a province's map
    polygons) in Python first, 90-115 ms a drill to the root at 100,000 grids instead of about 30.
    """
    ctx = context.get()
    if area_id not in ctx.tree:
        return plain(html.Div(bi(f"未知区域: {area_id}", f"Unknown area: {area_id}"), className="error-page"))
    # data-now: the server's clock, against which the browser ticks ages and the clock (assets/55_ages.js)
    return plain(html.Div(className="overview", **{"data-now": time.time()}, children=[
        dcc.Store(id=ids.AREA_STORE, data=area_id),
        dcc.Store(id=ids.OVERVIEW_SHOWN),
        kept(("overview-header", area_id), lambda: build_header(area_id)),  # the same every time in a process
        html.Div(className="overview-body", children=[
            html.Div(className="left-column", children=kept(("overview-tiles",), lambda: [build_health(),
                                                                                         build_tiles()])),
            html.Div(className="map-panel", children=map_view.build_map(area_id, by)),
            html.Div(className="right-column", children=[
                html.H2(bi("预警", "Warnings"), className="panel-title"),
                html.Div(id=ids.TICKER_HEAD, className="ticker-head"),
                html.Ul(id=ids.TICKER, className="ticker"),
                html.H2(bi("数据源", "Feeds"), className="panel-title"),
                html.Ul(id=ids.FEEDS, className="feeds"),
            ]),
        ]),
    ]))


def build_header(area_id: str) -> html.Header:
    """Title, breadcrumb to climb the hierarchy, navigation and the live status line."""
    return page_header(area_name(area_id), area_id, "overview", ids.HEADER_STATUS)


def build_health() -> html.Div:
    """The city-health index block: score, data share, the area's own state and what lies below it."""
    return html.Div(className="health", children=[
        html.Div(bi("城市体征指数", "Health index"), className="label"),
        html.Div(id=ids.HEALTH, className="health-body", children=html.Div("—", className="value")),
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
    Output(ids.TICKER_HEAD, "children"),
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
    and sent; ages tick in the browser, so time passing alone changes nothing. Everything here is the
    area's state as :mod:`dashboard.trouble` defines it: its own macro indicators and the counts below.
    """
    ctx = context.get()
    area = ctx.tree[area_id]
    meta = store.meta(ctx.client)  # first: the store's reads below are kept per its stamp (data.per_write)
    own = data.per_write(meta, ("summary", area_id),
                         lambda: store.read_summaries(ctx.client, area.level, [area_id]).get(area_id, {}))
    defs = data.definitions(ctx.client, meta.catalog_version)
    map_key, look = map_view.map_look(map_areas(ctx.tree, area_id), by, defs, meta)  # the look built if it moved
    now = time.time()
    # district and streets only; kept per stamp though the engine logs history after it publishes the tick's
    # states: a new point of the sparkline may come one tick late, once a history step
    history = data.per_write(meta, ("history", area_id),
                             lambda: read_domain_history(ctx.sql, area_id, now - SPARK_HOURS * 3600))
    feeds = store.read_feed_health(ctx.client)
    warnings = data.per_write(meta, ("ticker", area_id), lambda: wall_ticker(ctx.client, ctx.tree, area_id, defs))
    live, starting = engine_live(meta, now), meta.starting
    simulated = any(f.get("simulated") for f in feeds.values())
    domains = own.get("domains", {})
    state = (own.get("health"), own.get("share"), own.get("worst"), own.get("below"))
    delta = Delta(shown)
    ticker = [(w, data.indicator_names(defs, store.WarningKey.of(w).indicator)) for w in warnings]
    return (
        delta.part("health", state, lambda: health_body(own)),
        [delta.part(f"tile:{d}", (domains.get(d), history.get(d, [])),
                    lambda d=d: tile_body(d, domains.get(d), history.get(d, []), now)) for d in DOMAINS],
        delta.part("map", map_key, lambda: _map_patch(look())),
        *delta.parts("ticker", (ticker, own.get("below")),
                     lambda: [ticker_lines(warnings, now, defs), ticker_head(own)], 2),
        delta.part("status", (own.get("data_ts"), simulated, live, starting_percent(starting)),
                   lambda: status_line(own, live, simulated, now, starting)),
        delta.part("feeds", [(n, f.get("simulated"), f.get("last_sample"), f.get("accepted"), f.get("refused"))
                             for n, f in sorted(feeds.items())], lambda: feed_lines(feeds, now)),
        delta.part("legend", map_key, lambda: map_view.legend(look(), by, defs)),
        delta.store(),
    )


def _map_patch(look: MapLook) -> dict:
    """Colours, outlines, hover texts and labels of the map's areas: the geometry stays in the browser.

    As the plain form of a ``Patch`` (what Dash sends for one), so that the response stays plain JSON types.
    """
    fig = Patch()
    line_colour, line_width = look.outline()
    dot_colour, dot_size = look.mark_dots()
    fig["data"][0]["z"] = [int(s) for s in look.states]
    fig["data"][0]["text"] = look.hover
    fig["data"][0]["marker"] = {"line": {"color": line_colour, "width": line_width}, "opacity": look.opacity()}
    fig["data"][1]["text"] = look.label_texts()
    fig["data"][1]["marker"] = {"color": dot_colour, "size": dot_size}
    return fig.to_plotly_json()


def macro_only(warnings: list[dict], defs: dict[str, dict]) -> list[dict]:
    """The warnings of macro indicators: the overview counts, colours and lists the macro set only."""
    return [w for w in warnings if defs.get(store.WarningKey.of(w).indicator, {}).get("tier", "macro") == "macro"]


def wall_ticker(client: redis.Redis, tree: AreaTree, area_id: str, defs: dict[str, dict],
                lines: int = TICKER_LINES) -> list[dict]:
    """The ticker's rows for ``area_id``: macro warnings in the store's order, each area's trouble folded up.

    A warning whose ancestor has the same indicator in warning, at least as severe, is counted on that
    ancestor's row (``folded``: the highest such ancestor) instead of taking a line of its own, the way
    an alert manager groups alerts: a power cut in a street is its street's line "+58 below", not 59
    lines pushing everything else away, and acknowledging the street's row quiets its grids with it.
    """
    warnings = macro_only(store.read_ticker(client, area_id, TICKER_READ), defs)
    by_cell = {store.WarningKey.of(w): w for w in warnings}
    rows: list[dict] = []
    for w in warnings:
        key, severity = store.WarningKey.of(w), State[w["s"].upper()]
        host = next((h for a in tree.ancestors(key.area)
                     if (h := by_cell.get(store.WarningKey(key.indicator, a.id))) is not None
                     and State[h["s"].upper()] >= severity), None)
        if host is None:
            rows.append(w)
        else:
            host["folded"] = host.get("folded", 0) + 1
            host.setdefault("folded_areas", []).append(key.area)
    for w in rows:  # where one area alone is deepest (an incident in one grid), the row names it
        depth = {a: LEVELS.index(tree[a].level) for a in w.get("folded_areas", [])}
        deepest = [a for a, d in depth.items() if d == max(depth.values())]
        w["deepest"] = deepest[0] if len(deepest) == 1 else None
    return rows[:lines]


def health_body(summary: dict) -> list:
    """The health index coloured by its band, the share of its indicators with data, own state and trouble below.

    The same counts below as the map, its legend and the ticker's head (:mod:`dashboard.trouble`).
    """
    health, own = summary.get("health"), trouble.own_state(summary)
    return [
        html.Div(className="health-score", children=[
            html.Span("—" if health is None else f"{health:.1f}", className=f"value {band_class(health)}"),
            share_span(summary.get("share")),
        ]),
        html.Div(className=f"own-state state-{own.label}", children=[
            html.Span(STATE_ICON[own], className="icon"), " ", *bi(f"本级 {STATE_NAME[own][0]}",
                                                                   f"own indicators {STATE_NAME[own][1]}")]),
        html.Div(trouble.below_lines(summary), className="below-lines"),
    ]


def ticker_head(summary: dict) -> list:
    """Above the ticker: the red and yellow areas below, counted as the health block and the map count them."""
    return trouble.below_lines(summary, empty=False)


def tile_body(domain: str, d: dict | None, history: list[float | None], now: float) -> list:
    """Contents of one domain tile: score, its sparkline, counts by state (icon and colour) and data age."""
    d = d or {}
    score = d.get("score")
    counts = [html.Span(f"{STATE_ICON[s]} {d.get(s.label, 0)}", className=f"count state-{s.label}",
                        title=STATE_NAME[s][1])
              for s in (State.RED, State.YELLOW, State.STALE, State.NORMAL, State.INSUFFICIENT)
              if s != State.INSUFFICIENT or d.get(s.label)]
    return [
        html.Div(className="tile-head", children=[
            html.Div(bi(*DOMAIN_NAMES[domain]), className="tile-name"),
            html.Span(data_age(d.get("data_ts"), now), className="tile-age"),
        ]),
        html.Div(className="tile-middle", children=[
            html.Div("—" if score is None else f"{score:.0f}", className=f"tile-score {band_class(score)}"),
            share_span(d.get("share"), "tile-share"),
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
    """The ticker's lines for ``warnings``, in the store's order.

    Not yet acknowledged first, then red, then the district before a street before a community before a
    grid, then the newest, then the most residents.
    """
    if not warnings:
        return [html.Li(bi("无预警", "No warnings"), className="ticker-empty")]
    return [ticker_line(w, now, defs) for w in warnings]


def ticker_line(w: dict, now: float, defs: dict[str, dict]) -> html.Li:
    """One warning: icon, area, indicator, value against its threshold, what raised it, its peak, since.

    A row standing for the same warning below it says how many ("+58 below"). A warning waiting to change
    says where it goes and when; a clearing one is dimmed and struck, an
    acknowledged one marked ✓ and dimmed (CSS), below every one not yet acknowledged (the store's order).
    """
    state = State[w["s"].upper()]
    threshold = w["r"] if state == State.RED else w["y"]
    phase, key = warning_phase(w), store.WarningKey.of(w)
    marks = ("" if phase == "active" else f" {phase}") + (" acked" if w.get("ack") else "")
    return html.Li(className=f"ticker-line state-{state.label}{marks}", children=[
        html.Span(STATE_ICON[state], className="icon"),
        dcc.Link(area_name(key.area), href=area_path(key.area), className="where"),
        dcc.Link(bi(*data.indicator_names(defs, key.indicator)), href=indicator_path(key.indicator, key.area),
                 className="what", title=key.indicator),
        html.Span([html.Span(_number(w["v"]), className="now"), " / ", limit_text(w, threshold)], className="value"),
        age_span(w["since"], now, "since"),
        html.Span([*(folded_note(w) if w.get("folded") else []),
                   *(raised_peak(w) if w.get("raised") is not None else [])],
                  className="trail") if w.get("raised") is not None or w.get("folded") else None,
        html.Span([*((pending_for(w, defs.get(key.indicator, {}), now) or []) if w.get("p") else []),
                   *([html.Span(bi("✓ 已确认", "✓ acknowledged"), className="acked-mark")] if w.get("ack") else [])],
                  className="pending") if w.get("p") or w.get("ack") else None,
    ])


def folded_note(w: dict) -> list:
    """How many warnings below the row stands for, and the one area deepest among them if it is alone."""
    note = [html.Span(bi(f"下级另{w['folded']}处", f"+{w['folded']} below"), className="folded")]
    if w.get("deepest"):
        note += [" ", dcc.Link(area_name(w["deepest"]), href=area_path(w["deepest"]), className="folded-where")]
    return [*note, " · "]


def limit_text(w: dict, threshold: str) -> str | list:
    """The limit a row's value is read against: a number, or for funnel limits their confidence, said so.

    A funnel judges the count against what the parent's rate predicts, so "3.2 / 99.8%" would read as a
    share; it shows "funnel 99.8%" (the indicator page gives the counts for yellow and red).
    """
    if str(w.get("rule", "")).startswith(FUNNEL_LABEL):
        return bi(f"漏斗 {threshold}", f"funnel {threshold}")
    return threshold


def raised_peak(w: dict) -> list:
    """The value that raised the warning and the worst one since, in both languages."""
    raised, peak = _number(w.get("raised")), _number(w.get("peak"))
    return bi(f"起 {raised} · 峰 {peak}", f"raised {raised} · peak {peak}")


def _number(x: float | None) -> str:
    return "—" if x is None else f"{x:.4g}"


def engine_live(meta: store.Meta, now: float) -> bool:
    """Whether the engine ticked lately (within three tick periods)."""
    return now - (meta.last_tick or 0.0) < 3 * context.get().tick_seconds


def starting_percent(starting: float | None) -> int | None:
    """The share a starting engine has scored, in whole percent as shown (None: not starting)."""
    return None if starting is None else int(starting * 100)


def status_line(summary: dict, live: bool, simulated: bool, now: float, starting: float | None = None) -> list:
    """Clock, data age, a simulated-data mark and engine liveness; a stalled engine is said, not hidden.

    While an engine's first tick writes (``starting``: the share of records written), the line says how
    far it got: a restarted engine at province scale takes a while before every area has its states.
    """
    if starting is not None:
        n = starting_percent(starting)
        conn = html.Span(bi(f"◌ 启动中: 已评估 {n}% 区域", f"◌ starting: {n}% of areas scored"),
                         className="conn starting")
    else:
        conn = html.Span(bi("● 实时", "● live") if live else bi("◌ 引擎停滞", "◌ engine stalled"),
                         className="conn live" if live else "conn stalled")
    return [
        # the browser ticks the clock on from here (assets/55_ages.js)
        html.Span(clock.shown(now, "%Y-%m-%d %H:%M:%S"), id=ids.CLOCK, className="clock",
                  **{"data-tz": clock.zone().key}),
        html.Span(data_age(summary.get("data_ts"), now), className="data-age"),
        html.Span(bi("模拟数据", "SIMULATED"), className="simulated-badge") if simulated else None,
        conn,
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
    return area_path(area_id)
