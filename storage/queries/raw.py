"""The raw inbox: requests as they arrived (webhooks, and pull responses stored by the
reconciler), claimed by the processor and marked with what became of them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypedDict

from sqlalchemy import Connection, bindparam, func, select, update

from storage.ids import new_id
from storage.models import RAW_PENDING, raw_webhooks
from storage.queries._sql import (
    chunks,
    columns_of,
    encode_rows,
    locked,
    placeholder,
    record,
    records,
)


class RawRow(TypedDict):
    """A raw_webhooks row as it is written (every column)."""

    id: str
    channel: str
    received_at: datetime
    content_type: str | None
    body: bytes
    headers: dict[str, str]
    remote_addr: str | None
    source: str
    priority: int
    state: str
    attempts: int
    item_count: int | None
    error: str | None
    processed_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredRaw:
    """A raw_webhooks row as it is read."""

    id: str
    channel: str
    received_at: datetime
    content_type: str | None
    body: bytes
    headers: dict[str, str]
    remote_addr: str | None
    source: str
    priority: int
    state: str
    attempts: int
    item_count: int | None
    error: str | None
    processed_at: datetime | None


class RawOutcome(TypedDict):
    """What became of one raw row (mark_raw); its attempts go up by one."""

    raw_id: str
    state: str
    error: str | None
    item_count: int | None
    processed_at: datetime


RAW_COLUMNS = tuple(c.name for c in raw_webhooks.columns)


def raw_row(
    *,
    channel: str,
    body: bytes,
    content_type: str | None,
    headers: dict[str, str],
    remote_addr: str | None,
    inbound: bool,
    source: str = "webhook",
    received_at: datetime | None = None,
) -> RawRow:
    """A new raw inbox row, pending, with a time-ordered id (received now unless given). A
    body that carries inbound messages is claimed before the rest (priority 0), so that a
    flood of delivery reports never delays a reply."""
    return {
        "id": new_id(),
        "channel": channel,
        "received_at": received_at or datetime.now(UTC),
        "content_type": content_type,
        "body": body,
        "headers": headers,
        "remote_addr": remote_addr,
        "source": source,
        "priority": 0 if inbound else 1,
        "state": RAW_PENDING,
        "attempts": 0,
        "item_count": None,
        "error": None,
        "processed_at": None,
    }


_STORED = columns_of(raw_webhooks, StoredRaw)


def insert_raw(conn: Connection, rows: Sequence[RawRow]) -> None:
    """One executemany for a whole group commit, at driver level (the ack waits for it)."""
    mark = placeholder(conn)
    sql = (
        f"INSERT INTO raw_webhooks ({','.join(RAW_COLUMNS)}) "
        f"VALUES ({','.join([mark] * len(RAW_COLUMNS))})"
    )
    conn.exec_driver_sql(
        sql, [tuple(v) for v in encode_rows(conn, raw_webhooks, RAW_COLUMNS, rows)]
    )


# A batch's bodies together, at most (the first row is taken whatever its size): a worker
# holds its batch's bodies, their parsed items and their rows in memory at once, and 200
# buckets of 4 MB would be gigabytes (one such bucket parses into tens of MB). 200 delivery
# reports of a few KB never reach it.
CLAIM_MAX_BYTES = 4 * 1024 * 1024


def claim_raw(
    conn: Connection, limit: int, max_attempts: int, max_bytes: int = CLAIM_MAX_BYTES
) -> list[StoredRaw]:
    """Pending rows, inbound first, oldest first, as many as fit in max_bytes of bodies. On
    PostgreSQL the rows stay locked until the caller's transaction ends and other workers skip
    them; SQLite has one writer at a time. The sizes are read first (without the bodies), so
    that a backlog of big bodies is never loaded whole."""
    size = func.length(raw_webhooks.c.body)
    if conn.dialect.name == "postgresql":
        size = func.octet_length(raw_webhooks.c.body)
    stmt = (
        select(raw_webhooks.c.id, size)
        .where(raw_webhooks.c.state == RAW_PENDING, raw_webhooks.c.attempts < max_attempts)
        .order_by(raw_webhooks.c.priority, raw_webhooks.c.id)
        .limit(limit)
    )
    ids: list[str] = []
    total = 0
    for raw_id, length in conn.execute(locked(conn, stmt, skip_locked=True)):
        total += int(length or 0)
        if ids and total > max_bytes:
            break
        ids.append(raw_id)
    if not ids:
        return []
    rows = {r.id: r for r in raw_by_ids(conn, ids)}
    return [rows[i] for i in ids if i in rows]


def raw_by_ids(conn: Connection, ids: Sequence[str]) -> list[StoredRaw]:
    """These rows whatever their state (replay), locked on PostgreSQL."""
    out: list[StoredRaw] = []
    for chunk in chunks(ids):
        stmt = select(*_STORED).where(raw_webhooks.c.id.in_(chunk)).order_by(raw_webhooks.c.id)
        out.extend(records(StoredRaw, conn.execute(locked(conn, stmt))))
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
    return [str(r[0]) for r in conn.execute(stmt)]


def mark_raw(conn: Connection, outcomes: Sequence[RawOutcome]) -> None:
    """Write what became of these rows, one statement for all."""
    if not outcomes:
        return
    stmt = (
        update(raw_webhooks)
        .where(raw_webhooks.c.id == bindparam("raw_id"))
        .values(
            state=bindparam("state"),
            error=bindparam("error"),
            item_count=bindparam("item_count"),
            processed_at=bindparam("processed_at"),
            attempts=raw_webhooks.c.attempts + 1,
        )
    )
    conn.execute(stmt, list(outcomes))


def get_raw(conn: Connection, raw_id: str) -> StoredRaw | None:
    return record(
        StoredRaw, conn.execute(select(*_STORED).where(raw_webhooks.c.id == raw_id)).first()
    )


def oldest_pending(conn: Connection) -> datetime | None:
    """When the oldest pending row arrived: the first of each priority by the claim index
    (state, priority, id; ids are time-ordered), the earlier of the two."""
    found = []
    for priority in (0, 1):
        stmt = (
            select(raw_webhooks.c.received_at)
            .where(raw_webhooks.c.state == RAW_PENDING, raw_webhooks.c.priority == priority)
            .order_by(raw_webhooks.c.id)
            .limit(1)
        )
        value = conn.execute(stmt).scalar()
        if value is not None:
            found.append(value)
    return min(found) if found else None


def pending_count(conn: Connection) -> int:
    stmt = select(func.count()).select_from(raw_webhooks).where(raw_webhooks.c.state == RAW_PENDING)
    return int(conn.execute(stmt).scalar() or 0)
