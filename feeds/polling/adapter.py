"""Start the air-quality API feed: poll it every interval in the worker leading it."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.polling.air_quality import AirQualityFeed
from feeds.polling.base import HttpSettings
from feeds.polling.config import AirQualityApiFeedConfig
from feeds.registry import Adapter, FeedHost
from feeds.scheduling import schedule


def start_air_quality(host: FeedHost, cfg: AirQualityApiFeedConfig, scheduler: BackgroundScheduler) -> AirQualityFeed:
    """Poll the air-quality API every interval (first round at once)."""
    settings = HttpSettings(cfg.url, cfg.timeout_s, cfg.retries, cfg.backoff_s, cfg.headers())
    ingestor = Ingestor(host.client, cfg.name, registry(), host.tree)
    return schedule(AirQualityFeed(cfg.name, settings, ingestor, cfg.interval_s, cfg.stale_after_s), scheduler)


ADAPTER = Adapter(AirQualityApiFeedConfig, start_air_quality)
