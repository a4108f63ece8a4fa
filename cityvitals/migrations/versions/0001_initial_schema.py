"""Initial schema: areas, warnings log, history, acknowledgements, users, audit log, ingest tokens.

Revision ID: 0001
Revises:
Create Date: 2026-12-02

A database made before migrations existed (by ``create_all``) already has some or all of these
tables: each one that is there is kept as it is, with its rows, and only the missing ones are made.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer(), autoincrement=True, nullable=False)


def _at() -> sa.Column:
    return sa.Column("at", sa.DateTime(timezone=True), nullable=False)


def _areas() -> None:
    op.create_table(
        "areas",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("parent", sa.String(length=64), nullable=True),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("population", sa.Integer(), nullable=False),
        sa.Column("area_km2", sa.Float(), nullable=False),
        sa.Column("geometry", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_areas_parent", "areas", ["parent"])


def _app_user() -> None:
    op.create_table(
        "app_user", _id(),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=256), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )


def _audit_log() -> None:
    op.create_table(
        "audit_log", _id(), _at(),
        sa.Column("user", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])


def _catalog_event() -> None:
    op.create_table(
        "catalog_event", _id(), _at(),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def _indicator_history() -> None:
    op.create_table(
        "indicator_history", _id(), _at(),
        sa.Column("indicator", sa.String(length=64), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_history_ind_area_at", "indicator_history", ["indicator", "area", "at"])
    op.create_index("ix_indicator_history_at", "indicator_history", ["at"])


def _ingest_token() -> None:
    op.create_table(
        "ingest_token", _id(),
        sa.Column("source", sa.String(length=48), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_ingest_token_source", "ingest_token", ["source"])


def _warning_ack() -> None:
    op.create_table(
        "warning_ack", _id(), _at(),
        sa.Column("indicator", sa.String(length=64), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.Column("user", sa.String(length=64), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_warning_ack_episode", "warning_ack", ["indicator", "area", "since"])


def _warning_log() -> None:
    op.create_table(
        "warning_log", _id(), _at(),
        sa.Column("indicator", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column("from_state", sa.String(length=8), nullable=False),
        sa.Column("to_state", sa.String(length=8), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("yellow", sa.String(length=40), nullable=False),
        sa.Column("red", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_warning_log_at", "warning_log", ["at"])
    op.create_index("ix_warning_log_ind_area", "warning_log", ["indicator", "area"])


TABLES: dict[str, Callable[[], None]] = {
    "areas": _areas, "app_user": _app_user, "audit_log": _audit_log, "catalog_event": _catalog_event,
    "indicator_history": _indicator_history, "ingest_token": _ingest_token, "warning_ack": _warning_ack,
    "warning_log": _warning_log,
}


def upgrade() -> None:
    """Create every table the database does not have yet."""
    schema = op.get_context().version_table_schema  # where the connection's schema_translate_map points
    existing = set(sa.inspect(op.get_bind()).get_table_names(schema=schema))
    for name, create in TABLES.items():
        if name not in existing:
            create()


def downgrade() -> None:
    """Drop every table of this revision (and its rows)."""
    for name in reversed(TABLES):
        op.drop_table(name)
