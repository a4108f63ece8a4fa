"""Domain history: domain scores and the health index per area and history step (the tiles' sparklines).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

A database made by ``create_all`` may have the table already: it is kept as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the domain_history table if the database does not have it."""
    schema = op.get_context().version_table_schema
    if "domain_history" in sa.inspect(op.get_bind()).get_table_names(schema=schema):
        return
    op.create_table(
        "domain_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_domain_history_at", "domain_history", ["at"])
    op.create_index("ix_domain_history_area_at", "domain_history", ["area", "at"])


def downgrade() -> None:
    """Drop the domain_history table (and its rows)."""
    op.drop_table("domain_history")
