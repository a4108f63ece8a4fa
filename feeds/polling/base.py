"""Pull an HTTP JSON API on a schedule: timeout, retries with backoff, declared field-to-metric mappings.

Retries and backoff are urllib3's (``Retry`` mounted on a requests session), not ours. Every library
error becomes a :class:`~feeds.coordinator.FeedError`, so the coordinator logs once when the feed starts
failing and once when it recovers; the health record says when the feed has been silent too long.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util.retry import Retry

from cityvitals import store
from feeds.coordinator import Coordinator, FeedError
from feeds.ingest import Ingestor, IngestResult

RETRY_STATUSES = (429, 500, 502, 503, 504)


@dataclass(frozen=True)
class HttpSettings:
    """How to reach the API."""

    url: str
    timeout_s: float = 10.0
    retries: int = 3
    backoff_s: float = 0.5  # urllib3 waits backoff_s * 2**(n-1) before the n-th retry
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class JsonMetric:
    """One metric read from a payload record: ``value_fn`` gets the record and returns the value."""

    metric: str
    value_fn: Callable[[Mapping[str, Any]], Any]


def http_session(settings: HttpSettings) -> requests.Session:
    """A session that retries failed GETs (connection errors and the statuses above) with backoff."""
    retry = Retry(total=settings.retries, backoff_factor=settings.backoff_s, status_forcelist=RETRY_STATUSES,
                  allowed_methods=frozenset({"GET"}), raise_on_status=True)
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.headers.update(dict(settings.headers))
    return session


def get_json(session: requests.Session, settings: HttpSettings) -> Any:
    """The decoded JSON body of one GET; every failure is a FeedError naming the URL."""
    try:
        response = session.get(settings.url, timeout=settings.timeout_s)
        response.raise_for_status()
        return response.json()
    except requests.RequestException as exc:  # connection, timeout, retries exhausted, HTTP status, bad JSON
        if _timed_out(exc):
            raise FeedError(f"{settings.url}: no answer within {settings.timeout_s:g} s") from None
        raise FeedError(f"{settings.url}: {exc}") from None


def _timed_out(exc: requests.RequestException) -> bool:
    # with retries mounted, requests reports a read timeout as a ConnectionError around urllib3's
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.Timeout) or isinstance(reason, Urllib3Timeout)


def _value(mapping: JsonMetric, record: Mapping[str, Any]) -> Any:
    try:
        return mapping.value_fn(record)
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        return f"unreadable: {type(exc).__name__} {exc}"  # the ingest check refuses and counts it


class JsonPollingFeed(Coordinator):
    """A polled JSON API; subclasses say where the records are and which area and time each has."""

    mappings: tuple[JsonMetric, ...] = ()

    def __init__(self, name: str, settings: HttpSettings, ingestor: Ingestor, interval_s: float = 60.0,
                 stale_after_s: float | None = None) -> None:
        super().__init__(name, interval_s, ingestor)
        self.settings, self.session = settings, http_session(settings)
        self.stale_after_s = 3 * interval_s if stale_after_s is None else stale_after_s

    def records(self, payload: Any) -> Iterable[Mapping[str, Any]]:
        """The records of a payload (the payload itself when it is a list)."""
        if not isinstance(payload, list):
            raise FeedError(f"{self.settings.url}: expected a JSON array, got {type(payload).__name__}")
        return payload

    def area_ts(self, record: Mapping[str, Any], now: float) -> tuple[Any, Any]:
        """The area and time of a record (``area`` and ``ts`` fields; the fetch time without ``ts``)."""
        return record.get("area"), record.get("ts", now)

    def fetch(self, now: float) -> list[Any]:
        """One item per mapped metric per record; unreadable fields become items the ingest check refuses."""
        items = []
        for record in self.records(get_json(self.session, self.settings)):
            if not isinstance(record, Mapping):
                items.append(record)  # refused by the ingest check with its type
                continue
            area, ts = self.area_ts(record, now)
            items += [{"metric": m.metric, "area": area, "ts": ts, "value": _value(m, record)} for m in self.mappings]
        return items

    def run_once(self, now: float | None = None) -> IngestResult | None:
        """Poll once, then publish whether the feed is failing and whether it has been silent too long."""
        now = self.ingestor.clock() if now is None else now
        result = super().run_once(now)
        health = self.ingestor.health
        health["failing"] = self.failing
        health["stale"] = self.last_success is None or now - self.last_success > self.stale_after_s
        try:
            store.write_feed_health(self.ingestor.client, self.name, health)
        except redis.RedisError:  # the round's own failure is already logged; the next round tries again
            pass
        return result
