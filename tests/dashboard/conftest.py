"""Helpers for the dashboard's callback tests."""

from __future__ import annotations


def text(component) -> str:
    """All text under a Dash component (its plain form or the object), both languages, single-spaced."""
    return " ".join(_texts(component).split())


def _texts(component) -> str:
    if component is None:
        return ""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(_texts(c) for c in component)
    if isinstance(component, dict):
        return _texts(component.get("props", {}).get("children"))
    return _texts(getattr(component, "children", None))
