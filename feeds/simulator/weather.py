"""Rain over the simulated district: episodes that cross it as a front, and what the rain sets off.

Each local day may bring one rain episode (as often as Nanjing has rain days in that month). An
episode has a daily total drawn from a heavy-tailed gamma law around the month's mean per rain
day, a length, and a front that crosses the district in a seeded direction at ``FRONT_KMH``: a grid
downwind gets the rain later. Intensity is a smooth bump over the episode, varied across the
district. Rain then runs down the chain with lags: roads pond once the last hour's rain exceeds
what drains take (``DRAIN_MM``, 20 minutes later), sewers fill, traffic slows, and an hour later
the 12345 hotline takes calls about it (``feeds/simulator/orders.py``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import shapely

from cityvitals.areas import AreaTree
from cityvitals.areas.model import KM_PER_DEGREE
from feeds.simulator.seasons import RAIN_DAYS, RAIN_MM

SLOT_S = 600.0  # rain is resolved in 10-minute slots: a rainfall total moves at most every 10 minutes
FRONT_KMH = 30.0
DRAIN_MM = 18.0  # rain per hour the drains take before roads pond
PONDING_CM_PER_MM = 1.0  # depth per mm/h beyond the drains
POND_LAG_S = 1200.0
SHAPE = 0.8  # gamma shape of a rain day's total: many light days, a few downpours


class Weather:
    """Rain per grid over time, deterministic for a seed."""

    def __init__(self, tree: AreaTree, seed: int = 7, tz: str = "Asia/Shanghai") -> None:
        self.seed, self.tz = seed, ZoneInfo(tz)
        centroids = shapely.centroid(np.array([tree[g].geometry for g in tree.ids("grid")], dtype=object))
        lon, lat = shapely.get_x(centroids), shapely.get_y(centroids)
        self.xy = np.column_stack([(lon - lon.mean()) * KM_PER_DEGREE * np.cos(np.radians(lat.mean())),
                                   (lat - lat.mean()) * KM_PER_DEGREE])
        self._rate = lru_cache(maxsize=24 * 6 + 12)(self._slot_rate)

    def episode(self, day: datetime) -> tuple[float, float, float, np.ndarray] | None:
        """The rain episode of a local day: start (Unix s), hours, peak mm/h, per-grid factor; None if dry."""
        rng = np.random.default_rng([self.seed, 0x7261696E, day.toordinal()])
        month = day.month - 1
        wet, total, hours = rng.random(), rng.gamma(SHAPE, RAIN_MM[month] / RAIN_DAYS[month] / SHAPE), \
            rng.lognormal(np.log(4.0), 0.5)
        start = day.timestamp() + rng.uniform(0, 86400)
        angle, wavelength, phase = rng.uniform(0, 2 * np.pi), rng.uniform(15, 40), rng.uniform(0, 2 * np.pi)
        if wet >= RAIN_DAYS[month] / 30.4:
            return None
        direction = np.array([np.cos(angle), np.sin(angle)])
        along = self.xy @ direction
        lag_h = (along - along.min()) / FRONT_KMH
        # Cells are uneven: some grids get half again as much, some half as much.
        factor = 1.0 + 0.5 * np.sin(2 * np.pi * (self.xy @ direction[::-1]) / wavelength + phase)
        peak = total / (hours * 2 / np.pi)  # a half-sine bump over ``hours`` holds ``total`` at its peak
        return start, hours, peak, np.column_stack([lag_h, factor])

    def rate(self, ts: float) -> np.ndarray:
        """Rain intensity per grid (mm/h) in the 10-minute slot holding ``ts``."""
        return self._rate(int(ts // SLOT_S))

    def _slot_rate(self, slot: int) -> np.ndarray:
        mid = (slot + 0.5) * SLOT_S
        local = datetime.fromtimestamp(mid, self.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        out = np.zeros(len(self.xy))
        for day in (local - timedelta(days=1), local):  # an episode may run past midnight
            ep = self.episode(day)
            if ep is None:
                continue
            start, hours, peak, grid = ep
            x = ((mid - start) / 3600.0 - grid[:, 0]) / hours
            out += np.where((x > 0) & (x < 1), peak * grid[:, 1] * np.sin(np.pi * np.clip(x, 0, 1)), 0.0)
        return out

    def rainfall(self, now: float, hours: float) -> np.ndarray:
        """Rain per grid (mm) over the ``hours`` before ``now``, slot by slot."""
        last = int(now // SLOT_S)
        slots = range(last - int(hours * 3600 / SLOT_S) + 1, last + 1)
        return sum((self._rate(s) for s in slots), np.zeros(len(self.xy))) * SLOT_S / 3600.0

    def ponding(self, now: float) -> np.ndarray:
        """Water on the roads per grid (cm): the last hour's rain beyond the drains, ``POND_LAG_S`` later."""
        return np.maximum(self.rainfall(now - POND_LAG_S, 1.0) - DRAIN_MM, 0.0) * PONDING_CM_PER_MM
