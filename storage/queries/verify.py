"""2FA PIN verifications and their audit trail (never the PIN: Infobip keeps it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import Connection, select, update

from storage.models import verification_audit, verifications
from storage.queries._sql import chunks, columns_of, locked, record, records

# What a verification's outcome can be: sending (queued), sent (the PIN is out, not yet
# checked right), verified, failed (no attempts left, or Infobip refused), expired,
# send_failed (the PIN could not be sent).
OUTCOMES = ("sending", "sent", "verified", "failed", "expired", "send_failed")
OPEN = ("sending", "sent")
SEND_STEPS = ("send", "resend")


class VerificationRow(TypedDict):
    """A verifications row as it is written (every column)."""

    id: str
    to: str
    application_id: str
    message_id: str | None
    action_id: str | None
    pin_id: str | None
    attempts: int
    sends: int
    outcome: str
    reason: str | None
    created_at: datetime
    sent_at: datetime | None
    expires_at: datetime
    verified_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredVerification:
    """A verifications row as it is read."""

    id: str
    to: str
    application_id: str
    message_id: str | None
    action_id: str | None
    pin_id: str | None
    attempts: int
    sends: int
    outcome: str
    reason: str | None
    created_at: datetime
    sent_at: datetime | None
    expires_at: datetime
    verified_at: datetime | None
    updated_at: datetime


class AuditRow(TypedDict):
    verification_id: str | None
    to: str
    step: str
    detail: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class StoredAudit:
    id: int
    verification_id: str | None
    to: str
    step: str
    detail: str | None
    at: datetime


_VERIFICATION = columns_of(verifications, StoredVerification)
_AUDIT = columns_of(verification_audit, StoredAudit)


def insert_verification(conn: Connection, row: VerificationRow) -> None:
    conn.execute(verifications.insert(), [row])


def get_verification(
    conn: Connection, verification_id: str, *, lock: bool = False
) -> StoredVerification | None:
    """One verification; locked on PostgreSQL when it is about to change."""
    stmt = select(*_VERIFICATION).where(verifications.c.id == verification_id)
    return record(StoredVerification, conn.execute(locked(conn, stmt) if lock else stmt).first())


def update_verification(conn: Connection, verification_id: str, changes: dict[str, Any]) -> None:
    conn.execute(
        update(verifications).where(verifications.c.id == verification_id).values(**changes)
    )


def verification_numbers(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """id -> the number (E.164 key) of these verifications."""
    out: dict[str, str] = {}
    for chunk in chunks(ids):
        stmt = select(verifications.c.id, verifications.c.to).where(verifications.c.id.in_(chunk))
        out.update({str(r[0]): str(r[1]) for r in conn.execute(stmt)})
    return out


def add_audit(conn: Connection, rows: Sequence[AuditRow]) -> None:
    if rows:
        conn.execute(verification_audit.insert(), list(rows))


def sends_since(conn: Connection, to: str, since: datetime) -> list[datetime]:
    """When PINs were sent (first sends and resends) to this number since then, oldest first:
    the limit per number and hour counts them."""
    stmt = (
        select(verification_audit.c.at)
        .where(
            verification_audit.c.to == to,
            verification_audit.c.step.in_(SEND_STEPS),
            verification_audit.c.at >= since,
        )
        .order_by(verification_audit.c.at)
    )
    return [r[0] for r in conn.execute(stmt)]


def audit_of(conn: Connection, verification_id: str) -> list[StoredAudit]:
    stmt = (
        select(*_AUDIT)
        .where(verification_audit.c.verification_id == verification_id)
        .order_by(verification_audit.c.id)
    )
    return records(StoredAudit, conn.execute(stmt))
