"""Results kept per process, the latest used last, each built once however many threads ask for it at once.

A compare page opened by several browsers in the same second, or the map pieces every thread of a new
gunicorn worker needs first, were built by each thread that asked before the first had finished (a
province's map: 0.14 s each, four threads a worker). Here the later threads wait for that build.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class Memo:
    """Up to ``size`` results by key; a key being built is built by one thread while the others asking wait."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()  # guards the two dicts, never held during a build
        self._building: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """The result kept under ``key``, else ``build()`` kept under it (by one thread at a time per key)."""
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                if key in self._kept:  # built while this thread waited
                    return self._kept[key]
            try:
                value = build()
            except BaseException:
                with self._lock:
                    self._building.pop(key, None)
                raise
            with self._lock:  # kept before the key stops being built: a thread coming now finds it
                self._kept[key] = value
                self._building.pop(key, None)
                while len(self._kept) > self.size:
                    self._kept.popitem(last=False)
        return value

    def peek(self, key: Hashable) -> Any | None:
        """The result kept under ``key`` if there is one, without building it."""
        with self._lock:
            return self._kept.get(key)

    def clear(self) -> None:
        """Forget every result (a test's new process)."""
        with self._lock:
            self._kept.clear()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._kept
