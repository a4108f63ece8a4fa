"""Start a work-order feed: replay its events file (if any), then publish the aggregates every interval."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler

from cityvitals.metrics import registry
from feeds.coordinator import Coordinator
from feeds.ingest import Ingestor
from feeds.registry import Adapter, FeedHost
from feeds.scheduling import schedule
from feeds.simulator.orders import SimulatedOrders, SimulatedOrdersFeed
from feeds.workorders.aggregate import grids_below
from feeds.workorders.config import WorkOrdersFeedConfig
from feeds.workorders.mapping import load_order_mapping
from feeds.workorders.pipeline import WorkOrderFeed, WorkOrderPipeline
from feeds.workorders.replay import replay_events

log = logging.getLogger(__name__)


def start_workorders(host: FeedHost, cfg: WorkOrdersFeedConfig, scheduler: BackgroundScheduler) -> Coordinator:
    """Replay the configured events file (if any), then publish the aggregates (of simulated orders too)."""
    ingestor = Ingestor(host.client, cfg.name, registry(), set(host.tree.ids("grid")), simulated=cfg.simulate)
    pipeline = WorkOrderPipeline(ingestor, cfg.deadlines_h, grids_below(host.tree))
    if cfg.replay is not None:
        mapping = load_order_mapping(cfg.mapping) if cfg.mapping is not None else None
        result = replay_events(pipeline, cfg.replay, mapping=mapping, locator=host.tree.grid_locator())
        log.info("feed %s: replayed %s: %d events accepted, %d refused", cfg.name, cfg.replay,
                 result.accepted, len(result.refused))
    if cfg.simulate:
        orders = SimulatedOrders(host.tree, seed=cfg.seed)
        return schedule(SimulatedOrdersFeed(orders, pipeline, cfg.interval_s), scheduler)
    return schedule(WorkOrderFeed(pipeline, cfg.interval_s), scheduler)


ADAPTER = Adapter(WorkOrdersFeedConfig, start_workorders)
