"""Calls (folded from Calls API events), Number Lookup results and Number Masking sessions.
SQLAlchemy Core, off the hot path, except the masking callback's lookup."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update

from storage.models import calls, lookups, masking_sessions
from storage.queries._sql import insert_ignore, placeholder, sqlite_datetime


def insert_new_calls(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    if not rows:
        return set()
    stmt = insert_ignore(conn, calls, rows, ["call_id"]).returning(calls.c.call_id)
    return {r[0] for r in conn.execute(stmt, sorted(rows, key=lambda r: r["call_id"]))}


def lock_calls(conn: Connection, call_ids: Sequence[str]) -> list[Row[Any]]:
    stmt = select(calls).where(calls.c.call_id.in_(sorted(call_ids))).order_by(calls.c.call_id)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    return list(conn.execute(stmt))


def update_calls(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = [k for k in rows[0] if k != "b_id"]
    stmt = (
        update(calls)
        .where(calls.c.id == bindparam("b_id"))
        .values({c: bindparam(c) for c in columns})
    )
    conn.execute(stmt, list(rows))


def get_call(conn: Connection, call_id: str) -> Row[Any] | None:
    return conn.execute(select(calls).where(calls.c.call_id == call_id)).first()


def insert_lookups(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert_ignore(conn, lookups, rows, ["event_key"]), list(rows))


def lookups_for(conn: Connection, number: str, limit: int) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(lookups)
            .where(lookups.c.number == number)
            .order_by(lookups.c.looked_up_at.desc(), lookups.c.id.desc())
            .limit(limit)
        )
    )


def insert_masking_session(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(masking_sessions.insert(), [row])


def get_masking_session(conn: Connection, session_id: str) -> Row[Any] | None:
    return conn.execute(select(masking_sessions).where(masking_sessions.c.id == session_id)).first()


def list_masking_sessions(conn: Connection, now: datetime, include_ended: bool) -> list[Row[Any]]:
    stmt = select(masking_sessions).order_by(masking_sessions.c.created_at.desc())
    if not include_ended:
        stmt = stmt.where(
            masking_sessions.c.ended_at.is_(None), masking_sessions.c.expires_at > now
        )
    return list(conn.execute(stmt))


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
