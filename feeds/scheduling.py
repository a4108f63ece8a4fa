"""Jobs of a feed led by one worker at a time, however many run the same feeds file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import redis
from apscheduler.schedulers.background import BackgroundScheduler

from cityvitals.leader import LedJob
from feeds.coordinator import Coordinator


def lead(client: redis.Redis, name: str, period_s: float, job: Callable[[], object], scheduler: BackgroundScheduler,
         on_loss: Callable[[], object] | None = None, delay_s: float = 0.0) -> LedJob:
    """Run ``job`` every period (first after ``delay_s``) while this process leads feed ``name``."""
    led = LedJob(client, f"feed:{name}", period_s, job, on_loss=on_loss)
    scheduler.add_job(led, "interval", seconds=period_s, id=f"feed-{name}", max_instances=1, coalesce=True,
                      next_run_time=datetime.now(UTC) + timedelta(seconds=delay_s))
    return led


def schedule(feed: Coordinator, scheduler: BackgroundScheduler, delay_s: float = 0.0) -> Coordinator:
    """Fire the feed's rounds every interval (first after ``delay_s``) in the worker leading it."""
    lead(feed.ingestor.client, feed.name, feed.interval_s, feed.run_once, scheduler, delay_s=delay_s)
    return feed
