"""Overview of any area, by its id in the URL."""

import dash

from dashboard import overview

dash.register_page(__name__, path_template="/area/<area_id>", title="City Vitals")


def layout(area_id: str = "", **_query: str):
    """The overview of ``area_id``."""
    return overview.layout(area_id)
