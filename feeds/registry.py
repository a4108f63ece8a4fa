"""Feed adapters by ``type``: each adapter package declares the model of its entry and how to start it.

A built-in adapter is a package under ``feeds/`` whose ``adapter`` module holds ``ADAPTER``; it is
listed in :data:`BUILTIN`. An adapter from elsewhere calls :func:`register` before the feeds file is
read. The feeds file (:mod:`feeds.config`) and the worker (:mod:`feeds.worker`) know the types only
from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from typing import Any, Protocol, get_args

import redis
from apscheduler.schedulers.background import BackgroundScheduler
from pydantic import BaseModel, ConfigDict

from cityvitals.areas import AreaTree

# in this order a feeds file's error for an unknown type lists the known ones
BUILTIN = ("feeds.simulator.adapter", "feeds.mqtt.adapter", "feeds.replay.adapter", "feeds.workorders.adapter",
           "feeds.polling.adapter")
NAME_PATTERN = r"^[a-z][a-z0-9_-]{0,39}$"  # a feed's name: in Redis keys, lock names and log lines


class FeedConfig(BaseModel):
    """One feed's entry in the feeds file; unknown keys are errors, so a typo is never silently ignored.

    A subclass narrows ``type`` to its one ``Literal`` value and gives ``name`` its pattern and default.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    name: str


class FeedHost(Protocol):
    """What a feed gets from the process starting it: the store's client and the areas."""

    client: redis.Redis
    tree: AreaTree


class Running(Protocol):
    """A started feed; ``stop`` ends what the scheduler does not (a broker session, a replay thread)."""

    def stop(self) -> None:
        """Stop after the work in progress."""


StartFn = Callable[[FeedHost, Any, BackgroundScheduler], Running]


@dataclass(frozen=True)
class Adapter:
    """A feed type: the model of its entries and the function that starts one in a feed worker."""

    config: type[FeedConfig]
    start: StartFn  # (host, the entry, the worker's scheduler) -> the running feed

    @property
    def type(self) -> str:
        """The ``type:`` value of its entries (the one value of its config's ``type`` Literal)."""
        (value,) = get_args(self.config.model_fields["type"].annotation)
        return value


_REGISTERED: dict[str, Adapter] = {}


@cache
def _builtin() -> dict[str, Adapter]:
    # imported on first use: the adapter modules import this one
    found = (import_module(module).ADAPTER for module in BUILTIN)
    return {a.type: a for a in found}


def adapters() -> dict[str, Adapter]:
    """Every known adapter by type: the built-in ones, then those registered."""
    return {**_builtin(), **_REGISTERED}


def register(adapter: Adapter) -> Adapter:
    """Make a feed type known to the feeds file and the worker; a type already known is a ValueError."""
    if adapter.type in adapters():
        raise ValueError(f"feed type {adapter.type!r} is registered already")
    _REGISTERED[adapter.type] = adapter
    return adapter
