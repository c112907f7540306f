"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 15:23:20.562263
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

import storage.types
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("status_group_id", sa.Integer(), nullable=True),
        sa.Column("status_group_name", sa.Text(), nullable=True),
        sa.Column("status_id", sa.Integer(), nullable=True),
        sa.Column("status_name", sa.Text(), nullable=True),
        sa.Column("status_description", sa.Text(), nullable=True),
        sa.Column("error_group_id", sa.Integer(), nullable=True),
        sa.Column("error_group_name", sa.Text(), nullable=True),
        sa.Column("error_id", sa.Integer(), nullable=True),
        sa.Column("error_name", sa.Text(), nullable=True),
        sa.Column("error_description", sa.Text(), nullable=True),
        sa.Column("error_permanent", sa.Boolean(), nullable=True),
        sa.Column("price_amount", storage.types.DecimalString(length=64), nullable=True),
        sa.Column("price_currency", sa.String(length=16), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dedupe_key", sa.String(length=64), nullable=False),
        sa.Column("raw_id", sa.String(length=32), nullable=False),
        sa.Column("item_index", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("channel_uncertain", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sub_type", sa.Text(), nullable=True),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=True),
        sa.Column("sender", sa.Text(), nullable=True),
        sa.Column("recipient", sa.Text(), nullable=True),
        sa.Column("occurred_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedupe_key"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_message", ["channel", "message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_events_raw_id"), ["raw_id"], unique=False)

    op.create_table(
        "messages",
        sa.Column("status_group_id", sa.Integer(), nullable=True),
        sa.Column("status_group_name", sa.Text(), nullable=True),
        sa.Column("status_id", sa.Integer(), nullable=True),
        sa.Column("status_name", sa.Text(), nullable=True),
        sa.Column("status_description", sa.Text(), nullable=True),
        sa.Column("error_group_id", sa.Integer(), nullable=True),
        sa.Column("error_group_name", sa.Text(), nullable=True),
        sa.Column("error_id", sa.Integer(), nullable=True),
        sa.Column("error_name", sa.Text(), nullable=True),
        sa.Column("error_description", sa.Text(), nullable=True),
        sa.Column("error_permanent", sa.Boolean(), nullable=True),
        sa.Column("price_amount", storage.types.DecimalString(length=64), nullable=True),
        sa.Column("price_currency", sa.String(length=16), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("sender", sa.Text(), nullable=True),
        sa.Column("recipient", sa.Text(), nullable=True),
        sa.Column("bulk_id", sa.Text(), nullable=True),
        sa.Column("callback_data", sa.Text(), nullable=True),
        sa.Column("application_id", sa.Text(), nullable=True),
        sa.Column("entity_id", sa.Text(), nullable=True),
        sa.Column("sent_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("done_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("seen_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_bulk_id", ["bulk_id"], unique=False)
        batch_op.create_index("ix_messages_recipient", ["recipient"], unique=False)
        batch_op.create_index("ix_messages_state", ["state"], unique=False)
        batch_op.create_index(
            "uq_messages_channel_message_id", ["channel", "message_id"], unique=True
        )

    op.create_table(
        "raw_webhooks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("item_count", sa.SmallInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("processed_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("raw_webhooks", schema=None) as batch_op:
        batch_op.create_index("ix_raw_webhooks_claim", ["state", "priority", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("raw_webhooks", schema=None) as batch_op:
        batch_op.drop_index("ix_raw_webhooks_claim")

    op.drop_table("raw_webhooks")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("uq_messages_channel_message_id")
        batch_op.drop_index("ix_messages_state")
        batch_op.drop_index("ix_messages_recipient")
        batch_op.drop_index("ix_messages_bulk_id")

    op.drop_table("messages")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_raw_id"))
        batch_op.drop_index("ix_events_message")

    op.drop_table("events")
