"""Reads the dashboard makes beyond the store's plain ones (cached where the data rarely changes)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

import redis

from cityvitals import store
from dashboard import context

T = TypeVar("T")
_definitions: dict[str, tuple[str, dict[str, dict]]] = {}


def definitions(client: redis.Redis, version: str | None = None) -> dict[str, dict]:
    """Definitions of the live catalog, re-read only when its version changes (``version``: already read)."""
    version = store.read_catalog_version(client) if version is None else version or ""
    cached = _definitions.get("live")
    if cached is None or cached[0] != version:
        _definitions["live"] = (version, store.read_definitions(client))
    return _definitions["live"][1]


def indicator_names(defs: dict[str, dict], indicator_id: str) -> tuple[str, str]:
    """Chinese and English names of an indicator in ``defs`` (read once per callback), or its id twice."""
    d = defs.get(indicator_id)
    return (d["name"]["zh"], d["name"]["en"]) if d else (indicator_id, indicator_id)


def per_write(meta: store.Meta, key: tuple[Hashable, ...], read: Callable[[], T]) -> T:
    """``read()`` of what ticks and acknowledgements write, done once per process until they write again.

    ``meta`` must be read before: the store counts those writes after making them (:attr:`store.Meta.stamp`),
    so what is read after it is at least that new. Fifty screens on one area between two ticks read and
    parse its ticker's 200 records and its map's 1,250 summaries once, not at every refresh. What the
    result holds is shared by every caller: not to be changed.
    """
    stamp = meta.stamp
    return read() if stamp is None else context.get().reads.get((stamp, *key), read)
