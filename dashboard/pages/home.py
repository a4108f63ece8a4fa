"""The start page: the overview of the whole district."""

import dash

from dashboard import context, map_view, overview

dash.register_page(__name__, path="/", title="City Vitals")


def layout(by: str = map_view.WORST, **_query: str):
    """The overview of the root area."""
    return overview.layout(context.get().tree.root.id, by)
