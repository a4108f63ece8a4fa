"""Dispatch: the Idempotency-Key of another system's answer on the step it made.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07

Answers come in on the events API; an answer sent twice (a retry) must make one step. The key is kept
on the event, unique, so the second is recognised, and two at once cannot both be written.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add dispatch_event.answer_key (nullable, unique) where missing."""
    schema = op.get_context().version_table_schema
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("dispatch_event", schema=schema)}
    if "answer_key" not in columns:
        with op.batch_alter_table("dispatch_event", schema=schema) as batch:  # SQLite alters by copying
            batch.add_column(sa.Column("answer_key", sa.String(length=96), nullable=True))
            batch.create_unique_constraint("uq_dispatch_event_answer_key", ["answer_key"])


def downgrade() -> None:
    """Drop dispatch_event.answer_key."""
    with op.batch_alter_table("dispatch_event", schema=op.get_context().version_table_schema) as batch:
        batch.drop_constraint("uq_dispatch_event_answer_key", type_="unique")
        batch.drop_column("answer_key")
