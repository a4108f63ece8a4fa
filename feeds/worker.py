"""A feed worker process: start the configured adapters and keep them running until told to stop."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from cityvitals.leader import LedJob
from cityvitals.metrics import registry
from cityvitals.runtime import Runtime, start_simulator, wait_for_stop
from feeds.config import (
    AirQualityApiFeedConfig,
    FeedsFile,
    MqttFeedConfig,
    SimulatorFeedConfig,
    WorkOrdersFeedConfig,
)
from feeds.coordinator import Coordinator
from feeds.ingest import Ingestor
from feeds.mqtt import MqttFeed, MqttSettings
from feeds.polling.air_quality import AirQualityFeed
from feeds.polling.base import HttpSettings
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.feed import ReplayFeed
from feeds.simulator.orders import SimulatedOrders, SimulatedOrdersFeed
from feeds.workorders.pipeline import WorkOrderFeed, WorkOrderPipeline
from feeds.workorders.replay import replay_events

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
                                         client_id=f"cityvitals-{cfg.name}", buffer=cfg.buffer, username=cfg.username,
                                         password=cfg.password()),
                            Ingestor(rt.client, cfg.name, registry(), set(rt.tree.ids("grid"))))
            feed.start()
            started.append(feed)
        elif isinstance(cfg, WorkOrdersFeedConfig):
            started.append(start_workorders(rt, cfg, scheduler))
        elif isinstance(cfg, AirQualityApiFeedConfig):
            started.append(start_air_quality(rt, cfg, scheduler))
        elif isinstance(cfg, ReplayFeedConfig):
            started.append(start_replay(rt, cfg, scheduler))
        log.info("feed %s (%s) started", cfg.name, cfg.type)
    return started


def start_workorders(rt: Runtime, cfg: WorkOrdersFeedConfig, scheduler: BackgroundScheduler) -> Coordinator:
    """Replay the configured events file (if any), then publish the aggregates (of simulated orders too)."""
    ingestor = Ingestor(rt.client, cfg.name, registry(), set(rt.tree.ids("grid")), simulated=cfg.simulate)
    pipeline = WorkOrderPipeline(ingestor, cfg.deadlines_h)
    if cfg.replay is not None:
        result = replay_events(pipeline, cfg.replay)
        log.info("feed %s: replayed %s: %d events accepted, %d refused", cfg.name, cfg.replay,
                 result.accepted, len(result.refused))
    if cfg.simulate:
        orders = SimulatedOrders(rt.tree, seed=cfg.seed)
        return _schedule(SimulatedOrdersFeed(orders, pipeline, cfg.interval_s), scheduler)
    return _schedule(WorkOrderFeed(pipeline, cfg.interval_s), scheduler)


def start_air_quality(rt: Runtime, cfg: AirQualityApiFeedConfig, scheduler: BackgroundScheduler) -> AirQualityFeed:
    """Poll the air-quality API every interval (first round at once)."""
    settings = HttpSettings(cfg.url, cfg.timeout_s, cfg.retries, cfg.backoff_s, cfg.headers())
    ingestor = Ingestor(rt.client, cfg.name, registry(), set(rt.tree.ids("grid")))
    return _schedule(AirQualityFeed(cfg.name, settings, ingestor, cfg.interval_s, cfg.stale_after_s), scheduler)


def _schedule(feed: Coordinator, scheduler: BackgroundScheduler) -> Any:
    # led: however many feed workers run this file, one fires each feed's rounds
    job = LedJob(feed.ingestor.client, f"feed:{feed.name}", feed.interval_s, feed.run_once)
    scheduler.add_job(job, "interval", seconds=feed.interval_s, id=f"feed-{feed.name}", max_instances=1,
                      coalesce=True, next_run_time=datetime.now(UTC))
    return feed


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
