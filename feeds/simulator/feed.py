"""The simulator as a feed: a coordinator that sends the simulated city's samples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from cityvitals.connections import Connections
from cityvitals.leader import LedJob
from cityvitals.metrics import registry
from feeds.coordinator import Coordinator
from feeds.ingest import Ingestor
from feeds.simulator.city import SimulatedCity
from feeds.simulator.orders import simulated_orders_feed
from feeds.simulator.scenarios import ActiveScenario, active_scenarios

FEED_NAME = "simulator"
ORDERS_DELAY_S = 15.0  # the simulated orders' first round (a week of events) after the city's


class SimulatorFeed(Coordinator):
    """Send every modelled metric for every grid once per interval."""

    def __init__(self, city: SimulatedCity, ingestor: Ingestor, interval_s: float = 60.0) -> None:
        super().__init__(ingestor.feed, interval_s, ingestor)
        self.city = city

    def fetch(self, now: float) -> list[Any]:
        """The round's samples as plain items for the ingest path, with the scenarios asked for in Redis."""
        return [s._asdict() for s in self.city.samples(now, self.active_scenarios(now))]

    def active_scenarios(self, now: float) -> list[ActiveScenario]:
        """Scenarios running now; finished ones are removed from Redis, unknown ones ignored."""
        return active_scenarios(self.ingestor.client, self.city.tree, now)


def start_simulator(connections: Connections, scheduler: BackgroundScheduler, interval_s: float = 60.0,
                    seed: int = 7, name: str = FEED_NAME) -> SimulatorFeed:
    """Schedule the simulated city feed (first round at once) and its work orders through the pipeline.

    The orders' first round loads a week of events (seconds of CPU): it starts a little later, so
    that a fresh start shows the live city first.
    """
    client, tree = connections.client, connections.tree
    ingestor = Ingestor(client, name, registry(), set(tree.ids("grid")), simulated=True)
    feed = SimulatorFeed(SimulatedCity(tree, registry(), seed=seed), ingestor, interval_s)
    orders = simulated_orders_feed(client, tree, f"{name}-orders", seed, interval_s)
    for each, delay in ((feed, 0), (orders, ORDERS_DELAY_S)):
        job = LedJob(client, f"feed:{each.name}", interval_s, each.run_once)  # one process fires it
        scheduler.add_job(job, "interval", seconds=interval_s, id=f"feed-{each.name}", max_instances=1,
                          coalesce=True, next_run_time=datetime.now(UTC) + timedelta(seconds=delay))
    return feed
