"""opt-outs and their audit trail

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 16:43:43.851885
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

import storage.types
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "opt_out_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("words", sa.Text(), nullable=True),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("opt_out_audit", schema=None) as batch_op:
        batch_op.create_index("ix_opt_out_audit_contact", ["channel", "contact"], unique=False)

    op.create_table(
        "opt_outs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("opted_out", sa.Boolean(), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("opt_outs", schema=None) as batch_op:
        batch_op.create_index("uq_opt_outs_contact", ["channel", "contact"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("opt_outs", schema=None) as batch_op:
        batch_op.drop_index("uq_opt_outs_contact")

    op.drop_table("opt_outs")
    with op.batch_alter_table("opt_out_audit", schema=None) as batch_op:
        batch_op.drop_index("ix_opt_out_audit_contact")

    op.drop_table("opt_out_audit")
