"""reconcile runs record their owner, so that a run left `running` by a crash is found

A run is written by one process (the owner: host, pid and the process's start time); at the
next start a run whose owner is gone is marked `interrupted` (events/runs.py). Runs written
before this revision have no owner.

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-06 05:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reconcile_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("reconcile_runs", schema=None) as batch_op:
        batch_op.drop_column("owner")
