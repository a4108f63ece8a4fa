"""Users, roles and the audit log, in SQL.

Roles are ordered: a viewer reads; an analyst also acknowledges warnings and exports; an admin
also reloads the catalog, starts scenarios and manages feeds, tokens and users. Passwords are
hashed by Werkzeug (scrypt), never stored or logged in clear. Ids are never used twice (SQLite
AUTOINCREMENT, a PostgreSQL sequence), and a change to who a user is ends their sessions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Boolean, Connection, DateTime, Integer, String, Text, delete, select, update
from sqlalchemy.engine import Engine as SqlEngine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from cityvitals.db import Base
from cityvitals.passwords import MAX_PASSWORD, password_problem
from cityvitals.sessions import end_sessions
from cityvitals.text import SURROGATE, printable, text_problem

ROLES = ("viewer", "analyst", "admin")  # ordered: each has the rights of those before it
# a responder (grid head, sub-centre staff) has none of those: only their units' tasks (cityvitals/dispatch)
ALL_ROLES = (*ROLES, "responder")
NAME_LIMIT = 64  # the user and audit columns' width


class UserRow(Base):
    """A person who may log in."""

    __tablename__ = "app_user"
    __table_args__ = {"sqlite_autoincrement": True}  # a removed user's id is never handed out again
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
    """Create a user; refuses unknown roles, weak passwords and taken names with a clear message."""
    if role not in ALL_ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ALL_ROLES)}")
    problem = text_problem(name, "user name", NAME_LIMIT) or password_problem(password, name)
    if problem:
        raise ValueError(problem)
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
    """The user if name and password match an enabled account, else None, in the same time either way."""
    t = UserRow.__table__
    row = None
    if text_problem(name, "user name", NAME_LIMIT) is None:
        with sql.connect() as conn:
            row = conn.execute(select(t.c.id, t.c.name, t.c.role, t.c.password_hash)
                               .where(t.c.name == name, t.c.disabled.is_(False))).first()
    # an unknown user costs the same scrypt as a wrong password, so timing tells no names
    matches = check_password_hash(row.password_hash if row else _dummy_hash(),
                                  SURROGATE.sub("\ufffd", password[:MAX_PASSWORD]))
    return User(row.id, row.name, row.role) if row is not None and matches else None


@cache
def _dummy_hash() -> str:
    return generate_password_hash("no user has this password")


def set_password(sql: SqlEngine, name: str, password: str) -> bool:
    """Give a user a new password and end their sessions; False if there is no such user."""
    problem = password_problem(password, name)
    if problem:
        raise ValueError(problem)
    return _change(sql, name, password_hash=generate_password_hash(password))


def set_role(sql: SqlEngine, name: str, role: str) -> bool:
    """Give a user another role and end their sessions; False if there is no such user."""
    if role not in ALL_ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ALL_ROLES)}")
    return _change(sql, name, role=role)


def _change(sql: SqlEngine, name: str, **values: str) -> bool:
    t = UserRow.__table__
    with sql.begin() as conn:
        uid = conn.execute(select(t.c.id).where(t.c.name == name)).scalar_one_or_none()
        if uid is None:
            return False
        conn.execute(update(t).where(t.c.id == uid).values(**values))
        end_sessions(conn, uid)
    return True


def find_user(sql: SqlEngine, name: str) -> User | None:
    """The enabled user of this name, or None."""
    t = UserRow.__table__
    with sql.connect() as conn:
        row = conn.execute(select(t.c.id, t.c.name, t.c.role).where(t.c.name == name, t.c.disabled.is_(False))
                           ).first()
    return None if row is None else User(row.id, row.name, row.role)


def list_users(sql: SqlEngine) -> list[tuple[User, bool]]:
    """Every user with whether the account is disabled."""
    t = UserRow.__table__
    with sql.connect() as conn:
        rows = conn.execute(select(t.c.id, t.c.name, t.c.role, t.c.disabled).order_by(t.c.name)).all()
    return [(User(r.id, r.name, r.role), r.disabled) for r in rows]


def remove_user(sql: SqlEngine, name: str) -> bool:
    """Delete a user by name and end their sessions; False if there was none."""
    t = UserRow.__table__
    with sql.begin() as conn:
        uid = conn.execute(select(t.c.id).where(t.c.name == name)).scalar_one_or_none()
        if uid is None:
            return False
        end_sessions(conn, uid)
        return conn.execute(delete(t).where(t.c.id == uid)).rowcount == 1


def audit(sql: SqlEngine | Connection, user: str, action: str, **detail: Any) -> None:
    """Append one action to the audit log (what came from outside made safe to store and clipped).

    Given a connection, the entry joins its transaction (a task's step and its audit commit together).
    """
    detail = {k: printable(v) if isinstance(v, str) else v for k, v in detail.items()}
    row = AuditRow.__table__.insert().values(
        at=datetime.now(UTC), user=printable(user, NAME_LIMIT), action=action,
        # nested values may still hold lone surrogates, which no database encodes
        detail=SURROGATE.sub("\ufffd", json.dumps(detail, ensure_ascii=False, default=str, sort_keys=True)))
    if isinstance(sql, Connection):
        sql.execute(row)
        return
    with sql.begin() as conn:
        conn.execute(row)


def read_audit(sql: SqlEngine, limit: int = 200) -> list[dict]:
    """The newest audit entries first."""
    t = AuditRow.__table__
    with sql.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.id.desc()).limit(limit)).mappings().all()
    return [dict(r) for r in rows]
