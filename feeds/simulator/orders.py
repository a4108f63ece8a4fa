"""Simulated work orders: a believable stream of events per grid, deterministic for a seed.

Each hour's orders are drawn from ``(seed, hour)`` with their whole lifecycle, so any time window's
events can be produced again without keeping anything: a round regenerates the hours whose orders
can still have steps to come and sends the steps that fall inside the window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from cityvitals import store
from cityvitals.areas import AreaTree
from feeds.coordinator import Coordinator
from feeds.simulator.models import RHYTHMS
from feeds.workorders.aggregate import DAY, HOUR
from feeds.workorders.events import RESOLUTIONS, STEPS
from feeds.workorders.pipeline import WorkOrderPipeline

# Orders per 1,000 residents per hour (before the hour-of-day rhythm) and that rhythm, per source.
RATES: dict[str, tuple[float, str]] = {"12345": (0.12, "day"), "grid_app": (0.06, "work"),
                                       "citymgmt": (0.04, "day"), "petition": (0.001, "day"), "110": (0.02, "evening")}
# Median minutes each step takes after the one before, and the lognormal spread.
STEP_MINUTES = {"dispatched": (4, 0.6), "signed": (10, 0.6), "handled": (14 * 60, 0.7),
                "verified": (30, 0.5), "closed": (15, 0.5)}
LOOKBACK = 9 * DAY  # no simulated order lives longer (lifecycles are clipped to this)


class SimulatedOrders:
    """Work orders of every grid, hour by hour."""

    def __init__(self, tree: AreaTree, seed: int = 7, tz: str = "Asia/Shanghai") -> None:
        self.grids = np.array(tree.ids("grid"))
        self.population_k = tree.population("grid") / 1000.0
        self.seed, self.tz = seed, ZoneInfo(tz)
        self._hours: dict[int, pd.DataFrame] = {}  # drawn hours still inside the lookback

    def hour(self, slot: int) -> pd.DataFrame:
        """The orders received in hour ``slot`` (Unix hours), one row each with every step's time."""
        if slot not in self._hours:
            self._hours[slot] = self._draw(slot)
            for old in [s for s in self._hours if s < slot - LOOKBACK // HOUR - 1]:
                del self._hours[old]
        return self._hours[slot]

    def _draw(self, slot: int) -> pd.DataFrame:
        rng = np.random.default_rng([self.seed, slot])
        local = datetime.fromtimestamp(slot * HOUR, self.tz)
        frames = []
        for source, (rate, rhythm) in RATES.items():
            shape, weekend = RHYTHMS[rhythm]
            mean = rate * self.population_k * shape[local.hour] * (weekend if local.weekday() >= 5 else 1.0)
            area = np.repeat(self.grids, rng.poisson(mean))
            frames.append(pd.DataFrame({"order": [f"sim-{source}-{slot}-{i}" for i in range(area.size)],
                                        "source": source, "area": area}))
        f = pd.concat(frames, ignore_index=True)
        t = slot * HOUR + rng.uniform(0, HOUR, len(f))
        f["received"] = t
        for step, (median, sigma) in STEP_MINUTES.items():
            t = np.minimum(t + rng.lognormal(np.log(median * 60), sigma, len(f)), f["received"] + LOOKBACK)
            f[step] = t
        rated = rng.random(len(f)) < 0.55
        f["satisfied"] = np.where(rated, rng.random(len(f)) < 0.965, None)
        f["resolved"] = rng.choice(RESOLUTIONS, len(f), p=[0.72, 0.2, 0.08])
        return f

    def events(self, start: float, end: float, whole: bool = False) -> list[dict[str, Any]]:
        """Every event with ``start < ts <= end``, oldest first; with ``whole``, of orders received after start."""
        first = int(start // HOUR) if whole else int((start - LOOKBACK) // HOUR)
        orders = pd.concat([self.hour(s) for s in range(first, int(end // HOUR) + 1)], ignore_index=True)
        if whole:
            orders = orders[orders["received"] > start]
        steps = orders.melt(id_vars=["order", "source", "area", "satisfied", "resolved"], value_vars=list(STEPS),
                            var_name="step", value_name="ts")
        steps = steps[(steps["ts"] > start) & (steps["ts"] <= end)]
        steps["rank"] = steps["step"].map({s: i for i, s in enumerate(STEPS)})
        steps = steps.sort_values(["ts", "rank"])
        closing = steps["step"] == "closed"  # rating and resolution come with the closing step
        keys = ("order", "source", "area", "step", "ts")
        out = [dict(zip(keys, row, strict=True)) for row in zip(*(steps[k].tolist() for k in keys), strict=True)]
        for event, close, sat, res in zip(out, closing, steps["satisfied"], steps["resolved"], strict=True):
            if close:
                event["resolved"] = res
                if sat is not None:
                    event["satisfied"] = bool(sat)
        return out


class SimulatedOrdersFeed(Coordinator):
    """Send the simulated orders' events through the pipeline each round, then publish its aggregates."""

    def __init__(self, orders: SimulatedOrders, pipeline: WorkOrderPipeline, interval_s: float = 60.0) -> None:
        super().__init__(pipeline.feed, interval_s, pipeline.ingestor)
        self.orders, self.pipeline = orders, pipeline
        self.sent_until: float | None = None

    def fetch(self, now: float) -> list[Any]:
        """Submit the events since the last round (a week and a day of them into an empty store)."""
        backfill = self.sent_until is None and not store.all_orders(self.pipeline.client)
        if self.sent_until is None:
            self.sent_until = now - 8 * DAY if backfill else now - self.interval_s
        self.pipeline.submit(self.orders.events(self.sent_until, now, whole=backfill))
        self.sent_until = now
        return self.pipeline.aggregates(now)
