"""The Dash big-screen app."""

from __future__ import annotations

from pathlib import Path

import dash
from dash import dcc, html

from dashboard import context, ids, kiosk  # noqa: F401 - kiosk registers its callbacks
from dashboard.theme import css_variables

ASSETS = Path(__file__).resolve().parent.parent / "assets"
KIOSK_TICK_MS = 1000


def create_app(ctx: context.DashboardContext, refresh_s: float = 5.0) -> dash.Dash:
    """Build the Dash app over the given connections; pages register themselves."""
    context.set_context(ctx)
    app = dash.Dash(
        __name__, use_pages=True, pages_folder=str(Path(__file__).parent / "pages"), assets_folder=str(ASSETS),
        title="City Vitals 城市生命体征", update_title=None, serve_locally=True,
        suppress_callback_exceptions=True,  # each page's callbacks name ids only that page has
    )
    app.index_string = app.index_string.replace("{%css%}", "{%css%}\n<style>" + css_variables() + "</style>")
    app.layout = html.Div(id=ids.ROOT, className="app", children=[
        dcc.Interval(id=ids.INTERVAL, interval=int(refresh_s * 1000)),
        dcc.Interval(id=ids.KIOSK_TICK, interval=KIOSK_TICK_MS, disabled=True),
        dcc.Store(id=ids.KIOSK_STATE),
        dcc.Store(id=ids.LANG, storage_type="local"),  # the language chosen, remembered by this browser
        html.Div(id=ids.CONN_LOST, className="conn-lost hidden"),
        dash.page_container,
    ])
    return app
