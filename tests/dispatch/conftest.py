"""Fixtures of the dispatch tests: the demo routing table, a clock the test moves, real SQL."""

from __future__ import annotations

import pytest

from cityvitals.dispatch.commands import Actor, DispatchContext
from cityvitals.dispatch.routing import DEFAULT_ROUTING, read_routing

NOW = 1_767_000_000.0  # 2025-12-29 09:20 UTC
GRID = "pukou.jiangpu.c01.g01"
HEAD, COMMITTEE, SUBCENTRE, CENTRE = (f"{GRID}/head", "pukou.jiangpu.c01/committee", "pukou.jiangpu/subcentre",
                                      "pukou/centre")
ANALYST = Actor("lin", "analyst")
HEAD_PERSON = Actor("wang", "responder", frozenset({HEAD}))
SUB_PERSON = Actor("zhao", "responder", frozenset({SUBCENTRE}))
COMMITTEE_PERSON = Actor("chen", "responder", frozenset({COMMITTEE}))


class Clock:
    """A clock the test sets and moves forward."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> float:
        """Move forward ``seconds``; the new time."""
        self.now += seconds
        return self.now


@pytest.fixture(scope="session")
def routing(demo_tree):
    """The shipped routing table over the demo district."""
    return read_routing(DEFAULT_ROUTING, demo_tree)


@pytest.fixture
def clock() -> Clock:
    """A test clock at NOW."""
    return Clock()


@pytest.fixture
def ctx(sqlite_engine, routing, clock) -> DispatchContext:
    """A dispatch context on a fresh SQLite database, recording what it tells listeners."""
    told: list = []
    context = DispatchContext(sqlite_engine, routing, clock, [lambda task, event: told.append((task, event))])
    context.told = told
    return context
