"""The admin page: scenarios, threshold profiles, the catalog check, feeds, ingest tokens, the audit log."""

import dash

from dashboard import admin, admin_actions  # noqa: F401 - admin_actions registers the buttons' callbacks

dash.register_page(__name__, path="/admin", title="City Vitals · admin")


def layout(**_query: str):
    """The admin page (the controls for admins only)."""
    return admin.layout()
