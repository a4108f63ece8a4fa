"""Tasks out to another system (a hotline platform, a city-management system) by webhook.

Every task event is put in an outbox table (in the step's process, after the step: a dead endpoint never
blocks the wall or loses a task) and a delivery job POSTs each pending one as JSON, signed with
HMAC-SHA256 over the body (``X-CityVitals-Signature: sha256=<hex>``) and carrying an
``Idempotency-Key`` (the same on every retry, so the receiver can drop repeats). A 2xx answer marks it
delivered; anything else is retried with exponential backoff (5 s, 10 s, 20 s ... at most an hour apart),
in order per task.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests
from sqlalchemy import Float, Integer, String, Text, select, update
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.orm import Mapped, mapped_column

from cityvitals.db import Base
from cityvitals.dispatch.tasks import Task, TaskEvent

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-CityVitals-Signature"
FIRST_RETRY_S, MAX_RETRY_S = 5.0, 3600.0
TIMEOUT_S = 5.0


class OutboxRow(Base):
    """One task event waiting for (or done with) delivery."""

    __tablename__ = "dispatch_outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(96), unique=True)  # the Idempotency-Key
    task_id: Mapped[int] = mapped_column(Integer, index=True)
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_at: Mapped[float] = mapped_column(Float, index=True)
    delivered_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    last_error: Mapped[str] = mapped_column(String(200), default="")


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is the signature of ``body`` (compared in constant time)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def outbox_listener(sql: SqlEngine) -> Callable[[Task, TaskEvent, Sequence[TaskEvent]], None]:
    """A DispatchContext listener putting every task event in the outbox."""
    def listen(task: Task, event: TaskEvent, _history: Sequence[TaskEvent]) -> None:
        key = f"task-{task.id}-{event.step}-{event.at:.3f}"
        body = json.dumps({"task": task.as_dict(), "event": event.as_dict()}, ensure_ascii=False, sort_keys=True)
        with sql.begin() as conn:
            conn.execute(OutboxRow.__table__.insert().values(key=key, task_id=task.id, body=body, attempts=0,
                                                              next_at=event.at, last_error=""))
    return listen


@dataclass
class Deliverer:
    """POST what the outbox holds to one endpoint; run it periodically (one process at a time)."""

    sql: SqlEngine
    url: str
    secret: str
    post: Callable[..., requests.Response] = requests.post

    def deliver(self, now: float, limit: int = 100) -> int:
        """Try every pending event that is due (oldest first; a task waits behind its own failed event)."""
        t = OutboxRow.__table__
        with self.sql.connect() as conn:
            rows = conn.execute(select(t).where(t.c.delivered_at.is_(None)).order_by(t.c.id).limit(limit)).all()
        blocked, delivered = set(), 0
        for row in rows:
            if row.task_id in blocked or row.next_at > now:
                blocked.add(row.task_id)  # in order per task: a later step never overtakes an earlier one
                continue
            error = self._send(row.key, row.body.encode())
            with self.sql.begin() as conn:
                if error is None:
                    conn.execute(update(t).where(t.c.id == row.id).values(delivered_at=now, attempts=row.attempts + 1))
                    delivered += 1
                    continue
                wait = min(MAX_RETRY_S, FIRST_RETRY_S * 2 ** row.attempts)
                conn.execute(update(t).where(t.c.id == row.id).values(attempts=row.attempts + 1, next_at=now + wait,
                                                                      last_error=error[:200]))
            blocked.add(row.task_id)
        return delivered

    def _send(self, key: str, body: bytes) -> str | None:
        """None if the endpoint took it (2xx), else why not."""
        try:
            resp = self.post(self.url, data=body, timeout=TIMEOUT_S, headers={
                "Content-Type": "application/json", "Idempotency-Key": key, SIGNATURE_HEADER: sign(self.secret, body)})
        except requests.RequestException as exc:
            return f"{type(exc).__name__}: {exc}"[:200]
        return None if 200 <= resp.status_code < 300 else f"HTTP {resp.status_code}"


def pending(sql: SqlEngine) -> int:
    """How many events wait for delivery."""
    t = OutboxRow.__table__
    with sql.connect() as conn:
        return len(conn.execute(select(t.c.id).where(t.c.delivered_at.is_(None))).all())
