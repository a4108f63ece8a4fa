"""Pure, vectorised state logic: thresholds to severity, hysteresis and minimum duration.

Every direction is expressed as an allowed range per state: ``higher_is_worse`` has only
upper limits, ``lower_is_worse`` only lower limits, ``band`` both. A value *at* a limit is
already in the warning state. Arrays are (indicators x areas); per-indicator settings are
(indicators x 1) columns so they broadcast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indicators.states import State

NO_PENDING = -1


@dataclass
class Limits:
    """Yellow and red limits for every (indicator, area) of one level."""

    yellow_low: np.ndarray
    yellow_high: np.ndarray
    red_low: np.ndarray
    red_high: np.ndarray
    source: np.ndarray  # int codes into the rule labels ("default", "override 2: level=street", ...)


def severity(values: np.ndarray, lim: Limits, shift: np.ndarray | float = 0.0) -> np.ndarray:
    """NORMAL/YELLOW/RED per cell; ``shift`` narrows the allowed ranges (for hysteresis)."""
    with np.errstate(invalid="ignore"):
        red = (values <= lim.red_low + shift) | (values >= lim.red_high - shift)
        yellow = (values <= lim.yellow_low + shift) | (values >= lim.yellow_high - shift)
    # int8 all the way: at province scale int64 temporaries would cost more than the comparisons
    return np.where(red, np.int8(State.RED), yellow.view(np.int8) * np.int8(State.YELLOW))


@dataclass
class Track:
    """States of all indicators across the areas of one level, carried from tick to tick."""

    state: np.ndarray
    since: np.ndarray
    pending: np.ndarray
    pending_since: np.ndarray
    known: np.ndarray  # judged at least once since this engine started (else the state is only "not yet known")

    @classmethod
    def new(cls, shape: tuple[int, int], now: float) -> Track:
        """Start STALE everywhere: nothing is known until data arrives."""
        return cls(
            state=np.full(shape, State.STALE, dtype=np.int8),
            since=np.full(shape, now),
            pending=np.full(shape, NO_PENDING, dtype=np.int8),
            pending_since=np.full(shape, now),
            known=np.zeros(shape, dtype=bool),
        )


def wanted(values: np.ndarray, fresh: np.ndarray, prev: np.ndarray, lim: Limits,
           hysteresis: np.ndarray) -> np.ndarray:
    """Return the state the data asks for now, before the minimum-duration rule.

    A warning relaxes only once the value has cleared its limit by ``hysteresis``.
    """
    plain = severity(values, lim)
    sticky = severity(values, lim, shift=hysteresis)
    relaxing = (plain < prev) & (prev >= State.YELLOW)
    held = np.where(relaxing, np.maximum(plain, np.minimum(prev, sticky)), plain)
    return np.where(fresh, held, State.STALE).astype(np.int8)


def advance(track: Track, want: np.ndarray, now: float, min_duration: np.ndarray) -> np.ndarray:
    """Move ``track`` toward ``want``; returns the mask of cells whose state changed.

    A new state must be asked for on every tick for ``min_duration`` seconds before it is
    taken; going stale or leaving stale is immediate (missing data is a fact, not a trend).
    """
    differs = want != track.state
    new_pending = differs & (want != track.pending)
    track.pending_since = np.where(new_pending, now, track.pending_since)
    immediate = (want == State.STALE) | (track.state == State.STALE) | (min_duration <= 0)
    ripe = differs & (immediate | (now - track.pending_since >= min_duration))
    track.state = np.where(ripe, want, track.state).astype(np.int8)
    track.since = np.where(ripe, now, track.since)
    track.pending = np.where(differs & ~ripe, want, NO_PENDING).astype(np.int8)
    track.known[...] = True
    return ripe
