"""Kiosk mode for the wall (``?kiosk=1&rotate=20``): which page comes next, and the callback that switches.

The choice is :func:`next_view`, a plain function of the states and the time; the browser only follows it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from urllib.parse import parse_qs, urlencode

import dash
from dash import ALL, ClientsideFunction, Input, Output, State, callback, clientside_callback

from cityvitals import store
from cityvitals.vocabulary import PANELS
from dashboard import context, ids, trouble
from dashboard.components import LANGS
from dashboard.urls import area_path, area_query, quoted

DEFAULT_ROTATE_S = 20.0
MIN_ROTATE_S = 2.0
ABNORMAL_DWELL = 2.0  # a view with yellow or red in it stays this many periods
ABNORMAL = ("red", "yellow")


@dataclass(frozen=True)
class Shown:
    """The view on the wall: its path, its place in the rotation, since when, and the areas red then."""

    view: str
    index: int
    since: float
    red: tuple[str, ...] = field(default=())


def rotation(home: str) -> list[str]:
    """The views a kiosk rotates through: the overview of ``home``, then the six panels for it."""
    return [area_path(home), *(f"/panel/{p}{area_query(home)}" for p in PANELS)]


def dwell_s(view: str, period_s: float, abnormal: set[str]) -> float:
    """How long a view stays: one period, longer when something in it is yellow or red."""
    return period_s * (ABNORMAL_DWELL if view in abnormal else 1.0)


def next_view(shown: Shown | None, views: list[str], period_s: float, now: float, red: list[str],
              abnormal: set[str]) -> Shown:
    """The view to show at ``now``: jump to an area that has just turned red, else rotate when its time is up.

    ``red`` lists the areas red now (in display order), ``abnormal`` the views with yellow or red in them.
    A jump keeps the rotation's place, so the wall carries on where it left off.
    """
    if shown is None:
        return Shown(views[0], 0, now, tuple(red))
    new_red = [a for a in red if a not in shown.red]
    if new_red:
        return Shown(area_path(new_red[0]), shown.index, now, tuple(red))
    if now - shown.since < dwell_s(shown.view, period_s, abnormal):
        return Shown(shown.view, shown.index, shown.since, tuple(red))
    index = (shown.index + 1) % len(views)
    return Shown(views[index], index, now, tuple(red))


def _query(search: str | None) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs((search or "").lstrip("?")).items()}


def kiosk_params(search: str | None) -> tuple[bool, float, str | None]:
    """Whether the query string asks for kiosk mode, its rotation period, and its home area (``?area=``)."""
    query = _query(search)
    on = query.get("kiosk", "") not in ("", "0", "false")
    try:
        period = max(MIN_ROTATE_S, float(query.get("rotate", DEFAULT_ROTATE_S)))
    except ValueError:
        period = DEFAULT_ROTATE_S
    return on, period, query.get("home")


def sticky(search: str | None) -> dict[str, str]:
    """Parameters of the wall's URL that every view keeps: the language and the map's indicator."""
    query = _query(search)
    return {k: v for k, v in query.items() if (k == "lang" and v in LANGS) or k == "by"}


def split_view(view: str, period_s: float, home: str, keep: dict[str, str] | None = None) -> tuple[str, str]:
    """Pathname and query string of a view, with the kiosk parameters (and ``keep``) kept for the next page."""
    path, _, query = view.partition("?")
    kiosk = f"kiosk=1&rotate={period_s:g}&home={quoted(home)}" + (f"&{urlencode(keep)}" if keep else "")
    return path, f"?{query}&{kiosk}" if query else f"?{kiosk}"


def wall_states(home: str) -> tuple[list[str], set[str]]:
    """Children of ``home`` that are red now, and the views of a rotation that have yellow or red in them.

    Red as every screen counts it (:mod:`dashboard.trouble`): by the area's own macro indicators or an
    area below it, so a street whose grid turns red is shown like a street that turns red itself.
    """
    ctx = context.get()
    children = ctx.tree.children(home)
    child = (store.read_summaries(ctx.client, children[0].level, [a.id for a in children], brief=True)
             if children else {})
    red = [a.id for a in children if trouble.has_red(child.get(a.id))]
    own = store.read_summaries(ctx.client, ctx.tree[home].level, [home]).get(home, {})
    abnormal = {area_path(a) for a in red}
    if trouble.has_warning(own):
        abnormal.add(area_path(home))
    for panel, counts in own.get("panels", {}).items():
        if any(counts.get(s) for s in ABNORMAL):
            abnormal.add(f"/panel/{panel}{area_query(home)}")
    return red, abnormal


@callback(
    Output(ids.KIOSK_STATE, "data"),
    Output("_pages_location", "pathname", allow_duplicate=True),
    Output("_pages_location", "search", allow_duplicate=True),
    Input(ids.KIOSK_TICK, "n_intervals"),
    State(ids.KIOSK_STATE, "data"),
    State("_pages_location", "pathname"),
    State("_pages_location", "search"),
    prevent_initial_call=True,
)
def rotate(_n: int, stored: dict | None, pathname: str | None, search: str | None) -> tuple:
    """Advance the wall: read the states, ask :func:`next_view`, and switch the page only when it changes."""
    on, period, home = kiosk_params(search)
    if not on:
        return dash.no_update, dash.no_update, dash.no_update
    tree = context.get().tree
    home = home if home in tree else tree.root.id
    red, abnormal = wall_states(home)
    shown = Shown(**{**stored, "red": tuple(stored["red"])}) if stored else None
    now = next_view(shown, rotation(home), period, time.time(), red, abnormal)
    path, query = split_view(now.view, period, home, sticky(search))
    # the first round finds the wall on its first view already: navigating there again would redraw it
    if (shown is not None and now.view == shown.view) or (shown is None and path == pathname):
        return asdict(now), dash.no_update, dash.no_update
    return asdict(now), path, query


# Kiosk look and language are set in the browser from the query string, the switch and the remembered
# choice, so the wall keeps its look while the server is away.
clientside_callback(
    ClientsideFunction("cityvitals", "view"),
    Output(ids.ROOT, "className"),
    Output(ids.KIOSK_TICK, "disabled"),
    Output(ids.LANG, "data"),
    Input("_pages_location", "search"),
    Input(ids.lang_button(ALL), "n_clicks"),
    Input(ids.LANG, "data"),
)
# The browser asks /readyz on every refresh and marks the screen when the server does not answer.
clientside_callback(
    ClientsideFunction("cityvitals", "connection"),
    Output(ids.CONN_LOST, "className"),
    Output(ids.CONN_LOST, "children"),
    Input(ids.INTERVAL, "n_intervals"),
)
