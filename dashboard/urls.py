"""Links to areas and indicators: ids of any characters (spaces, CJK, slashes) travel percent-encoded.

Dash hands path variables over as the browser sent them (still encoded) and query values decoded,
so links are built here, and the area page decodes its path variable once.
"""

from __future__ import annotations

from urllib.parse import quote, unquote


def quoted(text: str) -> str:
    """Return ``text`` percent-encoded for one path segment or query value (``/`` included)."""
    return quote(text, safe="")


def area_path(area_id: str) -> str:
    """Return the path of an area's overview."""
    return f"/area/{quoted(area_id)}"


def area_query(area_id: str) -> str:
    """Return the query string that keeps the area in view when moving between pages."""
    return f"?area={quoted(area_id)}"


def indicator_path(indicator: str, area_id: str) -> str:
    """Return the path and query of one indicator's page in one area."""
    return f"/indicator/{quoted(indicator)}{area_query(area_id)}"


def area_from_path(segment: str) -> str:
    """Return the area id of an ``/area/<id>`` path segment as the browser sent it."""
    return unquote(segment)
