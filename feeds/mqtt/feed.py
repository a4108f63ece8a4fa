"""MQTT adapter: samples from topics ``<prefix>/<area>/<metric>`` (QoS 1) into the ingest path.

A payload is a plain number, or JSON: a number, or an object with ``value`` (or ``v``) and an
optional ``ts`` (Unix seconds; the arrival time when absent). Messages are acknowledged to the
broker only after their batch reached Redis (paho's manual ack), so a crash or a Redis outage
makes the broker deliver them again. A message written but not yet acknowledged when its worker
died comes again flagged ``dup``, with the same message id, to whichever worker resumes the session:
a receipt (id -> digest of topic and payload) written with every batch tells it the message is in
Redis already, so each message is written once. Messages not yet written when the connection
drops are let go: the broker sends them again once the session is resumed.

With several feed workers, one leads the feed (cityvitals/leader.py) and holds the broker session;
the client id (``cityvitals-<feed>``) is the same in every worker, so a standby that takes the lead
over resumes the dead leader's session, with what the broker queued meanwhile.

While Redis is away the received messages wait in memory, up to ``buffer`` of them, and the writes
are retried with exponential backoff. Past the bound the oldest are dropped and acknowledged (the
broker would otherwise stop sending once its window of unacknowledged messages is full): logged once
per outage and counted in the feed's health (``overflowed``), like the ingest path's own buffer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import threading
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt
from redis.backoff import ExponentialWithJitterBackoff

from cityvitals import store, unreachable
from feeds.ingest import BUFFER_LIMIT, STORE_ERRORS, Fenced, Ingestor

log = logging.getLogger(__name__)
MAX_PAYLOAD = 4096  # bytes: a sample is a number or a small object


@dataclass(frozen=True)
class MqttSettings:
    """Where to subscribe and how."""

    host: str = "127.0.0.1"
    port: int = 1883
    prefix: str = "city"
    qos: int = 1
    client_id: str = "cityvitals-feed"
    username: str | None = None
    password: str | None = None
    batch: int = 500
    flush_s: float = 0.5
    buffer: int = BUFFER_LIMIT  # messages held while Redis is away


class Received(NamedTuple):
    """A message received and not yet written."""

    mid: int
    item: dict | str  # the sample item, or why it is refused
    raw: bytes
    receipt: str | None  # QoS 1: a digest of topic and payload, kept in Redis once written; QoS 0: None
    dup: bool  # sent again by the broker: maybe written already


def receipt(topic: str, payload: bytes) -> str:
    """A short digest of a message, to know it again when the broker resends it under the same id."""
    return hashlib.blake2b(topic.encode() + b"\0" + payload, digest_size=8).hexdigest()


def parse_message(topic: str, payload: bytes, prefix: str, now: float) -> dict[str, Any] | str:
    """The sample item a message carries, or the reason it is refused."""
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != prefix or not parts[1] or not parts[2]:
        return f"topic {topic!r} is not {prefix}/<area>/<metric>"
    if len(payload) > MAX_PAYLOAD:
        return f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}"
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return f"payload {payload[:60]!r} is neither a number nor JSON"
    except RecursionError:  # a few kB of "[[[[..." exhausts the recursive JSON decoder
        return f"payload {payload[:60]!r} nests too deeply"
    if isinstance(data, dict):
        value, ts = data.get("value", data.get("v")), data.get("ts", now)
    else:
        value, ts = data, now
    return {"metric": parts[2], "area": parts[1], "ts": ts, "value": value}


class MqttFeed:
    """Subscribe, batch, submit, then acknowledge; reconnects on its own with backoff."""

    def __init__(self, settings: MqttSettings, ingestor: Ingestor) -> None:
        self.settings, self.ingestor = settings, ingestor
        self.name = ingestor.feed
        self._lock = threading.Lock()
        self._pending: list[Received] = []
        self._inflight = 0  # messages taken out of _pending by a write in progress
        self._dropped = 0  # during the current outage
        self._acked: list[int] = []  # ids acknowledged by the last write: their receipts go with the next one
        self._stop, self._wake = threading.Event(), threading.Event()
        self.backoff = ExponentialWithJitterBackoff(cap=30.0, base=settings.flush_s)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.client_id,
                                  clean_session=False, manual_ack=True)  # a persistent session keeps unacked ones
        if settings.username:
            self.client.username_pw_set(settings.username, settings.password)
        self.client.reconnect_delay_set(min_delay=1, max_delay=60)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self._unreachable = False  # said once per outage, not at every retry
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._flusher: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Started and not stopped since."""
        return self._flusher is not None

    def start(self) -> None:
        """Connect (retrying in the background if the broker is down) and start receiving; again after a stop."""
        if self.running:
            return
        self._stop.clear()
        self._flusher = threading.Thread(target=self._flush_loop, name=f"{self.name}-flush", daemon=True)
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=30)
        self.client.loop_start()
        self._flusher.start()

    def stop(self) -> None:
        """Flush what is pending and disconnect (the broker keeps the session for the next start)."""
        if not self.running:
            return
        self._stop.set()
        self._wake.set()
        self._flusher.join(5)
        self._flusher = None
        self.flush()
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.warning("mqtt %s: connect refused: %s", self.name, reason)
            return
        self._unreachable = False
        client.subscribe(f"{self.settings.prefix}/+/+", qos=self.settings.qos)

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        if self._unreachable:
            return
        self._unreachable = True
        error = sys.exc_info()[1]  # paho calls this from its ``except OSError`` around the connect
        why = unreachable.reason(error) if error else "no answer"
        log.warning("mqtt %s: cannot reach the MQTT broker at %s:%d (%s); retrying (host and port: the feeds file)",
                    self.name, self.settings.host, self.settings.port, why)

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: list, _props: Any) -> None:
        # said once the broker confirmed it: from now on what is published under the prefix reaches us
        if any(r.is_failure for r in reasons):
            log.error("mqtt %s: subscription to %s/+/+ refused: %s", self.name, self.settings.prefix, reasons)
        else:
            log.info("mqtt %s: subscribed to %s/+/+", self.name, self.settings.prefix)

    def _on_disconnect(self, _client: mqtt.Client, _userdata: Any, _flags: Any, _reason: Any, _props: Any) -> None:
        # Unacknowledged messages stay in the broker's session, which sends them again when it is resumed
        # (here or in the next leader): written from here as well, they would be written twice.
        with self._lock:
            kept = [m for m in self._pending if m.receipt is None]  # QoS 0: never sent again
            let_go, self._pending = len(self._pending) - len(kept), kept
        if let_go:
            log.info("mqtt %s: disconnected; %d unwritten messages left to the broker's session", self.name, let_go)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, msg: mqtt.MQTTMessage) -> None:
        item = parse_message(msg.topic, msg.payload, self.settings.prefix, time.time())
        mark = receipt(msg.topic, msg.payload) if msg.qos else None
        with self._lock:
            self._pending.append(Received(msg.mid, item, msg.payload, mark, bool(msg.dup)))
            dropped = self._trim()
            full = len(self._pending) >= self.settings.batch
        self._drop(dropped)
        if full:
            self._wake.set()  # written by the flusher thread: a failing write must not stall the network loop

    def pending(self) -> int:
        """Messages received and not yet written (waiting, or in a write in progress)."""
        with self._lock:
            return len(self._pending) + self._inflight

    def _trim(self) -> list[int]:
        """Take the oldest waiting messages past the bound out (the lock is held); their ids."""
        over = len(self._pending) + self._inflight - self.settings.buffer
        if over <= 0:
            return []
        dropped = [m.mid for m in self._pending[:over]]
        del self._pending[:over]
        return dropped

    def _drop(self, mids: list[int]) -> None:
        """Acknowledge dropped messages (so the broker sends on), count them, and say so once per outage."""
        if not mids:
            return
        for mid in mids:
            self.client.ack(mid, self.settings.qos)
        self.ingestor.count_overflow(len(mids))
        with self._lock:
            first, self._dropped = not self._dropped, self._dropped + len(mids)
        if first:
            log.error("mqtt %s: buffer of %d messages full while Redis is away; dropping the oldest",
                      self.name, self.settings.buffer)

    def _flush_loop(self) -> None:
        """Write every ``flush_s`` or when a batch is full; after a failed write, back off."""
        failures = 0
        while not self._stop.is_set():
            if failures:
                self._stop.wait(self.backoff.compute(failures))
            else:
                self._wake.wait(self.settings.flush_s)
            self._wake.clear()
            failures = 0 if self.flush() is not None else failures + 1

    def flush(self) -> int | None:
        """Submit the pending messages and acknowledge them; on a Redis error keep them (None) for the next try."""
        with self._lock:
            batch, self._pending = self._pending, []
            self._inflight = len(batch)
        if not batch:
            return 0
        try:
            fresh = self._unwritten(batch)
            items = [m.item for m in fresh if not isinstance(m.item, str)]
            unreadable = [(m.item, m.raw.decode("utf-8", "replace")) for m in fresh if isinstance(m.item, str)]
            receipts = {m.mid: m.receipt for m in fresh if m.receipt is not None}
            # No buffering in the ingestor: unacknowledged messages stay with the broker, which survives us.
            self.ingestor.refuse(unreadable, hold=False)
            self.ingestor.submit(items, hold=False,
                                 after=partial(store.queue_receipts, feed=self.name, written=receipts,
                                               forget=self._acked))
        except Fenced:  # not ours to write or acknowledge: the broker sends them to the session's new holder
            with self._lock:
                self._inflight = 0
            log.warning("mqtt %s: another worker leads the feed now; %d messages left to it", self.name, len(batch))
            return 0
        except STORE_ERRORS as exc:
            with self._lock:
                self._pending[:0] = batch
                self._inflight = 0
                dropped = self._trim()
            self._drop(dropped)
            log.warning("mqtt %s: store unavailable, %d messages kept: %s", self.name, self.pending(), exc)
            return None
        with self._lock:
            self._inflight = 0
            dropped, self._dropped = self._dropped, 0
        for m in batch:
            self.client.ack(m.mid, self.settings.qos)
        self._acked = [m.mid for m in batch if m.receipt is not None]
        if dropped:
            log.warning("mqtt %s: store back; %d messages were dropped while it was away", self.name, dropped)
        return len(batch)

    def _unwritten(self, batch: list[Received]) -> list[Received]:
        """The messages of a batch not in Redis yet: those sent again whose receipt matches were written before."""
        again = [m for m in batch if m.dup and m.receipt is not None]
        if not again:
            return batch
        kept = store.read_receipts(self.ingestor.client, self.name, [m.mid for m in again])
        written = {m.mid for m, mark in zip(again, kept, strict=True) if mark == m.receipt}
        if written:
            log.info("mqtt %s: %d messages sent again were written before; acknowledged only", self.name, len(written))
        return [m for m in batch if m.mid not in written]
