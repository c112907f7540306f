"""one contact key per phone number (E.164), reviews of uncertain opt-outs

Stored contacts were digits only ("41791000011"); from here on a phone number is kept as its
E.164 key ("+41791000011"), so every writing of a number hits the same suppression entry. This
re-keys the suppression list, its audit trail, the rule decisions (caps count by contact) and
the masking sessions. Two rows of the suppression list that become one contact are merged, and
the merged row stays opted out if either was: when in doubt, nobody is messaged.

National writings (a leading 0) are read with INFOBIP_EVENTS_DEFAULT_REGION when it is set in
the environment of the upgrade; otherwise they are keyed on their digits.

The keying below is a frozen copy of events/contacts.py's lenient reading (a migration must not
change when the code does).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 01:30:00
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

import phonenumbers
import sqlalchemy as sa

import storage.types
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PHONE = re.compile(r"^[+0-9 ().\-/]+$")


def _key(value: str, region: str | None) -> str:
    text = value.strip()
    if "@" in text:
        return text.casefold()
    if not (_PHONE.match(text) and any(c.isdigit() for c in text)):
        return text.casefold()
    digits = re.sub(r"[^0-9]", "", text)
    candidates: list[tuple[str, str | None]] = []
    if text.startswith("+"):
        candidates.append((text, None))
    elif digits.startswith("00"):
        candidates.append(("+" + digits[2:], None))
    elif not digits.startswith("0"):
        candidates.append(("+" + digits, None))  # Infobip's writing: no "+"
    if region and not text.startswith("+"):
        candidates.append((text, region))
    for written, where in candidates:
        try:
            number = phonenumbers.parse(written, where)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return "+" + digits


def _rekey_column(table: str, column: str, region: str | None) -> None:
    conn = op.get_bind()
    values = [r[0] for r in conn.execute(sa.text(f"SELECT DISTINCT {column} FROM {table}"))]
    for old in values:
        if old is None:
            continue
        new = _key(old, region)
        if new != old:
            conn.execute(
                sa.text(f"UPDATE {table} SET {column} = :new WHERE {column} = :old"),
                {"new": new, "old": old},
            )


def _rekey_opt_outs(region: str | None) -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT id, channel, contact, opted_out, updated_at FROM opt_outs ORDER BY id")
    ).all()
    kept: dict[tuple[str, str], tuple[int, bool]] = {}
    for row_id, channel, contact, opted_out, _updated in rows:
        key = (channel, _key(contact, region))
        if key in kept:
            first_id, first_out = kept[key]
            if opted_out and not first_out:
                conn.execute(
                    sa.text("UPDATE opt_outs SET opted_out = :out WHERE id = :id"),
                    {"out": True, "id": first_id},
                )
                kept[key] = (first_id, True)
            conn.execute(sa.text("DELETE FROM opt_outs WHERE id = :id"), {"id": row_id})
            continue
        kept[key] = (row_id, bool(opted_out))
    for (_channel, new), (row_id, _out) in kept.items():
        conn.execute(
            sa.text("UPDATE opt_outs SET contact = :new WHERE id = :id AND contact <> :new"),
            {"new": new, "id": row_id},
        )


def upgrade() -> None:
    op.create_table(
        "opt_out_reviews",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("words", sa.Text(), nullable=True),
        sa.Column("language", sa.String(length=16), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("opt_out_reviews", schema=None) as batch_op:
        batch_op.create_index("ix_opt_out_reviews_contact", ["contact", "state"], unique=False)
    # "rule:<name>" sources are longer than 16 characters.
    with op.batch_alter_table("opt_out_audit", schema=None) as batch_op:
        batch_op.alter_column(
            "source",
            existing_type=sa.String(length=16),
            type_=sa.String(length=160),
            existing_nullable=False,
        )
    region = (os.environ.get("INFOBIP_EVENTS_DEFAULT_REGION") or "").strip().upper() or None
    _rekey_opt_outs(region)
    _rekey_column("opt_out_audit", "contact", region)
    _rekey_column("rule_decisions", "contact", region)
    for column in ("party_a", "party_b", "masking_number"):
        _rekey_column("masking_sessions", column, region)


def downgrade() -> None:
    with op.batch_alter_table("opt_out_audit", schema=None) as batch_op:
        batch_op.alter_column(
            "source",
            existing_type=sa.String(length=160),
            type_=sa.String(length=16),
            existing_nullable=False,
        )
    with op.batch_alter_table("opt_out_reviews", schema=None) as batch_op:
        batch_op.drop_index("ix_opt_out_reviews_contact")
    op.drop_table("opt_out_reviews")
