"""Every indicator of the area given by ``?area=`` (the district by default) in one table."""

import dash

from dashboard import context, indicator_table

dash.register_page(__name__, path="/indicators", title="City Vitals · indicators")


def layout(area: str | None = None, **query: str):
    """The all-indicators page; ``?range=`` sets the trends' range."""
    return indicator_table.layout(area or context.get().tree.root.id, query)
