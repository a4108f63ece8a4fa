"""Start an MQTT feed in the worker leading it; the broker session goes with the lead."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from cityvitals.metrics import registry
from feeds.ingest import Ingestor
from feeds.mqtt.config import MqttFeedConfig
from feeds.mqtt.feed import MqttFeed, MqttSettings
from feeds.registry import Adapter, FeedHost
from feeds.scheduling import lead

LEAD_CHECK_S = 1.0  # how often a standby asks for an MQTT feed's lead: it takes over within 3 s


def start_mqtt(host: FeedHost, cfg: MqttFeedConfig, scheduler: BackgroundScheduler) -> MqttFeed:
    """Subscribe while this process leads the feed; the session (one client id in every worker) goes with the lead."""
    feed = MqttFeed(MqttSettings(host=cfg.host, port=cfg.port, prefix=cfg.prefix, qos=cfg.qos,
                                 client_id=f"cityvitals-{cfg.name}", buffer=cfg.buffer, username=cfg.username,
                                 password=cfg.password()),
                    Ingestor(host.client, cfg.name, registry(), host.tree))
    # fenced too: a worker that stalled past its lock's TTL must not write what the broker gave its successor
    feed.ingestor.fence = lead(host.client, cfg.name, LEAD_CHECK_S, feed.start, scheduler,
                               on_loss=feed.stop).leadership
    return feed


ADAPTER = Adapter(MqttFeedConfig, start_mqtt)
