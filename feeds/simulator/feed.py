"""The simulator as a feed: a coordinator that sends the simulated city's samples."""

from __future__ import annotations

from typing import Any

from feeds.coordinator import Coordinator
from feeds.ingest import Ingestor
from feeds.simulator.city import SimulatedCity
from feeds.simulator.scenarios import ActiveScenario, active_scenarios


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
