"""Dispatch: tasks, their events, the units each responder is bound to, the webhook outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

A database made by ``create_all`` may have the tables already: they are kept as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
UNIT = 112


def upgrade() -> None:
    """Create dispatch_task, dispatch_event, dispatch_responder and dispatch_outbox where missing."""
    schema = op.get_context().version_table_schema
    have = set(sa.inspect(op.get_bind()).get_table_names(schema=schema))
    if "dispatch_task" not in have:
        op.create_table(
            "dispatch_task",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("created_at", sa.Float(), nullable=False),
            sa.Column("area", sa.String(length=64), nullable=False),
            sa.Column("unit", sa.String(length=UNIT), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("priority", sa.String(length=16), nullable=False),
            sa.Column("task_type", sa.String(length=32), nullable=False),
            sa.Column("indicator", sa.String(length=64), nullable=True),
            sa.Column("group", sa.String(length=32), nullable=True),
            sa.Column("value", sa.Float(), nullable=True),
            sa.Column("threshold", sa.Float(), nullable=True),
            sa.Column("warning_state", sa.String(length=16), nullable=True),
            sa.Column("warning_since", sa.Float(), nullable=True),
            sa.Column("instruction", sa.Text(), nullable=False),
            sa.Column("dispatcher", sa.String(length=64), nullable=False),
            sa.Column("due", sa.Float(), nullable=False),
            sa.Column("hop_due", sa.Float(), nullable=False),
            sa.Column("step_at", sa.Float(), nullable=False),
            sa.Column("version", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sqlite_autoincrement=True,
        )
        op.create_index("ix_dispatch_task_area", "dispatch_task", ["area"])
        op.create_index("ix_dispatch_task_unit", "dispatch_task", ["unit"])
        op.create_index("ix_dispatch_task_status_hop_due", "dispatch_task", ["status", "hop_due"])
    if "dispatch_event" not in have:
        op.create_table(
            "dispatch_event",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("task_id", sa.Integer(), nullable=False),
            sa.Column("at", sa.Float(), nullable=False),
            sa.Column("step", sa.String(length=16), nullable=False),
            sa.Column("actor", sa.String(length=64), nullable=False),
            sa.Column("unit", sa.String(length=UNIT), nullable=False),
            sa.Column("from_unit", sa.String(length=UNIT), nullable=True),
            sa.Column("note", sa.Text(), nullable=False),
            sa.Column("photo", sa.String(length=128), nullable=True),
            sa.PrimaryKeyConstraint("id"),
        )
        op.create_index("ix_dispatch_event_task_id", "dispatch_event", ["task_id"])
        op.create_index("ix_dispatch_event_at", "dispatch_event", ["at"])
    if "dispatch_responder" not in have:
        op.create_table(
            "dispatch_responder",
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("unit", sa.String(length=UNIT), nullable=False),
            sa.PrimaryKeyConstraint("user_id", "unit"),
        )


    if "dispatch_outbox" not in have:
        op.create_table(
            "dispatch_outbox",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("key", sa.String(length=96), nullable=False),
            sa.Column("task_id", sa.Integer(), nullable=False),
            sa.Column("body", sa.Text(), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("next_at", sa.Float(), nullable=False),
            sa.Column("delivered_at", sa.Float(), nullable=True),
            sa.Column("last_error", sa.String(length=200), nullable=False),
            sa.PrimaryKeyConstraint("id"),
            sa.UniqueConstraint("key"),
        )
        op.create_index("ix_dispatch_outbox_task_id", "dispatch_outbox", ["task_id"])
        op.create_index("ix_dispatch_outbox_next_at", "dispatch_outbox", ["next_at"])


def downgrade() -> None:
    """Drop the dispatch tables (and their rows)."""
    for table in ("dispatch_outbox", "dispatch_responder", "dispatch_event", "dispatch_task"):
        op.drop_table(table)
