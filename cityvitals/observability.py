"""Health and metrics endpoints: ``/healthz`` (alive), ``/readyz`` (can serve), ``/metrics`` (Prometheus).

The metrics read the live store at scrape time (feed counters, engine tick, states by level,
dead-letter size), so every process reports the same figures; the callback-latency histogram
is per process (run gunicorn with prometheus_client's multiprocess mode to aggregate it).

When visitors may not read the pages (``CITYVITALS_ANONYMOUS_ROLE=none``) they may not read these
either: ``/readyz`` tells them only whether the server is ready, and ``/metrics`` asks for a login
or the scrape token (``CITYVITALS_METRICS_TOKEN``, sent as ``Authorization: Bearer``). Problems
are said in words, never with an exception's text (which names hosts, ports and database roles).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterator

import redis
from flask import Flask, Response, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import text
from sqlalchemy.engine import Engine as SqlEngine

from cityvitals import store
from cityvitals.areas import LEVELS
from cityvitals.config import Settings
from cityvitals.security import current_role

log = logging.getLogger(__name__)
CALLBACK_PATH = "/_dash-update-component"


class StoreCollector:
    """Figures read from Redis on every scrape."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def collect(self) -> Iterator:
        """Yield the metric families (nothing when Redis does not answer: /readyz says why)."""
        try:
            feeds = store.read_feed_health(self.client)
            meta = store.meta(self.client)
            totals = {level: store.level_totals(self.client, level) for level in LEVELS}
            dead = store.dead_letter_count(self.client)
            archive = store.group_backlog(self.client, store.ARCHIVE_GROUP)
        except redis.RedisError:
            return
        yield from _feed_counts(feeds)
        yield GaugeMetricFamily("cityvitals_deadletter_entries", "Entries in the dead-letter stream", value=dead)
        yield from _archive_lag(archive)
        if meta.tick_duration is not None:
            yield GaugeMetricFamily("cityvitals_tick_seconds", "Duration of the last engine tick",
                                    value=meta.tick_duration)
        if meta.last_tick is not None:
            yield GaugeMetricFamily("cityvitals_last_tick_age_seconds", "Seconds since the last engine tick",
                                    value=time.time() - meta.last_tick)
        states = GaugeMetricFamily("cityvitals_areas_by_worst_state", "Areas per level by their worst state",
                                   labels=["level", "state"])
        indicators = GaugeMetricFamily("cityvitals_macro_indicators", "Macro indicator states summed over a level",
                                       labels=["level", "state"])
        for level, (worst, counts) in totals.items():
            for state, n in worst.items():
                states.add_metric([level, state], n)
            for state, n in counts.items():
                indicators.add_metric([level, state], n)
        yield states
        yield indicators


def _archive_lag(backlog: store.Backlog | None) -> Iterator[GaugeMetricFamily]:
    """The sample archiver's lag behind the stream (nothing before the archiver ever ran)."""
    if backlog is None:
        return
    if backlog.unread is not None:
        yield GaugeMetricFamily("cityvitals_archive_lag_entries", "Stream entries the archiver has not read yet",
                                value=backlog.unread)
    yield GaugeMetricFamily("cityvitals_archive_pending_entries", "Entries the archiver read and has not written yet",
                            value=backlog.pending)
    yield GaugeMetricFamily("cityvitals_archive_lag_seconds", "Newest stream entry's time minus the newest archived",
                            value=backlog.behind_s)


def _feed_counts(feeds: dict[str, dict]) -> Iterator[CounterMetricFamily]:
    """Every row of every feed accounted for: read, accepted, refused by reason, late, duplicate, superseded."""
    accepted = CounterMetricFamily("cityvitals_samples_accepted", "Samples accepted per feed", labels=["feed"])
    refused = CounterMetricFamily("cityvitals_samples_refused", "Samples refused per feed", labels=["feed"])
    read = CounterMetricFamily("cityvitals_samples_read", "Items read per feed (accepted + refused)", labels=["feed"])
    by_reason = CounterMetricFamily("cityvitals_samples_refused_by_reason", "Samples refused per feed and reason",
                                    labels=["feed", "reason"])
    scored = CounterMetricFamily("cityvitals_samples_not_applied", "Stored samples the engine did not apply: "
                                 "late (out of order), duplicate, superseded (in order, a newer one came)",
                                 labels=["feed", "kind"])
    for name, h in feeds.items():
        accepted.add_metric([name], h.get("accepted", 0))
        refused.add_metric([name], h.get("refused", 0))
        read.add_metric([name], h.get("read", 0))
        for reason, n in sorted(h.get("refused_by", {}).items()):
            by_reason.add_metric([name, reason], n)
        for kind in store.SCORED_KINDS:
            scored.add_metric([name, kind], h.get(kind, 0))
    yield from (read, accepted, refused, by_reason, scored)


def readiness(client: redis.Redis, sql: SqlEngine) -> list[str]:
    """What keeps this process from serving; empty when it is ready."""
    problems = []
    try:
        client.ping()
        meta = store.meta(client)
        if not meta.catalog_version:
            problems.append("no catalog published yet (has an engine started?)")
        errors = meta.catalog_errors
        if errors:
            problems.append(f"the last catalog reload was refused ({len(errors)} errors); the last good one is live")
    except redis.RedisError as exc:
        log.warning("not ready: redis: %s", exc)
        problems.append(f"redis: {type(exc).__name__} (it does not answer; the server log says more)")
    try:
        with sql.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any driver error means "not ready"; the log has the details
        log.warning("not ready: sql: %s", exc)
        problems.append(f"sql: {type(exc).__name__} (the database does not answer; the server log says more)")
    return problems


def _may_read(settings: Settings) -> bool:
    """Whether the request may read details: a visitor who may read pages, a login, or the scrape token."""
    if current_role() is not None:
        return True
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expected = settings.metrics_token
    return bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(),
                                                                                 expected.encode())


def install_observability(server: Flask, client: redis.Redis, sql: SqlEngine, settings: Settings) -> None:
    """Add /healthz, /readyz and /metrics, and time every Dash callback."""
    registry = CollectorRegistry()
    registry.register(StoreCollector(client))
    latency = Histogram("cityvitals_callback_seconds", "Dash callback latency in this process", registry=registry,
                        buckets=(0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2, 5))

    @server.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @server.after_request
    def observe(resp: Response) -> Response:
        if request.path == CALLBACK_PATH and "started" in g:
            latency.observe(time.perf_counter() - g.started)
        return resp

    @server.get("/healthz")
    def healthz() -> tuple[str, int]:
        return "ok\n", 200

    @server.get("/readyz")
    def readyz() -> tuple[Response, int]:
        problems = readiness(client, sql)
        catalog_errors = [p for p in problems if p.startswith("the last catalog reload")]
        # a refused reload leaves the last good catalog serving: said, but still ready
        blocking = [p for p in problems if p not in catalog_errors]
        status = 503 if blocking else 200
        return (jsonify(ready=not blocking, problems=problems), status) if _may_read(settings) else \
            (jsonify(ready=not blocking), status)

    @server.get("/metrics")
    def metrics() -> Response | tuple[Response, int]:
        if not _may_read(settings):
            return jsonify(error="log in, or send the scrape token: Authorization: Bearer <token>"), 401
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
