"""Send only what changed: a refresh builds and sends an output again only when the data behind it moved.

The browser keeps, in a store the callback both reads and writes, a digest of the data behind each
output it shows. Digests, not the data: the store travels with every request. Any gunicorn worker
can answer, since what the browser shows comes with the request rather than living in a worker.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from dash import no_update


class Delta:
    """The outputs of one refresh, each sent only if its data differs from what the browser shows."""

    def __init__(self, shown: dict[str, str] | None) -> None:
        self.shown, self.digests = shown or {}, {}

    def part(self, name: str, data: Any, build: Callable[[], Any]) -> Any:
        """``build()`` if ``data`` (anything with a faithful repr) changed since the browser got it, else no update."""
        digest = hashlib.blake2b(repr(data).encode(), digest_size=8).hexdigest()
        self.digests[name] = digest
        return no_update if self.shown.get(name) == digest else build()

    def store(self) -> dict[str, str] | Any:
        """The digests to keep in the browser (no update when every part was unchanged)."""
        return no_update if self.digests == self.shown else self.digests
