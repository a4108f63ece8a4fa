"""The dispatch panel: the loop's figures today and the tasks, with the dispatching level's steps."""

import dash

from dashboard import dispatch_panel

dash.register_page(__name__, path="/dispatch", title="City Vitals · dispatch")


def layout(**_query: str):
    """The dispatch page."""
    return dispatch_panel.layout()
