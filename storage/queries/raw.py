"""The raw inbox: requests as they arrived (webhooks, and pull responses stored by the
reconciler), claimed by the processor and marked with what became of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update

from storage.models import RAW_PENDING, raw_webhooks
from storage.queries._sql import chunks, encode_rows, placeholder

RAW_COLUMNS = tuple(c.name for c in raw_webhooks.columns)


def insert_raw(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """One executemany for a whole group commit, at driver level (the ack waits for it)."""
    mark = placeholder(conn)
    sql = (
        f"INSERT INTO raw_webhooks ({','.join(RAW_COLUMNS)}) "
        f"VALUES ({','.join([mark] * len(RAW_COLUMNS))})"
    )
    conn.exec_driver_sql(
        sql, [tuple(v) for v in encode_rows(conn, raw_webhooks, RAW_COLUMNS, rows)]
    )


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
    for chunk in chunks(ids):
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
    min_id: str | None = None,
    ids: Sequence[str] | None = None,
    channel: str | None = None,
) -> list[str]:
    stmt = select(raw_webhooks.c.id).order_by(raw_webhooks.c.id)
    if states:
        stmt = stmt.where(raw_webhooks.c.state.in_(states))
    if min_id is not None:  # the primary key bounds the scan; received_at makes it exact
        stmt = stmt.where(raw_webhooks.c.id >= min_id)
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


def get_raw(conn: Connection, raw_id: str) -> Row[Any] | None:
    return conn.execute(select(raw_webhooks).where(raw_webhooks.c.id == raw_id)).first()
