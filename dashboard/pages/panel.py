"""A thematic panel (party building, public safety, ...) for the area given by ``?area=``."""

import dash

from dashboard import context, panel

dash.register_page(__name__, path_template="/panel/<panel_id>", title="City Vitals · panel")


def layout(panel_id: str = "", area: str | None = None, **query: str):
    """The panel page; the district when no area is given; ``?range=`` sets the trends' range."""
    return panel.layout(panel_id, area or context.get().tree.root.id, query)
