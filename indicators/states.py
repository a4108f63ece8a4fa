"""Indicator states: an ordered enum, so "worst of" is a max."""

from __future__ import annotations

from enum import IntEnum


class State(IntEnum):
    """State of one indicator in one area; the order is severity for rolling up worst-of.

    STALE ranks above NORMAL: missing data must never hide behind a healthy colour.
    """

    NORMAL = 0
    STALE = 1
    YELLOW = 2
    RED = 3

    @property
    def label(self) -> str:
        """Lower-case name used in Redis records, CSS classes and the API."""
        return self.name.lower()


# Score of each state in the health index (see indicators/health.py); STALE is excluded there.
STATE_SCORE = {State.NORMAL: 1.0, State.YELLOW: 0.6, State.RED: 0.2}
