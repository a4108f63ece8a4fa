"""Example polled adapter: an environment bureau's air-quality API, one record per station.

The payload is ``{"stations": [{"grid": "<area id>", "time": <Unix s>, "pm02": 31, "pm10": 58,
"aqi": 44, "o3": 80, "no2": 20}, ...]}``; the field names are the bureau's, mapped to our metrics below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from feeds.coordinator import FeedError
from feeds.polling.base import JsonMetric, JsonPollingFeed

MAPPINGS: tuple[JsonMetric, ...] = (
    JsonMetric("pm25", lambda r: r["pm02"]),
    JsonMetric("pm10", lambda r: r["pm10"]),
    JsonMetric("aqi", lambda r: r["aqi"]),
    JsonMetric("o3", lambda r: r["o3"]),
    JsonMetric("no2", lambda r: r["no2"]),
)


class AirQualityFeed(JsonPollingFeed):
    """Poll the air-quality API and send each station's readings for its grid."""

    mappings = MAPPINGS

    def records(self, payload: Any) -> Iterable[Mapping[str, Any]]:
        """The station records of the payload."""
        stations = payload.get("stations") if isinstance(payload, Mapping) else None
        if not isinstance(stations, list):
            raise FeedError(f"{self.settings.url}: payload has no 'stations' list")
        return stations

    def area_ts(self, record: Mapping[str, Any], now: float) -> tuple[Any, Any]:
        """Stations report their grid and measurement time."""
        return record.get("grid"), record.get("time", now)
