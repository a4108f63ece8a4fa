"""The simulator as a feed: a coordinator that sends the simulated city's samples."""

from __future__ import annotations

from typing import Any

from cityvitals import store
from feeds.coordinator import Coordinator
from feeds.ingest import Ingestor
from feeds.simulator.city import SimulatedCity
from feeds.simulator.scenarios import SCENARIOS, ActiveScenario

FEED_NAME = "simulator"


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
        client = self.ingestor.client
        active = []
        for raw in store.read_scenarios(client):
            running = ActiveScenario(raw["scenario"], raw["area"], float(raw["start"]), float(raw["minutes"]))
            if running.ended(now):
                store.stop_scenario(client, running.scenario, running.area)
            elif running.scenario in SCENARIOS and running.area in self.city.tree:
                active.append(running)
        return active
