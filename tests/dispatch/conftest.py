"""Fixtures of the dispatch tests: the demo routing table, a clock the test moves, real SQL."""

from __future__ import annotations

import io

import pytest
from PIL import Image

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


def png(size: tuple[int, int] = (64, 48)) -> bytes:
    """A small real PNG image."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def ctx(sqlite_engine, routing, clock, tmp_path) -> DispatchContext:
    """A dispatch context on a fresh SQLite database, recording what it tells listeners."""
    told: list = []
    context = DispatchContext(sqlite_engine, routing, clock, [lambda task, event, _history: told.append((task, event))],
                              photos=tmp_path / "photos")
    context.told = told
    return context
