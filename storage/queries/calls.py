"""Calls (folded from Calls API events), Number Lookup results and Number Masking sessions.
SQLAlchemy Core, off the hot path, except the masking callback's lookup."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from sqlalchemy import Connection, bindparam, select, update

from storage.models import calls, lookups, masking_sessions
from storage.queries._sql import (
    chunks,
    columns_of,
    insert_ignore,
    locked,
    placeholder,
    record,
    records,
    sqlite_datetime,
)


class CallFields(TypedDict):
    """What a call's events say of it (the fold of events/states.py)."""

    call_id: str
    state: str
    last_event: str | None
    direction: str | None
    sender: str | None
    recipient: str | None
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    hangup_cause: str | None
    hangup_description: str | None


class CallRow(CallFields):
    """A calls row as it is written (every column but its id)."""

    created_at: datetime
    updated_at: datetime


class CallUpdate(CallFields):
    """A stored call folded again: the row to rewrite (by its id) and when."""

    call_row_id: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredCall:
    """A calls row as it is read."""

    id: int
    call_id: str
    state: str
    last_event: str | None
    direction: str | None
    sender: str | None
    recipient: str | None
    started_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: int | None
    hangup_cause: str | None
    hangup_description: str | None
    created_at: datetime
    updated_at: datetime


class LookupRow(TypedDict):
    """A lookups row as it is written (every column but its id)."""

    number: str
    event_key: str
    raw_id: str
    mcc_mnc: str | None
    network: str | None
    ported: bool | None
    ported_network: str | None
    roaming: bool | None
    roaming_network: str | None
    outcome: str | None
    error_name: str | None
    error_permanent: bool | None
    looked_up_at: datetime


@dataclass(frozen=True, slots=True)
class StoredLookup:
    """A lookups row as it is read."""

    id: int
    number: str
    event_key: str
    raw_id: str
    mcc_mnc: str | None
    network: str | None
    ported: bool | None
    ported_network: str | None
    roaming: bool | None
    roaming_network: str | None
    outcome: str | None
    error_name: str | None
    error_permanent: bool | None
    looked_up_at: datetime


class SessionRow(TypedDict):
    """A masking_sessions row as it is written (every column)."""

    id: str
    party_a: str
    party_b: str
    masking_number: str
    expires_at: datetime
    created_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A masking_sessions row as it is read."""

    id: str
    party_a: str
    party_b: str
    masking_number: str
    expires_at: datetime
    created_at: datetime
    ended_at: datetime | None


_CALL = columns_of(calls, StoredCall)
_LOOKUP = columns_of(lookups, StoredLookup)
_SESSION = columns_of(masking_sessions, StoredSession)
_CALL_UPDATE = (*CallFields.__annotations__, "updated_at")


# ---- calls --------------------------------------------------------------------------------------


def insert_new_calls(conn: Connection, rows: Sequence[CallRow]) -> set[str]:
    """Insert the calls that do not exist yet (in call_id order); returns the ids inserted."""
    if not rows:
        return set()
    stmt = insert_ignore(conn, calls, ["call_id"]).returning(calls.c.call_id)
    return {str(r[0]) for r in conn.execute(stmt, sorted(rows, key=lambda r: r["call_id"]))}


def lock_calls(conn: Connection, call_ids: Sequence[str]) -> list[StoredCall]:
    """These calls, locked on PostgreSQL, in call_id order."""
    stmt = select(*_CALL).where(calls.c.call_id.in_(sorted(call_ids))).order_by(calls.c.call_id)
    return records(StoredCall, conn.execute(locked(conn, stmt)))


def update_calls(conn: Connection, rows: Sequence[CallUpdate]) -> None:
    if not rows:
        return
    stmt = (
        update(calls)
        .where(calls.c.id == bindparam("call_row_id"))
        .values({c: bindparam(c) for c in _CALL_UPDATE})
    )
    conn.execute(stmt, list(rows))


def get_call(conn: Connection, call_id: str) -> StoredCall | None:
    return record(
        StoredCall, conn.execute(select(*_CALL).where(calls.c.call_id == call_id)).first()
    )


# ---- number lookups -----------------------------------------------------------------------------


def insert_lookups(conn: Connection, rows: Sequence[LookupRow]) -> None:
    """Results already stored (the same event key) are skipped."""
    if rows:
        conn.execute(insert_ignore(conn, lookups, ["event_key"]), list(rows))


def lookups_for(conn: Connection, number: str, limit: int) -> list[StoredLookup]:
    """A number's results, newest first."""
    stmt = (
        select(*_LOOKUP)
        .where(lookups.c.number == number)
        .order_by(lookups.c.looked_up_at.desc(), lookups.c.id.desc())
        .limit(limit)
    )
    return records(StoredLookup, conn.execute(stmt))


def latest_lookups(conn: Connection, numbers: Sequence[str]) -> dict[str, StoredLookup]:
    """Each of these numbers' newest result (numbers as Infobip writes them); a number never
    looked up is absent. Used by on-demand lookups (the cache) and by the rules."""
    out: dict[str, StoredLookup] = {}
    for chunk in chunks(sorted(set(numbers))):
        stmt = (
            select(*_LOOKUP)
            .where(lookups.c.number.in_(chunk))
            .order_by(lookups.c.number, lookups.c.looked_up_at.desc(), lookups.c.id.desc())
        )
        for row in records(StoredLookup, conn.execute(stmt)):
            out.setdefault(row.number, row)
    return out


# ---- masking sessions ---------------------------------------------------------------------------


def insert_masking_session(conn: Connection, row: SessionRow) -> None:
    conn.execute(masking_sessions.insert(), [row])


def get_masking_session(conn: Connection, session_id: str) -> StoredSession | None:
    stmt = select(*_SESSION).where(masking_sessions.c.id == session_id)
    return record(StoredSession, conn.execute(stmt).first())


def list_masking_sessions(
    conn: Connection, now: datetime, include_ended: bool
) -> list[StoredSession]:
    """Newest first; only the live ones unless include_ended."""
    stmt = select(*_SESSION).order_by(masking_sessions.c.created_at.desc())
    if not include_ended:
        stmt = stmt.where(
            masking_sessions.c.ended_at.is_(None), masking_sessions.c.expires_at > now
        )
    return records(StoredSession, conn.execute(stmt))


def end_masking_session(conn: Connection, session_id: str, now: datetime) -> bool:
    result = conn.execute(
        update(masking_sessions)
        .where(masking_sessions.c.id == session_id, masking_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    return bool(result.rowcount)


def live_masking_session(
    conn: Connection, masking_number: str, caller: str, now: datetime
) -> tuple[str, str, str] | None:
    """(party_a, party_b, masking_number) of the live session in which this caller may reach
    someone through this masking number. Driver-level SQL: a masking callback waits for it."""
    mark = placeholder(conn)
    stamp = sqlite_datetime(now) if conn.dialect.name == "sqlite" else now
    # On the driver cursor: one SELECT, without the BEGIN/ROLLBACK of a SQLAlchemy transaction.
    cursor = conn.connection.cursor()
    try:
        cursor.execute(
            "SELECT party_a, party_b, masking_number FROM masking_sessions "
            f"WHERE masking_number = {mark} AND ended_at IS NULL AND expires_at > {mark} "
            f"AND (party_a = {mark} OR party_b = {mark}) ORDER BY created_at DESC LIMIT 1",
            (masking_number, stamp, caller, caller),
        )
        row = cursor.fetchone()
    finally:
        cursor.close()
    return (str(row[0]), str(row[1]), str(row[2])) if row is not None else None
