"""calls, lookups, masking sessions, uncertain channels

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 15:41:26.761551
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

import storage.types
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("call_id", sa.String(length=128), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("last_event", sa.Text(), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=True),
        sa.Column("sender", sa.Text(), nullable=True),
        sa.Column("recipient", sa.Text(), nullable=True),
        sa.Column("started_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("hangup_cause", sa.Text(), nullable=True),
        sa.Column("hangup_description", sa.Text(), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("call_id"),
    )
    op.create_table(
        "lookups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("event_key", sa.String(length=64), nullable=False),
        sa.Column("raw_id", sa.String(length=32), nullable=False),
        sa.Column("mcc_mnc", sa.String(length=16), nullable=True),
        sa.Column("network", sa.Text(), nullable=True),
        sa.Column("ported", sa.Boolean(), nullable=True),
        sa.Column("ported_network", sa.Text(), nullable=True),
        sa.Column("roaming", sa.Boolean(), nullable=True),
        sa.Column("roaming_network", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("error_name", sa.Text(), nullable=True),
        sa.Column("error_permanent", sa.Boolean(), nullable=True),
        sa.Column("looked_up_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_key"),
    )
    with op.batch_alter_table("lookups", schema=None) as batch_op:
        batch_op.create_index("ix_lookups_number", ["number", "looked_up_at"], unique=False)

    op.create_table(
        "masking_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("party_a", sa.String(length=64), nullable=False),
        sa.Column("party_b", sa.String(length=64), nullable=False),
        sa.Column("masking_number", sa.String(length=64), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("masking_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_masking_sessions_number", ["masking_number", "expires_at"], unique=False
        )

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel_uncertain", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("channel_uncertain")

    with op.batch_alter_table("masking_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_masking_sessions_number")

    op.drop_table("masking_sessions")
    with op.batch_alter_table("lookups", schema=None) as batch_op:
        batch_op.drop_index("ix_lookups_number")

    op.drop_table("lookups")
    op.drop_table("calls")
