"""What the web console reads that the read API does not: a window's traffic counted by bucket,
channel, direction and state; the backlogs; raw webhooks listed without their bodies; messages
of a contact; the opt-out audit trail newest first. Every query is bounded: by a time window
on an index, or by a LIMIT on a key."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select, text

from storage.models import (
    RAW_FAILED,
    RAW_PENDING,
    messages,
    opt_out_audit,
    outbox,
    raw_webhooks,
)
from storage.queries._sql import columns_of, records
from storage.queries.messages import StoredMessage
from storage.queries.optouts import StoredAudit

# Characters of the stored UTC time that name a bucket: "2026-12-06 05:38" is a minute.
BUCKET_WIDTHS = {"minute": 16, "hour": 13, "day": 10}


@dataclass(frozen=True, slots=True)
class TrafficCount:
    """How many messages of one channel, direction and state were created in one bucket."""

    bucket: str
    channel: str
    direction: str
    state: str
    count: int


@dataclass(frozen=True, slots=True)
class Backlog:
    """What waits: raw webhooks not processed yet (and the oldest's arrival), failed ones, and
    the outbox's actions by state (only the states a person watches)."""

    raw_pending: int
    raw_oldest: datetime | None
    raw_failed: int
    actions: dict[str, int]
    action_oldest_due: datetime | None


@dataclass(frozen=True, slots=True)
class RawSummary:
    """A raw_webhooks row without its body and headers (the lists show many)."""

    id: str
    channel: str
    received_at: datetime
    content_type: str | None
    remote_addr: str | None
    source: str
    state: str
    attempts: int
    item_count: int | None
    error: str | None
    processed_at: datetime | None


@dataclass(frozen=True, slots=True)
class RawFilter:
    """The console's webhook filters (None: any); min_id/max_id bound the time-ordered id."""

    channel: str | None = None
    state: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_id: str | None = None
    max_id: str | None = None


# The raw inbox's priorities: 0 for bodies with inbound messages, 1 for the rest (raw.raw_row).
RAW_PRIORITIES = (0, 1)
WATCHED_ACTION_STATES = ("pending", "running", "failed", "dead", "unknown_outcome")
_SUMMARY = columns_of(raw_webhooks, RawSummary)
_MESSAGE = columns_of(messages, StoredMessage)
_AUDIT = columns_of(opt_out_audit, StoredAudit)


def _bucket(conn: Connection, unit: str) -> ColumnElement[Any]:
    if conn.dialect.name == "postgresql":  # date_trunc costs less per row than to_char
        return func.date_trunc(unit, func.timezone("UTC", messages.c.created_at))
    # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff" in UTC (storage/types.py): its first
    # characters name the bucket.
    return func.substr(messages.c.created_at, 1, BUCKET_WIDTHS[unit])


def _label(bucket: Any, unit: str) -> str:
    if isinstance(bucket, datetime):
        return bucket.strftime("%Y-%m-%d %H:%M")[: BUCKET_WIDTHS[unit]]
    return str(bucket)


def traffic(conn: Connection, since: datetime, unit: str) -> list[TrafficCount]:
    """Messages created since `since`, counted by bucket (minute, hour or day, in UTC),
    channel, direction and state; ix_messages_created covers it."""
    bucket = _bucket(conn, unit).label("bucket")
    stmt = (
        select(
            bucket,
            messages.c.channel,
            messages.c.direction,
            messages.c.state,
            func.count().label("n"),
        )
        .where(messages.c.created_at >= since)
        .group_by(bucket, messages.c.channel, messages.c.direction, messages.c.state)
    )
    return [TrafficCount(_label(b, unit), c, d, s, int(n)) for b, c, d, s, n in conn.execute(stmt)]


def backlog(conn: Connection) -> Backlog:
    """The backlogs, each read on the index of its state column."""
    raw_state = raw_webhooks.c.state
    pending = conn.execute(
        select(func.count(), func.min(raw_webhooks.c.id)).where(raw_state == RAW_PENDING)
    ).one()
    oldest = None
    if pending[1] is not None:
        oldest = conn.execute(
            select(raw_webhooks.c.received_at).where(raw_webhooks.c.id == pending[1])
        ).scalar()
    failed = conn.execute(select(func.count()).where(raw_state == RAW_FAILED)).scalar() or 0
    by_state = conn.execute(
        select(outbox.c.state, func.count(), func.min(outbox.c.next_attempt_at))
        .where(outbox.c.state.in_(WATCHED_ACTION_STATES))
        .group_by(outbox.c.state)
    ).all()
    counts = {state: int(n) for state, n, _ in by_state}
    due = [when for state, _, when in by_state if state == "pending"]
    return Backlog(int(pending[0]), oldest, int(failed), counts, due[0] if due else None)


def list_raw(
    conn: Connection, where: RawFilter, before_id: str | None, limit: int
) -> list[RawSummary]:
    """Raw webhooks newest first, below the cursor before_id, without their bodies. With a
    state, one query per priority, each walking ix_raw_webhooks_claim (state, priority, id)
    backwards: a rare state (failed) is then found without reading the whole inbox."""
    stmt = select(*_SUMMARY)
    if where.channel:
        stmt = stmt.where(raw_webhooks.c.channel == where.channel)
    if where.min_id is not None:  # the primary key bounds the scan; received_at makes it exact
        stmt = stmt.where(raw_webhooks.c.id >= where.min_id)
    if where.max_id is not None:
        stmt = stmt.where(raw_webhooks.c.id < where.max_id)
    if where.since is not None:
        stmt = stmt.where(raw_webhooks.c.received_at >= where.since)
    if where.until is not None:
        stmt = stmt.where(raw_webhooks.c.received_at < where.until)
    if before_id:
        stmt = stmt.where(raw_webhooks.c.id < before_id)
    stmt = stmt.order_by(raw_webhooks.c.id.desc()).limit(limit)
    if not where.state:
        return records(RawSummary, conn.execute(stmt))
    found: list[RawSummary] = []
    for priority in RAW_PRIORITIES:
        narrowed = stmt.where(
            raw_webhooks.c.state == where.state, raw_webhooks.c.priority == priority
        )
        found.extend(records(RawSummary, conn.execute(narrowed)))
    return sorted(found, key=lambda r: r.id, reverse=True)[:limit]


def messages_with_id(conn: Connection, message_id: str) -> list[StoredMessage]:
    """The messages with this id on any channel. The unique index leads with the channel, so
    the channels in use are read first by skipping through that index (a recursive query: a
    few probes per channel), then each (channel, id) is one lookup; PostgreSQL would otherwise
    read the whole table for an id alone."""
    channels = [
        str(c)
        for (c,) in conn.execute(
            text(
                "WITH RECURSIVE ch(c) AS ("
                " SELECT min(channel) FROM messages"
                " UNION ALL"
                " SELECT (SELECT min(channel) FROM messages WHERE channel > ch.c)"
                " FROM ch WHERE ch.c IS NOT NULL"
                ") SELECT c FROM ch WHERE c IS NOT NULL"
            )
        )
    ]
    if not channels:
        return []
    stmt = select(*_MESSAGE).where(
        messages.c.channel.in_(channels), messages.c.message_id == message_id
    )
    return records(StoredMessage, conn.execute(stmt.order_by(messages.c.id)))


def messages_of_contact(
    conn: Connection, writings: Sequence[str], limit: int
) -> list[StoredMessage]:
    """Messages to any of these writings of a contact, or inbound from one, newest first. Two
    queries, each on its own index (ix_messages_recipient, ix_messages_inbound_sender), so
    that no planner walks the whole table backwards looking for a rare number."""
    wanted = sorted(set(writings))
    to = select(*_MESSAGE).where(messages.c.recipient.in_(wanted))
    inbound = select(*_MESSAGE).where(
        messages.c.sender.in_(wanted), messages.c.direction == "inbound"
    )
    found: dict[int, StoredMessage] = {}
    for stmt in (to, inbound):
        rows = conn.execute(stmt.order_by(messages.c.id.desc()).limit(limit))
        found.update((m.id, m) for m in records(StoredMessage, rows))
    return [found[i] for i in sorted(found, reverse=True)[:limit]]


def recent_audit(conn: Connection, before_id: int | None, limit: int) -> list[StoredAudit]:
    """The opt-out audit trail, newest first, below the cursor before_id."""
    stmt = select(*_AUDIT)
    if before_id is not None:
        stmt = stmt.where(opt_out_audit.c.id < before_id)
    return records(StoredAudit, conn.execute(stmt.order_by(opt_out_audit.c.id.desc()).limit(limit)))
