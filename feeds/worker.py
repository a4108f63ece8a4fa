"""A feed worker process: start the configured adapters and keep them running until told to stop.

Several workers may run the same feeds file: each feed is led by one of them at a time (a Redis
lock per feed, cityvitals/leader.py), and a standby takes a dead leader's feeds over. Polled feeds
fire their rounds in the leader; the MQTT feed holds its broker session in the leader only; a
replay runs in the leader from the checkpoint. MQTT and replay writes are fenced by the lock, so a
worker that lost the lead (stalled, say) does not write what its successor writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler

from cityvitals.leader import shut_down
from feeds.config import FeedsFile
from feeds.registry import FeedHost, Running, adapters

log = logging.getLogger(__name__)


def start_feeds(host: FeedHost, config: FeedsFile, names: list[str], scheduler: BackgroundScheduler) -> list[Running]:
    """Start the named feeds (all when ``names`` is empty); unknown names are a ValueError."""
    known = {f.name for f in config.feeds}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"no feed named {', '.join(unknown)} in the configuration (known: {', '.join(sorted(known))})")
    started = []
    for cfg in config.feeds:
        if names and cfg.name not in names:
            continue
        started.append(adapters()[cfg.type].start(host, cfg, scheduler))
        log.info("feed %s (%s) started", cfg.name, cfg.type)
    return started


def run_until_stopped(host: FeedHost, config: FeedsFile, names: list[str], wait: Callable[[], None]) -> None:
    """Run the feeds until ``wait`` returns (the process is told to stop), then stop them cleanly."""
    scheduler = BackgroundScheduler(timezone="UTC")
    feeds = start_feeds(host, config, names, scheduler)
    scheduler.start()
    wait()

    def stop_feeds() -> None:  # each writes what it holds while it still leads
        for feed in feeds:
            feed.stop()

    shut_down(scheduler, then=stop_feeds)
