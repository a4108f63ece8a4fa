"""Simulated work orders: a believable stream of events per grid, deterministic for a seed.

Each hour's orders are drawn from ``(seed, hour)`` with their whole lifecycle, so any time window's
events can be produced again without keeping anything: a round regenerates the hours whose orders
can still have steps to come and sends the steps that fall inside the window.

These orders are the demo city's only source of the work-order metrics (the pipeline's aggregates,
``feeds.workorders.aggregate.PRODUCED``, and :data:`THINNED`: the orders closed in the last week that
were reopened or first sent back, which the pipeline's events do not carry, so the simulation counts
them among its own closed orders and publishes them beside the aggregates). A scenario that raises
``hotline_orders_1h`` adds orders on top (drawn once per round from the round's window, kept in memory
for their later steps); its ``order_sign_minutes`` effect slows the signing of those orders.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import redis

from cityvitals import store
from cityvitals.areas import AreaTree
from cityvitals.metrics import registry
from feeds.coordinator import Coordinator
from feeds.ingest import Ingestor
from feeds.simulator.models import rhythm_at
from feeds.simulator.scenarios import ORDER_EFFECTS, SCENARIOS, ActiveScenario, active_scenarios, grids_under
from feeds.simulator.weather import Weather
from feeds.workorders.aggregate import DAY, HOUR, WEEK, grid_metrics, grids_below
from feeds.workorders.events import DEADLINES_H, RESOLUTIONS, STEPS
from feeds.workorders.pipeline import WorkOrderPipeline

# Orders per 1,000 residents per hour (before the hour-of-day rhythm) and that rhythm, per source: about
# 230 a day in all, as the seed district's joint-duty centre handled (34,594 in January-May), half of them
# 12345 calls.
RATES: dict[str, tuple[float, str]] = {"12345": (0.0108, "day"), "grid_app": (0.0053, "work"),
                                       "citymgmt": (0.0036, "day"), "petition": (0.0001, "day"),
                                       "110": (0.0018, "evening")}
RAIN_CALLS = 0.15  # more 12345 calls per cm of water on a grid's roads an hour before (blocked roads, flooded cellars)
STUCK = 0.0013  # orders that stay open until the lookback (the seed district closed 99.87%)
# Special grids have few residents: their orders come from patients, pupils, workers and shoppers.
CATEGORY_FACTOR = {"hospital": 8.0, "school": 1.6, "industrial_park": 1.6, "commercial": 1.3}
# Median minutes each step takes after the one before, and the lognormal spread.
STEP_MINUTES = {"dispatched": (4, 0.6), "signed": (10, 0.6), "handled": (14 * 60, 0.7),
                "verified": (30, 0.5), "closed": (15, 0.5)}
# Handling is quicker where deadlines are short (hours from receipt: 12345 72, grid_app 48, 24 for the rest).
HANDLING_FACTOR = {"12345": 1.0, "grid_app": 0.6, "citymgmt": 0.3, "petition": 3.0, "110": 0.2}
# Shares of the closed orders reopened (the problem was not solved) and first sent back as wrongly
# dispatched: each order draws both once, so these counts are the closed orders thinned (binomial), and the
# rates come out near 1.5% and 2% at district level, as a joint-duty centre that closes 99.87% would report.
THINNED: dict[str, tuple[str, float]] = {"orders_reopened_7d": ("reopened", 0.015),
                                         "orders_returned_7d": ("returned", 0.02)}
LOOKBACK = 9 * DAY  # no simulated order lives longer (lifecycles are clipped to this)
CHUNK, PAUSE_S = 2000, 0.01  # events per submit, and the pause after each


class SimulatedOrders:
    """Work orders of every grid, hour by hour, and those scenarios add."""

    def __init__(self, tree: AreaTree, seed: int = 7, tz: str = "Asia/Shanghai") -> None:
        self.tree = tree
        self.grids = np.array(tree.ids("grid"))
        factor = np.array([CATEGORY_FACTOR.get(tree[g].category or "", 1.0) for g in self.grids])
        self.weight = tree.population("grid") / 1000.0 * factor  # thousands of residents, or their equivalent
        self.seed, self.tz = seed, ZoneInfo(tz)
        self.weather = Weather(tree, seed, tz)
        self._hours: dict[int, pd.DataFrame] = {}  # drawn hours still inside the lookback
        self._extra: list[pd.DataFrame] = []  # orders scenarios added, kept for their later steps
        self._joined: tuple[tuple, pd.DataFrame | None] = ((), None)  # the last frame orders() joined, and its key

    def hour(self, slot: int) -> pd.DataFrame:
        """The orders received in hour ``slot`` (Unix hours), one row each with every step's time."""
        if slot not in self._hours:
            self._hours[slot] = self._draw(slot)
            for old in [s for s in self._hours if s < slot - LOOKBACK // HOUR - 1]:
                del self._hours[old]
        return self._hours[slot]

    def _rate(self, source: str, t: float) -> np.ndarray:
        """Expected orders of ``source`` per grid and hour at ``t``."""
        rate, rhythm = RATES[source]
        usual = rate * self.weight * rhythm_at(rhythm, datetime.fromtimestamp(t, self.tz), smooth=False)
        return usual * (1.0 + RAIN_CALLS * self.weather.ponding(t - HOUR)) if source == "12345" else usual

    def _draw(self, slot: int) -> pd.DataFrame:
        rng = np.random.default_rng([self.seed, slot])
        areas = [np.repeat(self.grids, rng.poisson(self._rate(source, slot * HOUR))) for source in RATES]
        order = [f"sim-{source}-{slot}-{i}" for source, a in zip(RATES, areas, strict=True) for i in range(a.size)]
        source = np.repeat(list(RATES), [a.size for a in areas])
        return _lifecycle(order, source, np.concatenate(areas), slot * HOUR + rng.uniform(0, HOUR, len(order)), rng)

    def surge(self, start: float, end: float, active: Sequence[ActiveScenario]) -> None:
        """Add the orders the active scenarios bring in ``(start, end]`` (hotline calls, slower signing)."""
        for running in active:
            k = running.intensity((start + end) / 2)
            effects = {e.metric: e for e in SCENARIOS[running.scenario].effects}
            if k <= 0 or ORDER_EFFECTS[0] not in effects:
                continue
            rng = np.random.default_rng([self.seed, int(start), int(running.start), *running.scenario.encode()])
            under = grids_under(self.tree, self.grids, running.area)
            calls = effects[ORDER_EFFECTS[0]]
            more = ((calls.mul - 1) * self._rate("12345", start) + calls.add) * k * (end - start) / HOUR
            area = np.repeat(self.grids[under], rng.poisson(more[under]))
            order = [f"sim-surge-{running.scenario}-{running.area}-{int(start)}-{i}" for i in range(area.size)]
            sign = effects.get(ORDER_EFFECTS[1])
            slower = 1 + (sign.mul - 1) * k if sign else 1.0
            self._extra.append(_lifecycle(order, np.full(area.size, "12345"), area,
                                          rng.uniform(start, end, area.size) + 1e-3, rng, slower))
        self._extra = [f for f in self._extra if len(f) and f["received"].max() > end - LOOKBACK]

    def orders(self, start: float, end: float, whole: bool = False) -> pd.DataFrame:
        """Every order whose lifecycle can have a step in ``(start, end]`` (with ``whole``: received in it)."""
        first = int(start // HOUR) if whole else int((start - LOOKBACK) // HOUR)
        key = (first, int(end // HOUR), len(self._extra), id(self._extra[-1]) if self._extra else 0)
        if self._joined[0] != key:  # a round asks for the same hours as the one before, mostly
            self._joined = (key, pd.concat([*(self.hour(s) for s in range(first, key[1] + 1)), *self._extra],
                                           ignore_index=True))
        return self._joined[1]

    def events(self, start: float, end: float, whole: bool = False) -> list[dict[str, Any]]:
        """Every event with ``start < ts <= end``, oldest first; with ``whole``, of orders received after start."""
        orders = self.orders(start, end, whole)
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

    def metrics(self, now: float) -> dict[str, np.ndarray]:
        """The pipeline's per-grid metrics at ``now`` from these orders, without Redis (for checks of the catalog)."""
        f = self.orders(now - LOOKBACK, now)
        f = f[f["received"] <= now].copy()
        for step in STEPS:
            f[step] = f[step].where(f[step] <= now)
        f["satisfied"] = f["satisfied"].astype(float)
        f["deadline"] = f["received"] + f["source"].map(DEADLINES_H).astype(float) * HOUR
        values = grid_metrics(f, list(self.grids), now)
        return {m: values[m].to_numpy() for m in values.columns} | self.thinned(now)

    def thinned(self, now: float) -> dict[str, np.ndarray]:
        """Per grid, the orders closed in the week before ``now`` that were reopened or sent back (:data:`THINNED`)."""
        f = self.orders(now - LOOKBACK, now)
        closed = (f["closed"] > now - WEEK) & (f["closed"] <= now)
        return {metric: f.loc[closed & f[flag], "area"].value_counts().reindex(self.grids, fill_value=0)
                .to_numpy(dtype=float) for metric, (flag, _) in THINNED.items()}


def _lifecycle(order: list[str], source: np.ndarray, area: np.ndarray, received: np.ndarray,
               rng: np.random.Generator, slower_sign: float = 1.0) -> pd.DataFrame:
    """Orders with their steps' times from ``received`` on, a rating and a resolution (numpy, one frame)."""
    n = len(order)
    columns: dict[str, Any] = {"order": order, "source": source, "area": area, "received": received}
    handling = np.fromiter(map(HANDLING_FACTOR.__getitem__, source), float, n)
    t = received
    for step, (median, sigma) in STEP_MINUTES.items():
        scale = handling if step == "handled" else slower_sign if step == "signed" else 1.0
        t = columns[step] = np.minimum(t + scale * rng.lognormal(np.log(median * 60), sigma, n), received + LOOKBACK)
    stuck = rng.random(n) < STUCK
    for step in ("handled", "verified", "closed"):
        columns[step] = np.where(stuck, received + LOOKBACK, columns[step])
    rated = rng.random(n) < 0.55
    columns["satisfied"] = np.where(rated, rng.random(n) < 0.965, None)
    columns["resolved"] = rng.choice(RESOLUTIONS, n, p=[0.72, 0.2, 0.08])
    for flag, p in THINNED.values():
        columns[flag] = rng.random(n) < p
    return pd.DataFrame(columns)


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
        self.orders.surge(self.sent_until, now, active_scenarios(self.pipeline.client, self.orders.tree, now))
        events = self.orders.events(self.sent_until, now, whole=backfill)
        for first in range(0, len(events), CHUNK):
            self.pipeline.submit(events[first : first + CHUNK])
            time.sleep(PAUSE_S)  # a backfill is a week of events: let the engine and pages in between
        self.sent_until = now
        thinned = [{"metric": metric, "area": area, "ts": now, "value": v}
                   for metric, column in self.orders.thinned(now).items()
                   for area, v in zip(self.orders.grids.tolist(), column.tolist(), strict=True)]
        return self.pipeline.aggregates(now) + thinned


def simulated_orders_feed(client: redis.Redis, tree: AreaTree, name: str, seed: int = 7,
                          interval_s: float = 60.0) -> SimulatedOrdersFeed:
    """The simulated city's work orders through a pipeline of their own, its health marked simulated."""
    ingestor = Ingestor(client, name, registry(), frozenset(tree.ids("grid")), simulated=True)
    pipeline = WorkOrderPipeline(ingestor, below=grids_below(tree))  # tasks of a street are counted too
    return SimulatedOrdersFeed(SimulatedOrders(tree, seed=seed), pipeline, interval_s)
