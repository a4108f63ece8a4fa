"""Counts over rolling windows from simulated events: an event enters its window once and leaves it once.

A count metric ("fires in the last 24 h") is the number of its events inside the window that ends
now. Events are drawn per (metric, hour) from a seed, each with its own time, so a window's count
is a pure function of the time: it moves only when an event enters or leaves, never flickers, and
the same seed gives the same city whichever minute is asked first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

HOUR = 3600.0


@dataclass(frozen=True)
class Events:
    """Events in time order: when each happened and in which grid (an index)."""

    ts: np.ndarray
    grid: np.ndarray

    def count(self, start: float, end: float, grids: int) -> np.ndarray:
        """Events per grid with ``start < ts <= end``."""
        lo, hi = np.searchsorted(self.ts, [start, end], side="right")
        return np.bincount(self.grid[lo:hi], minlength=grids)

    def thin(self, p: float, rng: np.random.Generator) -> Events:
        """Each event kept with probability ``p`` (the share of them that are of a kind)."""
        keep = rng.random(self.ts.size) < p
        return Events(self.ts[keep], self.grid[keep])


def poisson_events(rate: np.ndarray, start: float, span: float, rng: np.random.Generator) -> Events:
    """Events of a Poisson process with ``rate`` per grid over ``(start, start + span]``, times uniform."""
    grid = np.repeat(np.arange(rate.size), rng.poisson(np.maximum(rate, 0.0)))
    ts = start + rng.uniform(0.0, span, grid.size)
    order = np.argsort(ts, kind="stable")
    return Events(ts[order], grid[order])


def merge(parts: list[Events]) -> Events:
    """Events of several sources in one time order."""
    ts = np.concatenate([p.ts for p in parts])
    order = np.argsort(ts, kind="stable")
    return Events(ts[order], np.concatenate([p.grid for p in parts])[order])


class Window:
    """The rolling count of one metric over ``hours``, from the events ``draw(slot)`` gives for each slot.

    A slot is ``slot_h`` hours (a divisor of ``hours``): an hour for windows up to a week, a day for
    longer ones. Slots wholly inside the window are summed once per slot and kept; only the two
    slots the window's edges cut are counted event by event.
    """

    def __init__(self, hours: int, grids: int, draw: Callable[[int], Events], slot_h: int = 1) -> None:
        self.hours, self.grids, self.draw, self.slot_s = hours, grids, draw, slot_h * HOUR
        self.slots_in = hours // slot_h
        self._slots: dict[int, tuple[Events, np.ndarray]] = {}  # slot -> its events and their count per grid
        self._inner: tuple[int, np.ndarray] | None = None  # (slot of "now", sum of the slots wholly inside)

    def slot(self, index: int) -> tuple[Events, np.ndarray]:
        """The events of one slot and their count per grid (drawn once, kept while in the window)."""
        if index not in self._slots:
            events = self.draw(index)
            self._slots[index] = (events, np.bincount(events.grid, minlength=self.grids))
        return self._slots[index]

    def count(self, now: float) -> np.ndarray:
        """Events per grid in ``(now - hours, now]``."""
        last = int(now // self.slot_s)
        first = last - self.slots_in  # the window starts inside this slot
        if self._inner is None or self._inner[0] != last:
            for old in [k for k in self._slots if not first <= k <= last]:
                del self._slots[old]
            inner = np.zeros(self.grids, dtype=np.int64)
            for k in range(first + 1, last):
                inner += self.slot(k)[1]
            self._inner = (last, inner)
        start = now - self.hours * HOUR
        return (self._inner[1] + self.slot(first)[0].count(start, np.inf, self.grids)
                + self.slot(last)[0].count(-np.inf, now, self.grids))
