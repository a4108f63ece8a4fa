"""A feed worker process: start the configured adapters and keep them running until told to stop.

Several workers may run the same feeds file: each feed is led by one of them at a time (a Redis
lock per feed, cityvitals/leader.py), and a standby takes a dead leader's feeds over. Polled feeds
fire their rounds in the leader; the MQTT feed holds its broker session in the leader only; a
replay runs in the leader from the checkpoint. MQTT and replay writes are fenced by the lock, so a
worker that lost the lead (stalled, say) does not write what its successor writes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis
from apscheduler.schedulers.background import BackgroundScheduler

from cityvitals import store
from cityvitals.connections import Connections
from cityvitals.leader import LedJob
from cityvitals.metrics import registry
from cityvitals.shutdown import wait_for_stop
from feeds.config import (
    AirQualityApiFeedConfig,
    FeedsFile,
    MqttFeedConfig,
    SimulatorFeedConfig,
    WorkOrdersFeedConfig,
)
from feeds.coordinator import Coordinator
from feeds.ingest import Fenced, Ingestor
from feeds.mqtt import MqttFeed, MqttSettings
from feeds.polling.air_quality import AirQualityFeed
from feeds.polling.base import HttpSettings
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.feed import ReplayFeed
from feeds.simulator.feed import start_simulator
from feeds.simulator.orders import SimulatedOrders, SimulatedOrdersFeed
from feeds.workorders.pipeline import WorkOrderFeed, WorkOrderPipeline
from feeds.workorders.replay import replay_events

log = logging.getLogger(__name__)
LEAD_CHECK_S = 1.0  # how often a standby asks for an MQTT feed's lead: it takes over within 3 s
REPLAY_CHECK_S = 2.0  # the same for a replay (its lock lapses 6 s after its leader's death)


def start_feeds(rt: Connections, config: FeedsFile, names: list[str], scheduler: BackgroundScheduler) -> list:
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
            started.append(start_mqtt(rt, cfg, scheduler))
        elif isinstance(cfg, WorkOrdersFeedConfig):
            started.append(start_workorders(rt, cfg, scheduler))
        elif isinstance(cfg, AirQualityApiFeedConfig):
            started.append(start_air_quality(rt, cfg, scheduler))
        elif isinstance(cfg, ReplayFeedConfig):
            started.append(start_replay(rt, cfg, scheduler))
        log.info("feed %s (%s) started", cfg.name, cfg.type)
    return started


def start_workorders(rt: Connections, cfg: WorkOrdersFeedConfig, scheduler: BackgroundScheduler) -> Coordinator:
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


def start_air_quality(rt: Connections, cfg: AirQualityApiFeedConfig, scheduler: BackgroundScheduler) -> AirQualityFeed:
    """Poll the air-quality API every interval (first round at once)."""
    settings = HttpSettings(cfg.url, cfg.timeout_s, cfg.retries, cfg.backoff_s, cfg.headers())
    ingestor = Ingestor(rt.client, cfg.name, registry(), set(rt.tree.ids("grid")))
    return _schedule(AirQualityFeed(cfg.name, settings, ingestor, cfg.interval_s, cfg.stale_after_s), scheduler)


def start_mqtt(rt: Connections, cfg: MqttFeedConfig, scheduler: BackgroundScheduler) -> MqttFeed:
    """Subscribe while this process leads the feed; the session (one client id in every worker) goes with the lead."""
    feed = MqttFeed(MqttSettings(host=cfg.host, port=cfg.port, prefix=cfg.prefix, qos=cfg.qos,
                                 client_id=f"cityvitals-{cfg.name}", buffer=cfg.buffer, username=cfg.username,
                                 password=cfg.password()),
                    Ingestor(rt.client, cfg.name, registry(), set(rt.tree.ids("grid"))))
    # fenced too: a worker that stalled past its lock's TTL must not write what the broker gave its successor
    feed.ingestor.fence = _lead(rt.client, cfg.name, LEAD_CHECK_S, feed.start, scheduler,
                                on_loss=feed.stop).leadership
    return feed


def _schedule(feed: Coordinator, scheduler: BackgroundScheduler) -> Any:
    # led: however many feed workers run this file, one fires each feed's rounds
    _lead(feed.ingestor.client, feed.name, feed.interval_s, feed.run_once, scheduler)
    return feed


def _lead(client: redis.Redis, name: str, period_s: float, job: Callable[[], object], scheduler: BackgroundScheduler,
          on_loss: Callable[[], object] | None = None) -> LedJob:
    """Run ``job`` every period (first at once) while this process leads feed ``name``."""
    led = LedJob(client, f"feed:{name}", period_s, job, on_loss=on_loss)
    scheduler.add_job(led, "interval", seconds=period_s, id=f"feed-{name}", max_instances=1, coalesce=True,
                      next_run_time=datetime.now(UTC))
    return led


def replay_feed(rt: Connections, cfg: ReplayFeedConfig) -> ReplayFeed:
    """A replay feed over these connections' store and grids (points located in them)."""
    ingestor = Ingestor(rt.client, cfg.name, registry(), set(rt.tree.ids("grid")), locator=rt.tree.grid_locator())
    return ReplayFeed(cfg, ingestor)


