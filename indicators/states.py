"""Indicator states: an ordered enum, so "worst of" is a max."""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class State(IntEnum):
    """State of one indicator in one area; the order is severity for rolling up worst-of.

    STALE ranks above NORMAL: missing data must never hide behind a healthy colour. NOT_JUDGED (the
    indicator means nothing at this level, or no source delivers it in this area) and INSUFFICIENT
    (too few events or too small a denominator to tell) rank below NORMAL: they are no judgement,
    never green, never a warning.
    """

    NOT_JUDGED = 0
    INSUFFICIENT = 1
    NORMAL = 2
    STALE = 3
    YELLOW = 4
    RED = 5

    @property
    def label(self) -> str:
        """Lower-case name used in Redis records, CSS classes and the API."""
        return self.name.lower()


class Code:
    """Each state as a numpy int8, for array expressions.

    numpy probes an IntEnum operand for the array protocols on every operation: 5 to 20 µs a
    comparison, more than comparing a whole (70 x 502) matrix of int8 with a plain number takes.
    """

    NOT_JUDGED = np.int8(State.NOT_JUDGED)
    INSUFFICIENT = np.int8(State.INSUFFICIENT)
    NORMAL = np.int8(State.NORMAL)
    STALE = np.int8(State.STALE)
    YELLOW = np.int8(State.YELLOW)
    RED = np.int8(State.RED)
    ALL = tuple(np.int8(s) for s in State)  # every state, in order


# Score of each state in the health index (see indicators/health.py); STALE keeps its last judged
# state's score there, and NOT_JUDGED and INSUFFICIENT are left out.
STATE_SCORE = {State.NORMAL: 1.0, State.YELLOW: 0.6, State.RED: 0.2}
