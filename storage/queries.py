"""Named queries: the SQL that the service runs, in one place, the same on SQLite and
PostgreSQL (dialect differences are handled here and nowhere else)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import Insert as PgInsert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.models import RAW_PENDING, events, messages, raw_webhooks

# Bound on parameters per statement (SQLite allows 32766; keep well under it).
_CHUNK = 500


def _insert(conn: Connection, table: Any) -> PgInsert | SqliteInsert:
    if conn.dialect.name == "postgresql":
        return pg_insert(table)
    return sqlite_insert(table)


def _chunks(seq: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


# ---- raw inbox --------------------------------------------------------------------------------


def insert_raw(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """One statement for a whole group commit."""
    conn.execute(raw_webhooks.insert(), list(rows))


def claim_raw(conn: Connection, limit: int, max_attempts: int) -> list[Row[Any]]:
    """Pending rows, inbound first, oldest first. On PostgreSQL the rows stay locked until the
    caller's transaction ends and other workers skip them; SQLite has one writer at a time."""
    stmt = (
        select(raw_webhooks)
        .where(raw_webhooks.c.state == RAW_PENDING, raw_webhooks.c.attempts < max_attempts)
        .order_by(raw_webhooks.c.priority, raw_webhooks.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return list(conn.execute(stmt))


def raw_by_ids(conn: Connection, ids: Sequence[str]) -> list[Row[Any]]:
    out: list[Row[Any]] = []
    for chunk in _chunks(ids):
        stmt = select(raw_webhooks).where(raw_webhooks.c.id.in_(chunk)).order_by(raw_webhooks.c.id)
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        out.extend(conn.execute(stmt))
    return out


def select_raw_ids(
    conn: Connection,
    *,
    states: Sequence[str] | None = None,
    since: datetime | None = None,
    ids: Sequence[str] | None = None,
    channel: str | None = None,
) -> list[str]:
    stmt = select(raw_webhooks.c.id).order_by(raw_webhooks.c.id)
    if states:
        stmt = stmt.where(raw_webhooks.c.state.in_(states))
    if since is not None:
        stmt = stmt.where(raw_webhooks.c.received_at >= since)
    if ids:
        stmt = stmt.where(raw_webhooks.c.id.in_(ids))
    if channel:
        stmt = stmt.where(raw_webhooks.c.channel == channel)
    return [r[0] for r in conn.execute(stmt)]


def mark_raw(conn: Connection, updates: Sequence[dict[str, Any]]) -> None:
    """Each update has b_id plus the columns to set (state, error, item_count, processed_at,
    attempts)."""
    if not updates:
        return
    stmt = (
        update(raw_webhooks)
        .where(raw_webhooks.c.id == bindparam("b_id"))
        .values(
            state=bindparam("state"),
            error=bindparam("error"),
            item_count=bindparam("item_count"),
            processed_at=bindparam("processed_at"),
            attempts=raw_webhooks.c.attempts + 1,
        )
    )
    conn.execute(stmt, list(updates))


def count_raw_by_state(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(raw_webhooks.c.state, func.count()).group_by(raw_webhooks.c.state)
    ).all()
    return {str(state): int(n) for state, n in rows}


# ---- events and messages ----------------------------------------------------------------------


def insert_events_ignoring_duplicates(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Insert events; those whose dedupe_key exists already are skipped by the database (not by
    a check-then-insert). Returns the keys that were new."""
    new: set[str] = set()
    for chunk in _chunks(rows):
        stmt = (
            _insert(conn, events)
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .returning(events.c.dedupe_key)
        )
        new.update(r[0] for r in conn.execute(stmt, list(chunk)))
    return new


def ensure_messages(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Create the messages that do not exist yet (sorted, so concurrent workers lock rows in the
    same order and cannot deadlock)."""
    ordered = sorted(rows, key=lambda r: (r["channel"], r["message_id"]))
    for chunk in _chunks(ordered):
        stmt = _insert(conn, messages).on_conflict_do_nothing(
            index_elements=["channel", "message_id"]
        )
        conn.execute(stmt, list(chunk))


def lock_messages(conn: Connection, keys: Sequence[tuple[str, str]]) -> list[Row[Any]]:
    """The messages with these (channel, message_id) keys, locked on PostgreSQL."""
    out: list[Row[Any]] = []
    for chunk in _chunks(sorted(keys)):
        stmt = (
            select(messages)
            .where(tuple_(messages.c.channel, messages.c.message_id).in_(list(chunk)))
            .order_by(messages.c.channel, messages.c.message_id)
        )
        if conn.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        out.extend(conn.execute(stmt))
    return out


def update_messages(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Each row has b_id and the full set of updatable columns (one statement shape, so the
    driver can batch it)."""
    if not rows:
        return
    columns = [k for k in rows[0] if k != "b_id"]
    stmt = (
        update(messages)
        .where(messages.c.id == bindparam("b_id"))
        .values({c: bindparam(c) for c in columns})
    )
    conn.execute(stmt, list(rows))


# ---- read API ---------------------------------------------------------------------------------


def get_raw(conn: Connection, raw_id: str) -> Row[Any] | None:
    return conn.execute(select(raw_webhooks).where(raw_webhooks.c.id == raw_id)).first()


def events_for_raw(conn: Connection, raw_id: str) -> list[Row[Any]]:
    return list(conn.execute(select(events).where(events.c.raw_id == raw_id).order_by(events.c.id)))


def get_messages(conn: Connection, message_id: str, channel: str | None) -> list[Row[Any]]:
    stmt = select(messages).where(messages.c.message_id == message_id)
    if channel:
        stmt = stmt.where(messages.c.channel == channel)
    return list(conn.execute(stmt.order_by(messages.c.id)))


def timeline(conn: Connection, channel: str, message_id: str) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(events)
            .where(events.c.channel == channel, events.c.message_id == message_id)
            .order_by(events.c.id)
        )
    )


def list_messages(
    conn: Connection, filters: dict[str, Any], before_id: int | None, limit: int
) -> list[Row[Any]]:
    stmt = select(messages)
    for name in ("channel", "state", "direction", "sender", "recipient", "bulk_id"):
        if filters.get(name) is not None:
            stmt = stmt.where(messages.c[name] == filters[name])
    if filters.get("since") is not None:
        stmt = stmt.where(messages.c.updated_at >= filters["since"])
    if filters.get("until") is not None:
        stmt = stmt.where(messages.c.updated_at < filters["until"])
    if before_id is not None:
        stmt = stmt.where(messages.c.id < before_id)
    return list(conn.execute(stmt.order_by(messages.c.id.desc()).limit(limit)))


def list_events(
    conn: Connection, filters: dict[str, Any], before_id: int | None, limit: int
) -> list[Row[Any]]:
    stmt = select(events)
    for name in ("channel", "kind", "message_id", "direction", "source", "sub_type"):
        if filters.get(name) is not None:
            stmt = stmt.where(events.c[name] == filters[name])
    if filters.get("webhook_id") is not None:
        stmt = stmt.where(events.c.raw_id == filters["webhook_id"])
    if filters.get("since") is not None:
        stmt = stmt.where(events.c.received_at >= filters["since"])
    if filters.get("until") is not None:
        stmt = stmt.where(events.c.received_at < filters["until"])
    if before_id is not None:
        stmt = stmt.where(events.c.id < before_id)
    return list(conn.execute(stmt.order_by(events.c.id.desc()).limit(limit)))
