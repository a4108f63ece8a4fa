"""One indicator in one area (``/indicator/<id>?area=``): why its state, history, log, definition."""

import dash

from dashboard import context, detail

dash.register_page(__name__, path_template="/indicator/<indicator_id>", title="City Vitals · indicator")


def layout(indicator_id: str = "", area: str | None = None, **query: str):
    """The detail page; the district when no area is given; ``?range=`` sets the history's range."""
    return detail.layout(indicator_id, area or context.get().tree.root.id, query)
