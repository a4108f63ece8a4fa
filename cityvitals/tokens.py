"""Ingest tokens: one bearer token per pushing source, shown once and stored only as a hash.

Tokens are 256-bit random strings, so a plain SHA-256 is the right hash: unlike a password
there is nothing to brute-force, and the lookup stays one indexed query.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, String, select, update
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.orm import Mapped, mapped_column

from cityvitals.db import Base

SOURCE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,47}$")
CACHE_SECONDS = 30.0  # a revoked token stops working within this long in a running server


class IngestToken(Base):
    """A source's ingest token, by its hash."""

    __tablename__ = "ingest_token"
    __table_args__ = {"sqlite_autoincrement": True}  # a revoked token's id is never handed out again
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(48), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


@dataclass(frozen=True)
class TokenInfo:
    """What may be shown of a token: never the token itself."""

    id: int
    source: str
    created_at: datetime
    revoked_at: datetime | None


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(sql: SqlEngine, source: str) -> str:
    """Create a token for ``source`` and return it; this is the only time it can be read."""
    if not SOURCE_PATTERN.match(source):
        raise ValueError(f"source name {source!r} must be 1-48 of a-z 0-9 _ . - and start with a letter or digit")
    token = "cv_" + secrets.token_urlsafe(32)
    with sql.begin() as conn:
        conn.execute(IngestToken.__table__.insert().values(
            source=source, token_hash=token_hash(token), created_at=datetime.now(UTC)))
    return token


def list_tokens(sql: SqlEngine) -> list[TokenInfo]:
    """Every token ever created, oldest first."""
    t = IngestToken.__table__
    with sql.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.source, t.c.created_at, t.c.revoked_at).order_by(t.c.id)).all()
    return [TokenInfo(*row) for row in rows]


def revoke_token(sql: SqlEngine, token_id: int) -> bool:
    """Revoke a token by id; False if there is no such live token."""
    t = IngestToken.__table__
    with sql.begin() as conn:
        done = conn.execute(update(t).where(t.c.id == token_id, t.c.revoked_at.is_(None))
                            .values(revoked_at=datetime.now(UTC)))
    return done.rowcount == 1


class TokenVerifier:
    """Map a presented token to its source, caching hits briefly so a busy feed costs no SQL per request."""

    def __init__(self, sql: SqlEngine, cache_seconds: float = CACHE_SECONDS) -> None:
        self.sql, self.cache_seconds = sql, cache_seconds
        self._cache: dict[str, tuple[str, float]] = {}

    def source_of(self, token: str) -> str | None:
        """The source a live token belongs to, or None."""
        digest = token_hash(token)
        hit = self._cache.get(digest)
        now = time.monotonic()
        if hit and hit[1] > now:
            return hit[0]
        t = IngestToken.__table__
        with self.sql.connect() as conn:
            source = conn.execute(select(t.c.source).where(t.c.token_hash == digest, t.c.revoked_at.is_(None))
                                  ).scalar_one_or_none()
        if source is None:
            self._cache.pop(digest, None)
        else:
            self._cache[digest] = (source, now + self.cache_seconds)
        return source
