"""rule decisions, message tags, and an index for counting what a contact sent

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 18:01:14.413305
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

import storage.types
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "message_tags",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("tag", sa.String(length=128), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("message_tags", schema=None) as batch_op:
        batch_op.create_index("ix_message_tags_tag", ["tag"], unique=False)
        batch_op.create_index("uq_message_tags", ["channel", "message_id", "tag"], unique=True)

    op.create_table(
        "rule_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("contact", sa.Text(), nullable=True),
        sa.Column("digest", sa.String(length=32), nullable=True),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("not_before", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("rules_version", sa.String(length=32), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rule_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_rule_decisions_contact", ["contact", "digest", "created_at"], unique=False
        )
        batch_op.create_index("ix_rule_decisions_created", ["created_at"], unique=False)
        batch_op.create_index("uq_rule_decisions_event_rule", ["event_id", "rule"], unique=True)

    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_inbound_sender",
            ["sender", "received_at"],
            unique=False,
            sqlite_where=sa.text("direction = 'inbound'"),
            postgresql_where=sa.text("direction = 'inbound'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_inbound_sender")
    with op.batch_alter_table("rule_decisions", schema=None) as batch_op:
        batch_op.drop_index("uq_rule_decisions_event_rule")
        batch_op.drop_index("ix_rule_decisions_created")
        batch_op.drop_index("ix_rule_decisions_contact")

    op.drop_table("rule_decisions")
    with op.batch_alter_table("message_tags", schema=None) as batch_op:
        batch_op.drop_index("uq_message_tags")
        batch_op.drop_index("ix_message_tags_tag")

    op.drop_table("message_tags")
