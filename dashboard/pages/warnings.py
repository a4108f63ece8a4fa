"""Warnings in and below the area given by ``?area=`` (the district by default)."""

import dash

from dashboard import context, warning_board

dash.register_page(__name__, path="/warnings", title="City Vitals · warnings")


def layout(area: str | None = None, **_query: str):
    """The warnings page."""
    return warning_board.layout(area or context.get().tree.root.id)
