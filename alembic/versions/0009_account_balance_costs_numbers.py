"""the account: balance history and its alert flag, the cost ledger, own numbers, CPaaS X
applications and entities, and the raw Membrane answers they were read from

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

import storage.types
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, storage.types.UTCDateTime(), nullable=nullable)


def _money(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, storage.types.DecimalString(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "membrane_answers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("call", sa.Text(), nullable=False),
        _when("received_at"),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_membrane_answers_purpose", "membrane_answers", ["purpose", "received_at"], unique=False
    )
    op.create_table(
        "balances",
        sa.Column("id", _BIGINT_PK, nullable=False),
        _when("checked_at"),
        _money("balance"),
        sa.Column("currency", sa.String(length=16), nullable=False),
        sa.Column("answer_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_balances_checked_at", "balances", ["checked_at"], unique=False)
    op.create_table(
        "account_alerts",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _when("changed_at"),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "costs",
        sa.Column("id", _BIGINT_PK, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("currency", sa.String(length=16), nullable=False),
        _money("amount"),
        sa.Column("amount_units", sa.BigInteger(), nullable=False),
        _money("unit_price"),
        _money("units"),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("application_id", sa.Text(), nullable=True),
        sa.Column("entity_id", sa.Text(), nullable=True),
        sa.Column("sender", sa.Text(), nullable=True),
        _when("priced_at"),
        sa.Column("source_event_id", sa.BigInteger(), nullable=True),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_costs_message", "costs", ["channel", "message_id"], unique=True)
    op.create_index("ix_costs_priced_at", "costs", ["priced_at"], unique=False)
    op.create_table(
        "own_numbers",
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("number_key", sa.Text(), nullable=True),
        sa.Column("country", sa.String(length=8), nullable=True),
        sa.Column("type", sa.String(length=64), nullable=True),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        _when("synced_at"),
        sa.PrimaryKeyConstraint("number"),
    )
    for table, key in (("applications", "application_id"), ("entities", "entity_id")):
        op.create_table(
            table,
            sa.Column(key, sa.String(length=255), nullable=False),
            sa.Column("name", sa.Text(), nullable=True),
            _when("synced_at"),
            sa.PrimaryKeyConstraint(key),
        )


def downgrade() -> None:
    for table in ("entities", "applications", "own_numbers"):
        op.drop_table(table)
    op.drop_index("ix_costs_priced_at", table_name="costs")
    op.drop_index("uq_costs_message", table_name="costs")
    op.drop_table("costs")
    op.drop_table("account_alerts")
    op.drop_index("ix_balances_checked_at", table_name="balances")
    op.drop_table("balances")
    op.drop_index("ix_membrane_answers_purpose", table_name="membrane_answers")
    op.drop_table("membrane_answers")
