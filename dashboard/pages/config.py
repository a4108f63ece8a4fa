"""The live catalog's thresholds and the last reload's result."""

import dash

from dashboard import config_view

dash.register_page(__name__, path="/config", title="City Vitals · catalog")


def layout(**_query: str):
    """The configuration page."""
    return config_view.layout()
