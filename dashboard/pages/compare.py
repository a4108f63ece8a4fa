"""Compare the children of ``?area=`` on one indicator (``/compare/<id>?area=&range=&pick=a,b``)."""

import dash

from dashboard import compare, context

dash.register_page(__name__, path_template="/compare/<indicator_id>", title="City Vitals · compare")


def layout(indicator_id: str = "", area: str | None = None, **query: str):
    """The compare page; the district's streets when no area is given."""
    return compare.layout(indicator_id, area or context.get().tree.root.id, query)