class LedReplay:
    """A replay run by the worker leading it: from the checkpoint to the end of the file, in a thread of its own.

    The leader's lock also fences the replay's writes (each is a transaction on the lock), so a worker
    that lost the lead mid-file stops; the next leader resumes at the checkpoint. The replay is done
    when the checkpoint (in Redis, whoever wrote it) reaches the end of the file.
    """

    def __init__(self, feed: ReplayFeed) -> None:
        self.feed = feed
        self.done = False
        self._thread: threading.Thread | None = None

    def __call__(self) -> None:
        """Start (or resume) the replay unless it runs or is done; called while this process leads it."""
        if self.done or self.feed.stopped or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self._run, name=f"replay-{self.feed.cfg.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        name = self.feed.cfg.name
        try:
            self.feed.run(progress=False)
            self.done = store.read_checkpoint(self.feed.ingestor.client, name) >= (self.feed.rows or 0)
        except Fenced:
            log.warning("replay %s: another worker leads it now; it resumes at the checkpoint", name)
        except redis.RedisError as exc:  # the next round (while this worker leads) resumes at the checkpoint
            log.warning("replay %s: stopped by a Redis error: %s", name, exc)
        except (OSError, ValueError):  # a file that cannot be read: said once, not retried every round
            log.exception("replay %s failed; not retried", name)
            self.done = True
            return
        if self.done:
            log.info("replay %s: the whole file is delivered", name)

    def stop(self) -> None:
        """Stop after the batch in progress (the checkpoint says where the next run resumes)."""
        self.feed.stopped = True
        if self._thread is not None:
            self._thread.join(15)


def start_replay(rt: Connections, cfg: ReplayFeedConfig, scheduler: BackgroundScheduler) -> LedReplay:
    """Replay a file once, in the worker leading it, resuming from its checkpoint."""
    feed = replay_feed(rt, cfg)
    runner = LedReplay(feed)
    feed.ingestor.fence = _lead(rt.client, cfg.name, REPLAY_CHECK_S, runner, scheduler).leadership
    return runner


def run_until_stopped(rt: Connections, config: FeedsFile, names: list[str]) -> None:
    """Run the feeds until SIGTERM or SIGINT, then stop them cleanly."""
    scheduler = BackgroundScheduler(timezone="UTC")
    feeds = start_feeds(rt, config, names, scheduler)
    scheduler.start()
    wait_for_stop()
    scheduler.shutdown(wait=True)
    for feed in feeds:
        if isinstance(feed, (MqttFeed, LedReplay)):
            feed.stop()
