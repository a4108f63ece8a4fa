"""Start the simulated city in a process: its samples, and its work orders through the pipeline."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.registry import Adapter, FeedHost
from feeds.scheduling import schedule
from feeds.simulator.city import SimulatedCity
from feeds.simulator.config import SimulatorFeedConfig
from feeds.simulator.feed import SimulatorFeed
from feeds.simulator.orders import simulated_orders_feed

ORDERS_DELAY_S = 15.0  # the simulated orders' first round (a week of events) after the city's


def start_simulator(host: FeedHost, cfg: SimulatorFeedConfig, scheduler: BackgroundScheduler) -> SimulatorFeed:
    """Schedule the simulated city feed (first round at once) and its work orders through the pipeline.

    The orders' first round loads a week of events (seconds of CPU): it starts a little later, so
    that a fresh start shows the live city first.
    """
    ingestor = Ingestor(host.client, cfg.name, registry(), set(host.tree.ids("grid")), simulated=True)
    feed = SimulatorFeed(SimulatedCity(host.tree, registry(), seed=cfg.seed), ingestor, cfg.interval_s)
    orders = simulated_orders_feed(host.client, host.tree, f"{cfg.name}-orders", cfg.seed, cfg.interval_s)
    schedule(feed, scheduler)
    schedule(orders, scheduler, delay_s=ORDERS_DELAY_S)
    return feed


ADAPTER = Adapter(SimulatorFeedConfig, start_simulator)
