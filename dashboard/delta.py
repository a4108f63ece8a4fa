"""Send only what changed: a refresh builds and sends an output again only when the data behind it moved.

The browser keeps, in a store the callback both reads and writes, a digest of the data behind each
output it shows. Digests, not the data: the store travels with every request. Any gunicorn worker
can answer, since what the browser shows comes with the request rather than living in a worker.

A part built once is kept (as the plain JSON form Dash sends) for the next browser that needs the
same data: a wall of screens on one area, or every client of a busy area, costs one build per change.
That holds because a part's build depends on its data alone; its times are ticked by the browser.
Pieces of a page that never change in a process (an area's header, its map's shapes) are kept the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import redis
from dash import no_update
from dash._utils import to_json
from dash.development.base_component import Component

from cityvitals import store
from dashboard.memo import Memo

SHARED_S = 3600.0  # how long a part stays in Redis: its key moves with the data, this only frees memory
BUILD_WAIT_S = 5.0  # how long a worker waits for another's build of a part before building it itself
KEPT = 1024  # parts and pieces kept per process: a few for each area being watched
_kept = Memo(KEPT)  # key -> plain form, shared by gunicorn threads


class Delta:
    """The outputs of one refresh, each sent only if its data differs from what the browser shows."""

    def __init__(self, shown: dict[str, str] | None) -> None:
        self.shown, self.digests = shown or {}, {}

    def part(self, name: str, data: Any, build: Callable[[], Any], keep: bool = True,
             share: redis.Redis | None = None) -> Any:
        """``build()`` if ``data`` (anything with a faithful repr) changed since the browser got it, else no update.

        ``keep``: the part is the same for the same ``data`` and ``name`` (not a ``Patch``), so a built one is reused;
        ``share``: and kept in that Redis for the other processes (:func:`shared`: for parts costly to build).
        """
        if not self.changed(name, data):
            return no_update
        if share is not None:
            return shared(share, (name, self.digests[name]), build)
        return kept((name, self.digests[name]), build) if keep else build()

    def changed(self, name: str, data: Any) -> bool:
        """Whether ``data`` differs from what the browser has under ``name`` (its digest is kept either way)."""
        self.digests[name] = hashlib.blake2b(repr(data).encode(), digest_size=8).hexdigest()
        return self.shown.get(name) != self.digests[name]

    def forget(self) -> None:
        """Treat the browser as showing nothing: every later part is sent (its page was rebuilt around them)."""
        self.shown = {}

    def parts(self, name: str, data: Any, build: Callable[[], list], count: int) -> list:
        """Like :meth:`part` for ``count`` outputs built together from the same data (``build`` returns them)."""
        got = self.part(name, data, build)
        return [no_update] * count if got is no_update else list(got)

    def store(self) -> dict[str, str] | Any:
        """The digests to keep in the browser (no update when every part was unchanged)."""
        return no_update if self.digests == self.shown else self.digests


def kept(key: tuple, build: Callable[[], Any]) -> Any:
    """The plain form of ``build()``, built once per ``key`` in this process while it is among the latest used."""
    return _kept.get(key, lambda: plain(build()))


def shared(client: redis.Redis, key: tuple, build: Callable[[], Any], ttl_s: float = SHARED_S) -> Any:
    """:func:`kept`, and across processes: the first gunicorn worker to build ``key`` keeps its JSON in Redis.

    For parts that are costly and asked of every worker (a compare page is 0.03-0.1 s of a worker's CPU); the
    key must name everything the part is built from (the archive's newest step too), so none is ever stale.
    """
    def fetch() -> Any:
        digest = hashlib.blake2b(repr(key).encode(), digest_size=16).hexdigest()
        body = store.read_built(client, digest)
        if body is None and not store.claim_build(client, digest, BUILD_WAIT_S):  # another worker is building it
            body = store.wait_built(client, digest, BUILD_WAIT_S)  # none after that: it died, build it here
        if body is not None:
            return json.loads(body)
        built = plain(build())
        store.write_built(client, digest, to_json(built), ttl_s)
        return built

    return kept(key, fetch)


def plain(value: Any) -> Any:
    """Components as the JSON-ready dicts Dash sends for them (reused, they need no second conversion)."""
    if isinstance(value, Component):
        form = value.to_plotly_json()
        return form | {"props": {k: plain(v) for k, v in form["props"].items()}}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
