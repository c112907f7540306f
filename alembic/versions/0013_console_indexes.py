"""the console's indexes: messages by creation time (the overview's window counts) and inbound
messages by sender (the search by number)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INBOUND = sa.text("direction = 'inbound'")


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_created", ["created_at", "channel", "direction", "state"], unique=False
        )
        batch_op.create_index(
            "ix_messages_inbound_sender",
            ["sender"],
            unique=False,
            sqlite_where=INBOUND,
            postgresql_where=INBOUND,
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_inbound_sender")
        batch_op.drop_index("ix_messages_created")
