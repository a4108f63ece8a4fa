"""Login sessions in SQL, and ids that are never used twice.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-10

``app_session`` holds one row per live login (the token's hash, the user as at login, when it began
and was last seen). On SQLite ``app_user`` and ``ingest_token`` are rebuilt with AUTOINCREMENT, so a
removed user's or token's id is never handed out again (PostgreSQL's sequences never reuse one).
A table that is there already, or already AUTOINCREMENT, is kept as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
NEVER_REUSED = ("app_user", "ingest_token")


def upgrade() -> None:
    """Create app_session; make the user and token ids AUTOINCREMENT on SQLite."""
    bind = op.get_bind()
    schema = op.get_context().version_table_schema
    if "app_session" not in sa.inspect(bind).get_table_names(schema=schema):
        op.create_table(
            "app_session",
            sa.Column("token_hash", sa.String(length=64), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            sa.Column("name", sa.String(length=64), nullable=False),
            sa.Column("role", sa.String(length=16), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("token_hash"),
        )
        op.create_index("ix_app_session_user_id", "app_session", ["user_id"])
    if bind.dialect.name != "sqlite":
        return
    for table in NEVER_REUSED:
        ddl = bind.execute(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :t"),
                           {"t": table}).scalar_one()
        if "AUTOINCREMENT" not in ddl.upper():
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
                pass


def downgrade() -> None:
    """Drop app_session (the AUTOINCREMENT tables stay: they hold the same rows)."""
    op.drop_table("app_session")
