"""The overview's map: child areas coloured by their worst state or by one chosen indicator, with a legend."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from dash import ClientsideFunction, Input, Output, Patch, callback, clientside_callback, dcc, html
from dash import State as DashState

from cityvitals import store
from cityvitals.areas import Area
from dashboard import context, data, ids, trouble
from dashboard.components import bi, pair_text, value_text
from dashboard.delta import kept
from dashboard.dispatching import open_tasks_in
from dashboard.figures import EDGE, EDGE_WIDTH, MapLook, area_map, fit_view, map_areas, states_of
from dashboard.geometry import geometry_url
from dashboard.memo import Memo
from dashboard.theme import STATE_ICON, STATE_NAME
from indicators.states import State

WORST = ""  # the dropdown's value for "worst state of the macro indicators, and trouble below" (the default)
LEGEND_ORDER = (State.RED, State.YELLOW, State.STALE, State.NORMAL, State.INSUFFICIENT, State.NOT_JUDGED)


def build_map(area_id: str, by: str) -> list:
    """The chooser, the map of the children of ``area_id`` coloured by ``by`` (or worst state), and its legend.

    In the plain form Dash sends, built once per process for all the map shows (:func:`map_look`'s digest):
    a drill to a busy area reuses the one the last drill there built.
    """
    ctx = context.get()
    meta = store.meta(ctx.client)
    defs = data.definitions(ctx.client, meta.catalog_version)
    key, look = map_look(map_areas(ctx.tree, area_id), by, defs, meta)
    return kept(("map-section", area_id, by, key, meta.catalog_version), lambda: [
        html.Div(className="map-tools", children=[dcc.Dropdown(
            id=ids.MAP_BY, options=indicator_options(defs, by), value=by if by in defs else WORST, clearable=False,
            className="dropdown map-by")]),
        dcc.Graph(id=ids.MAP, figure=area_map(ctx.tree, area_id, look(), geometry_url(area_id)), className="map",
                  config={"displayModeBar": False, "scrollZoom": True}, style={"height": "100%"}),
        html.Div(legend(look(), by, defs), id=ids.MAP_LEGEND, className="map-legend"),
        dcc.Store(id=ids.MAP_SIZE),
    ])


# The browser measures the map (on load and whenever the screen changes size); the server fits the zoom to it,
# so a 4K wall's map fills its panel instead of being zoomed for a 1080p one.
clientside_callback(
    ClientsideFunction("cityvitals", "mapSize"),
    Output(ids.MAP_SIZE, "data"),
    Input(ids.INTERVAL, "n_intervals"),
    Input(ids.AREA_STORE, "data"),
    DashState(ids.MAP_SIZE, "data"),
)


@callback(Output(ids.MAP, "figure", allow_duplicate=True), Input(ids.MAP_SIZE, "data"),
          DashState(ids.AREA_STORE, "data"), prevent_initial_call=True)
def fit_to_size(size: list[float] | None, area_id: str) -> Patch:
    """Centre and zoom for the map's real size in pixels (only the view changes: no geometry is sent)."""
    centre, zoom = fit_view(map_areas(context.get().tree, area_id), (size[0], size[1]))
    fig = Patch()
    fig["layout"]["map"]["center"] = centre
    fig["layout"]["map"]["zoom"] = zoom
    return fig


def indicator_options(defs: dict[str, dict], by: str) -> list[dict]:
    """Worst state first, then the macro indicators by domain (and ``by`` if it is a panel indicator).

    The options travel with every overview page, so they are the 85 vital signs with short labels, not all
    300+ panel indicators: those are one ``?by=`` away.
    """
    ordered = sorted((d for d in defs.values() if d["tier"] == "macro" or d["id"] == by),
                     key=lambda d: (d["tier"] != "macro", d["group"], d["id"]))
    return [{"label": "最差状态 Worst state", "value": WORST}] + [
        {"label": pair_text((d["name"]["zh"], d["name"]["en"])), "value": d["id"]} for d in ordered]


LOOKS = 256  # map looks kept per process: one per area watched and colouring, for as long as its data stays
_looks = Memo(LOOKS)


def map_look(areas: list[Area], by: str, defs: dict[str, dict],
             meta: store.Meta | None = None) -> tuple[str, Callable[[], MapLook]]:
    """A digest of all the map of ``areas`` shows, and its look, built once per digest.

    The map shows of each area its state for indicator ``by``, or (``by`` not in the catalog) the area's state
    every screen shows (:mod:`dashboard.trouble`): its own worst macro state as the colour, and the red and
    yellow areas below it as a mark at its centre, an outline and a hover line.

    The digest comes from the raw reads alone, read once per store stamp (``meta``: read before, else here;
    :func:`data.per_write`) and their open tasks. Building the look of a province's 1,250 streets (hover texts,
    labels, counts below, legend lines) costs about 0.1 s of a worker, which every refresh paid while the
    data stood still; now a refresh pays that only when the data behind the map moved.
    """
    ctx = context.get()
    meta = store.meta(ctx.client) if meta is None else meta
    area_ids = [a.id for a in areas]
    tasks = open_tasks_in(ctx, area_ids)
    shown, build = data.per_write(meta, ("map", by, tuple(area_ids)), lambda: _map_data(areas, by, defs))
    key = hashlib.blake2b(repr((shown, tasks)).encode(), digest_size=16).hexdigest()
    return key, lambda: _looks.get(key, lambda: with_tasks(build(), tasks))


def _map_data(areas: list[Area], by: str, defs: dict[str, dict]) -> tuple[str, Callable[[], MapLook]]:
    """A digest of what the store says of ``areas`` for the map coloured by ``by``, and how to build its look."""
    client = context.get().client
    area_ids = [a.id for a in areas]
    digest = hashlib.blake2b(repr((by, area_ids)).encode(), digest_size=16)
    if by in defs:
        records = store.read_state_of(client, by, area_ids)  # a child never scored is stale, never normal
        unit = defs[by].get("unit", "")
        digest.update(repr((unit, defs[by]["name"], records)).encode())
        build = lambda: _indicator_look(areas, records, unit)  # noqa: E731
    else:
        ids, cells = store.summary_cells(client, areas[0].level, area_ids)
        digest.update(repr(ids).encode())
        for field in ("updated", "worst", "health", "below"):  # "updated": written at all
            digest.update(cells[field].tobytes() if field != "updated" else (cells[field] > 0).tobytes())
        build = lambda: _state_look(areas, store.unpack_summaries(ids, cells, brief=True))  # noqa: E731
    return digest.hexdigest(), build


def with_tasks(look: MapLook, counts: list[int]) -> MapLook:
    """The look with each area's open tasks (``counts``: in it and below) marked "⚑2" at its centre and in its hover."""
    if not any(counts):
        return look
    labels = [f"{label} ⚑{n}".strip() if n else label for label, n in zip(look.label_texts(), counts, strict=True)]
    hover = [f"{h}<br>⚑ {n} 个待办任务 open task(s)" if n else h for h, n in zip(look.hover, counts, strict=True)]
    return look._replace(labels=labels, hover=hover)


def _state_look(areas: list[Area], summaries: dict[str, dict]) -> MapLook:
    area_ids = [a.id for a in areas]
    states = states_of(summaries, area_ids)
    below = [summaries.get(a) for a in area_ids]
    return MapLook(states, [_hover(a, s, f"指数 index {_shown(b.get('health') if b else None)}")
                            + trouble.hover_line(b) for a, s, b in zip(areas, states, below, strict=True)],
                   [trouble.label(s, b) for s, b in zip(states, below, strict=True)],
                   [trouble.mark(b) for b in below], trouble.legend_lines(summaries, area_ids, areas[0].level))


def _indicator_look(areas: list[Area], records: dict[str, dict], unit: str) -> MapLook:
    states = [State[records[a.id]["s"].upper()] if a.id in records else State.STALE for a in areas]
    return MapLook(states, [_hover(a, s, _value_line(records.get(a.id), unit))
                            for a, s in zip(areas, states, strict=True)])


def _hover(area: Area, state: State, line: str) -> str:
    return f"{area.name_zh} {area.name_en}<br>{STATE_ICON[state]} {state.label} · {line}"


def _shown(x: float | None) -> str:
    return "—" if x is None else f"{x}"


def _value_line(record: dict | None, unit: str) -> str:
    if record is None:
        return "无数据 no data"
    return f"{value_text(record['v'], unit)} (▲{record['y']} ■{record['r']})"


def legend(look: MapLook, by: str, defs: dict[str, dict]) -> list:
    """What the colours mean: the indicator (or area state) shown, each state with its icon and count.

    Then, for the area state, the areas with red or yellow areas below ("2 streets with red grids below").
    """
    if by in defs:
        title = bi(defs[by]["name"]["zh"], defs[by]["name"]["en"])
    elif by:
        title = bi(f"未知指标 {by}，显示最差状态", f"Unknown indicator {by}: showing the worst state")
    else:
        title = bi("各区域最差状态（宏观指标）", "Worst state of each area (macro indicators)")
    shown = [s for s in LEGEND_ORDER if s in (State.RED, State.YELLOW, State.STALE, State.NORMAL) or s in look.states]
    return [html.Div(title, className="legend-title")] + [
        html.Div(className=f"legend-item state-{s.label}", children=[
            html.Span(STATE_ICON[s], className="legend-swatch"), html.Span(bi(*STATE_NAME[s])),
            html.Span(f" {look.states.count(s)}", className="legend-count"),
        ]) for s in shown
    ] + list(look.below_legend)


VALUE_SCALE = "Viridis"  # ordered and colour-blind safe: a value map must not look like the state colours


def value_map(tree, area_id: str, ranked, unit: str) -> dict:
    """The children of ``area_id`` coloured by a value (``ranked``: area, value, state, names), legend in ``unit``.

    The state map's figure (labels) with the fill swapped for a continuous scale and its colour bar; the
    polygons are a URL the browser fetches once (dashboard/geometry.py), not part of every page.
    """
    areas = map_areas(tree, area_id)
    mine = ranked.set_index("area").reindex([a.id for a in areas])  # columns as arrays: no row object per area
    states = [State(int(s)) for s in mine["state"].fillna(int(State.STALE)).tolist()]
    shown = [None if v != v else round(v, 4) for v in mine["value"].astype(float).tolist()]
    look = MapLook(states, [f"{a.name_zh} {a.name_en}<br>{value_text(v, unit)} · {STATE_ICON[s]} {s.label}"
                            for a, v, s in zip(areas, shown, states, strict=True)],
                   labels=[value_text(v) if v is not None else "—" for v in shown])
    fig = area_map(tree, area_id, look, geometry_url(area_id))
    known = [v for v in shown if v is not None]
    fig["data"][0].update({"z": shown, "colorscale": VALUE_SCALE, "showscale": True,
                           "zmin": min(known, default=0.0), "zmax": max(known, default=1.0),
                           "colorbar": {"title": {"text": unit or "value"}, "thickness": 14},
                           # one edge for all (a value map marks nothing below), and no click ids: 30 KB at 1,250 areas
                           "marker": {"line": {"color": EDGE, "width": EDGE_WIDTH}, "opacity": 0.85}})
    del fig["data"][0]["customdata"]
    fig["data"][1]["textfont"] = {"size": 12, "color": "#e5e9f0"}
    fig["data"][1]["marker"] = {"size": 0}
    fig["layout"]["uirevision"] = f"value-{area_id}"
    return fig
