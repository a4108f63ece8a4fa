"""Users, roles and the audit log, in SQL.

Roles are ordered: a viewer reads; an analyst also acknowledges warnings and exports; an admin
also reloads the catalog, starts scenarios and manages feeds, tokens and users. Passwords are
hashed by Werkzeug (scrypt), never stored or logged in clear.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, String, Text, delete, select
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from cityvitals.db import Base

ROLES = ("viewer", "analyst", "admin")
MIN_PASSWORD = 10


class UserRow(Base):
    """A person who may log in."""

    __tablename__ = "app_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditRow(Base):
    """One admin or analyst action: who did what, when."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    user: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="")


@dataclass(frozen=True)
class User:
    """A logged-in user as the web layer sees it."""

    id: int
    name: str
    role: str


def role_at_least(role: str | None, needed: str) -> bool:
    """Whether ``role`` includes the rights of ``needed``."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def add_user(sql: SqlEngine, name: str, password: str, role: str) -> User:
    """Create a user; refuses unknown roles, short passwords and taken names with a clear message."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password must have at least {MIN_PASSWORD} characters")
    if not name or len(name) > 64:
        raise ValueError("user name must have 1 to 64 characters")
    t = UserRow.__table__
    try:
        with sql.begin() as conn:
            uid = conn.execute(t.insert().values(
                name=name, password_hash=generate_password_hash(password), role=role,
                created_at=datetime.now(UTC), disabled=False)).inserted_primary_key[0]
    except IntegrityError:
        raise ValueError(f"user {name!r} exists already") from None
    return User(uid, name, role)


def check_login(sql: SqlEngine, name: str, password: str) -> User | None:
    """The user if name and password match an enabled account, else None."""
    t = UserRow.__table__
    with sql.connect() as conn:
        row = conn.execute(select(t.c.id, t.c.name, t.c.role, t.c.password_hash)
                           .where(t.c.name == name, t.c.disabled.is_(False))).first()
    if row is None or not check_password_hash(row.password_hash, password):
        return None
    return User(row.id, row.name, row.role)


def get_user(sql: SqlEngine, user_id: int) -> User | None:
    """An enabled user by id (each request of a logged-in session looks it up, so disabling takes effect)."""
    t = UserRow.__table__
    with sql.connect() as conn:
        row = conn.execute(select(t.c.id, t.c.name, t.c.role).where(t.c.id == user_id, t.c.disabled.is_(False))
                           ).first()
    return User(*row) if row else None


def list_users(sql: SqlEngine) -> list[tuple[User, bool]]:
    """Every user with whether the account is disabled."""
    t = UserRow.__table__
    with sql.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.name, t.c.role, t.c.disabled).order_by(t.c.name)).all()
    return [(User(r.id, r.name, r.role), r.disabled) for r in rows]


def remove_user(sql: SqlEngine, name: str) -> bool:
    """Delete a user by name; False if there was none."""
    t = UserRow.__table__
    with sql.begin() as conn:
        return conn.execute(delete(t).where(t.c.name == name)).rowcount == 1


def audit(sql: SqlEngine, user: str, action: str, **detail: Any) -> None:
    """Append one action to the audit log."""
    with sql.begin() as conn:
        conn.execute(AuditRow.__table__.insert().values(
            at=datetime.now(UTC), user=user, action=action,
            detail=json.dumps(detail, ensure_ascii=False, default=str, sort_keys=True)))


def read_audit(sql: SqlEngine, limit: int = 200) -> list[dict]:
    """The newest audit entries first."""
    t = AuditRow.__table__
    with sql.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]
