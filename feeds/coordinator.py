"""Base for feeds that produce samples on a schedule: one fetch method, logging on change only."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from typing import Any

import redis

from cityvitals.outage import Outage
from feeds.ingest import Ingestor, IngestResult

log = logging.getLogger(__name__)


class FeedError(Exception):
    """A feed could not fetch; library errors are wrapped in this one type."""


class Coordinator(ABC):
    """A scheduled feed: ``fetch`` returns items, which go through the ingest path.

    It logs once when the feed starts failing and once when it recovers, not on every tick.
    """

    def __init__(self, name: str, interval_s: float, ingestor: Ingestor) -> None:
        self.name, self.interval_s, self.ingestor = name, interval_s, ingestor
        self.last_success: float | None = None
        self.outage = Outage(log)

    @abstractmethod
    def fetch(self, now: float) -> list[Any]:
        """Return the items of this round (dicts with metric, area, ts, value)."""

    def run_once(self, now: float | None = None) -> IngestResult | None:
        """Fetch and submit one round; never raises, so a scheduler keeps calling it."""
        now = time.time() if now is None else now
        try:
            result = self.ingestor.submit(self.fetch(now))
        except (FeedError, redis.RedisError, OSError) as exc:
            self.outage.failed("feed %s failing: %s", self.name, exc)
            return None
        self.outage.worked("feed %s recovered", self.name)
        self.last_success = now
        return result

    @property
    def failing(self) -> bool:
        """Whether the last round failed."""
        return self.outage.failing

    def stop(self) -> None:  # noqa: B027 (not abstract: most feeds have nothing to stop)
        """Nothing to stop: the scheduler fires the rounds, and a round in progress ends on its own."""
