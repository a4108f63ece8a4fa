"""Reads the dashboard makes beyond the store's plain ones (cached where the data rarely changes)."""

from __future__ import annotations

import redis

from cityvitals import store

_definitions: dict[str, tuple[str, dict[str, dict]]] = {}


def definitions(client: redis.Redis) -> dict[str, dict]:
    """Definitions of the live catalog, re-read only when its version changes."""
    version = store.read_catalog_version(client)
    cached = _definitions.get("live")
    if cached is None or cached[0] != version:
        _definitions["live"] = (version, store.read_definitions(client))
    return _definitions["live"][1]


def indicator_names(defs: dict[str, dict], indicator_id: str) -> tuple[str, str]:
    """Chinese and English names of an indicator in ``defs`` (read once per callback), or its id twice."""
    d = defs.get(indicator_id)
    return (d["name"]["zh"], d["name"]["en"]) if d else (indicator_id, indicator_id)
