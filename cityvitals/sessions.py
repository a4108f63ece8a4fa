"""Login sessions kept in SQL: the cookie holds only a random session token, never a user id.

A session row names the user as they were at login (name, role); anything that changes who they
are (logout, a new password, a new role, removal) deletes every row of that user, so an old
cookie, replayed, is a visitor's again. A session ends after ``idle_s`` without a request and
after ``absolute_s`` whatever happens. Rows hold the token's SHA-256, so a copy of the database
opens no session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, DateTime, Integer, String, delete, select, update
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.orm import Mapped, mapped_column

from cityvitals.db import Base

TOUCH_S = 60.0  # last-seen is written at most this often per session: a wall polls every few seconds


class SessionRow(Base):
    """One live login session."""

    __tablename__ = "app_session"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass(frozen=True)
class Lifetimes:
    """How long a session lives: without a request, and at most; roles in ``no_idle`` never idle out."""

    idle_s: float = 30 * 60
    absolute_s: float = 12 * 3600
    no_idle: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Session:
    """A live session's user."""

    user_id: int
    name: str
    role: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def open_session(sql: SqlEngine, user_id: int, name: str, role: str) -> str:
    """Start a session for the user and return its token (the cookie's only secret)."""
    token, now = secrets.token_urlsafe(32), datetime.now(UTC)
    with sql.begin() as conn:
        conn.execute(SessionRow.__table__.insert().values(token_hash=_digest(token), user_id=user_id, name=name,
                                                          role=role, created_at=now, seen_at=now))
    return token


def find_session(sql: SqlEngine, token: str, lifetimes: Lifetimes) -> Session | None:
    """The session ``token`` opens, or None (unknown, ended, idle too long or too old: then it is deleted)."""
    t, digest, now = SessionRow.__table__, _digest(token), datetime.now(UTC)
    with sql.begin() as conn:
        row = conn.execute(select(t).where(t.c.token_hash == digest)).first()
        if row is None:
            return None
        seen = _aware(row.seen_at)
        idle = row.role not in lifetimes.no_idle and now - seen > timedelta(seconds=lifetimes.idle_s)
        if idle or now - _aware(row.created_at) > timedelta(seconds=lifetimes.absolute_s):
            conn.execute(delete(t).where(t.c.token_hash == digest))
            return None
        if now - seen > timedelta(seconds=TOUCH_S):
            conn.execute(update(t).where(t.c.token_hash == digest).values(seen_at=now))
    return Session(row.user_id, row.name, row.role)


def end_sessions(conn: Connection, user_id: int) -> int:
    """Delete every session of a user (inside the caller's transaction); how many there were."""
    t = SessionRow.__table__
    return conn.execute(delete(t).where(t.c.user_id == user_id)).rowcount


def _aware(at: datetime) -> datetime:
    # SQLite hands back naive datetimes for timezone-aware columns; they were written in UTC
    return at if at.tzinfo else at.replace(tzinfo=UTC)
