"""A feed worker process: start the configured adapters and keep them running until told to stop."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from cityvitals.metrics import registry
from cityvitals.runtime import Runtime, start_simulator, wait_for_stop
from feeds.config import FeedsFile, MqttFeedConfig, SimulatorFeedConfig
from feeds.ingest import Ingestor
from feeds.mqtt import MqttFeed, MqttSettings
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.feed import ReplayFeed

log = logging.getLogger(__name__)


def start_feeds(rt: Runtime, config: FeedsFile, names: list[str], scheduler: BackgroundScheduler) -> list:
    """Start the named feeds (all when ``names`` is empty); unknown names are a ValueError."""
    known = {f.name for f in config.feeds}
    unknown = sorted(set(names) - known)
    if unknown:
        raise ValueError(f"no feed named {', '.join(unknown)} in the configuration (known: {', '.join(sorted(known))})")
    started = []
    for cfg in config.feeds:
        if names and cfg.name not in names:
            continue
        if isinstance(cfg, SimulatorFeedConfig):
            started.append(start_simulator(rt, scheduler, cfg.interval_s, seed=cfg.seed, name=cfg.name))
        elif isinstance(cfg, MqttFeedConfig):
            feed = MqttFeed(MqttSettings(host=cfg.host, port=cfg.port, prefix=cfg.prefix, qos=cfg.qos,
                                         client_id=f"cityvitals-{cfg.name}", username=cfg.username,
                                         password=cfg.password()),
                            Ingestor(rt.client, cfg.name, registry(), set(rt.tree.ids("grid"))))
            feed.start()
            started.append(feed)
        elif isinstance(cfg, ReplayFeedConfig):
            started.append(start_replay(rt, cfg, scheduler))
        log.info("feed %s (%s) started", cfg.name, cfg.type)
    return started


def replay_feed(rt: Runtime, cfg: ReplayFeedConfig) -> ReplayFeed:
    """A replay feed over this runtime's store and grids (points located in them)."""
    ingestor = Ingestor(rt.client, cfg.name, registry(), set(rt.tree.ids("grid")), locator=rt.tree.grid_locator())
    return ReplayFeed(cfg, ingestor)


def start_replay(rt: Runtime, cfg: ReplayFeedConfig, scheduler: BackgroundScheduler) -> ReplayFeed:
    """Replay a file once, in a scheduler thread, resuming from its checkpoint."""
    feed = replay_feed(rt, cfg)
    scheduler.add_job(feed.run, kwargs={"progress": False}, id=f"feed-{cfg.name}")
    return feed


def run_until_stopped(rt: Runtime, config: FeedsFile, names: list[str]) -> None:
    """Run the feeds until SIGTERM or SIGINT, then stop them cleanly."""
    scheduler = BackgroundScheduler(timezone="UTC")
    feeds = start_feeds(rt, config, names, scheduler)
    scheduler.start()
    wait_for_stop()
    scheduler.shutdown(wait=True)
    for feed in feeds:
        if isinstance(feed, MqttFeed):
            feed.stop()
        elif isinstance(feed, ReplayFeed):
            feed.stopped = True
