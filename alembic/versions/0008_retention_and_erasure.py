"""erased contacts (a keyed hash each) and the erasure audit

Revision ID: 0008
Revises: 0010
Create Date: 2026-12-06 06:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

import storage.types
from alembic import op

revision: str = "0008"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erased_contacts",
        sa.Column("contact_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("erased_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("contact_hash"),
    )
    op.create_table(
        "erasure_audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("contact_hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("erasure_audit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_erasure_audit_contact_hash"), ["contact_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("erasure_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erasure_audit_contact_hash"))
    op.drop_table("erasure_audit")
    op.drop_table("erased_contacts")
