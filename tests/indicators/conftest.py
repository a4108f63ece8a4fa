"""Helpers of the engine tests: five minutes of samples from two feeds on the tiny tree."""

from __future__ import annotations

from pathlib import Path

from cityvitals import store
from cityvitals.store import Sample
from tests.conftest import GRIDS

CATALOG = Path(__file__).parent / "fixtures" / "explain.yaml"
T0 = 1_800_000_000.0
GRID_IDS = list(GRIDS)
# Hotline orders per grid per minute. d.s.c1.g2 turns yellow (12 >= 10) and then hovers at 8-9:
# hysteresis (3) holds it yellow, but only if the restarted engine remembers it was yellow.
ORDERS = [[4, 12, 6, 1], [4, 9, 7, 1], [5, 8, 7, 2], [5, 8, 6, 2], [4, 8, 6, 1]]
LEVELS = [[2.0, 5.0, 8.0], [2.5, 5.0, 7.5], [3.0, 4.0, 7.0], [3.0, 4.0, 6.0], [2.0, 3.0, 5.0]]


def send(client, minute: int) -> int:
    """Append one minute of samples from two feeds; returns how many."""
    ts = T0 + 60 * minute
    orders = [Sample("hotline_orders_1h", g, ts, float(v)) for g, v in zip(GRID_IDS, ORDERS[minute], strict=True)]
    levels = [Sample("river_level", g, ts, v) for g, v in zip(GRID_IDS, LEVELS[minute], strict=False)]
    store.append_samples(client, "hotline", orders)
    store.append_samples(client, "gauges", levels)
    return len(orders) + len(levels)
