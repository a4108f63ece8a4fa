"""Overview of any area, by its id in the URL (``?by=INDICATOR`` colours the map by that indicator)."""

import dash

from dashboard import map_view, overview
from dashboard.urls import area_from_path

dash.register_page(__name__, path_template="/area/<area_id>", title="City Vitals")


def layout(area_id: str = "", by: str = map_view.WORST, **_query: str):
    """The overview of ``area_id``."""
    return overview.layout(area_from_path(area_id), by)
