"""Messages and their events: the processor's inserts and folds, the channel lookup of the
auto path, the rules' message facts, and the read API's messages, events and timelines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy import Connection, exists, select, tuple_, update

from storage.models import events, messages
from storage.queries._sql import (
    chunks,
    columns_of,
    encode_rows,
    locked,
    multi_insert,
    placeholder,
    record,
    records,
)


class StatusFields(TypedDict):
    """Infobip's status, error and price, flattened: columns of both messages and events."""

    status_group_id: int | None
    status_group_name: str | None
    status_id: int | None
    status_name: str | None
    status_description: str | None
    error_group_id: int | None
    error_group_name: str | None
    error_id: int | None
    error_name: str | None
    error_description: str | None
    error_permanent: bool | None
    price_amount: Decimal | None
    price_currency: str | None


class EventRow(StatusFields):
    """An events row as it is written (every column but the id the database gives it)."""

    dedupe_key: str
    raw_id: str
    item_index: int
    source: str
    channel: str
    channel_uncertain: bool
    kind: str
    sub_type: str | None
    message_id: str | None
    direction: str | None
    sender: str | None
    recipient: str | None
    occurred_at: datetime | None
    received_at: datetime
    data: dict[str, Any]  # the item as parsed: free-form JSON
    note: str | None


class MessageRow(StatusFields):
    """A messages row as it is written (every column but its id)."""

    channel: str
    message_id: str
    channel_uncertain: bool
    action_id: str | None
    direction: str
    state: str
    sender: str | None
    recipient: str | None
    bulk_id: str | None
    callback_data: str | None
    application_id: str | None
    entity_id: str | None
    sent_at: datetime | None
    done_at: datetime | None
    seen_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredStatus:
    """Infobip's status, error and price as read (the first columns of StoredEvent and
    StoredMessage)."""

    status_group_id: int | None
    status_group_name: str | None
    status_id: int | None
    status_name: str | None
    status_description: str | None
    error_group_id: int | None
    error_group_name: str | None
    error_id: int | None
    error_name: str | None
    error_description: str | None
    error_permanent: bool | None
    price_amount: Decimal | None
    price_currency: str | None


@dataclass(frozen=True, slots=True)
class StoredEvent(StoredStatus):
    """An events row as it is read."""

    id: int
    dedupe_key: str
    raw_id: str
    item_index: int
    source: str
    channel: str
    channel_uncertain: bool
    kind: str
    sub_type: str | None
    message_id: str | None
    direction: str | None
    sender: str | None
    recipient: str | None
    occurred_at: datetime | None
    received_at: datetime
    data: dict[str, Any]
    note: str | None


@dataclass(frozen=True, slots=True)
class StoredMessage(StoredStatus):
    """A messages row as it is read."""

    id: int
    channel: str
    message_id: str
    channel_uncertain: bool
    action_id: str | None
    direction: str
    state: str
    sender: str | None
    recipient: str | None
    bulk_id: str | None
    callback_data: str | None
    application_id: str | None
    entity_id: str | None
    sent_at: datetime | None
    done_at: datetime | None
    seen_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What the rules read of a stored message."""

    channel: str
    message_id: str
    state: str
    sent_at: datetime | None
    created_at: datetime
    action_id: str | None
    callback_data: str | None
    application_id: str | None
    entity_id: str | None


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """The read API's filters on messages (None: any); since/until bound updated_at."""

    channel: str | None = None
    state: str | None = None
    direction: str | None = None
    sender: str | None = None
    recipient: str | None = None
    bulk_id: str | None = None
    application_id: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


# The columns a message list filters on by equality (the read API's filters of the same names).
MESSAGE_FILTERS = (
    "channel",
    "state",
    "direction",
    "sender",
    "recipient",
    "bulk_id",
    "application_id",
    "entity_id",
)


@dataclass(frozen=True, slots=True)
class EventFilter:
    """The read API's filters on events (None: any); since/until bound received_at."""

    channel: str | None = None
    kind: str | None = None
    message_id: str | None = None
    direction: str | None = None
    source: str | None = None
    sub_type: str | None = None
    webhook_id: str | None = None
    # Events of the messages of this CPaaS X application (entity).
    application_id: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


# The processor writes these at driver level (see _sql.py); the database chooses the ids.
EVENT_COLUMNS = tuple(c.name for c in events.columns if c.name != "id")
MESSAGE_COLUMNS = tuple(c.name for c in messages.columns if c.name != "id")
_EVENT = columns_of(events, StoredEvent)
_MESSAGE = columns_of(messages, StoredMessage)
_FACTS = columns_of(messages, MessageFacts)


# ---- the processor ------------------------------------------------------------------------------


def insert_events_ignoring_duplicates(conn: Connection, rows: Sequence[EventRow]) -> dict[str, int]:
    """Insert events; those whose dedupe_key exists already are skipped by the database (not by
    a check-then-insert). Returns the new keys with their event ids."""
    got = multi_insert(conn, events, EVENT_COLUMNS, rows, "dedupe_key", "dedupe_key, id")
    return {str(r[0]): int(r[1]) for r in got}


def insert_new_messages(conn: Connection, rows: Sequence[MessageRow]) -> set[tuple[str, str]]:
    """Insert messages that do not exist yet; returns the (channel, message_id) keys inserted.
    A key not returned was created meanwhile by another worker: the caller locks and folds it.
    Rows go in key order, so concurrent workers lock in the same order and cannot deadlock."""
    ordered = sorted(rows, key=lambda r: (r["channel"], r["message_id"]))
    got = multi_insert(
        conn, messages, MESSAGE_COLUMNS, ordered, "channel, message_id", "channel, message_id"
    )
    return {(str(r[0]), str(r[1])) for r in got}


def lock_messages(conn: Connection, keys: Sequence[tuple[str, str]]) -> list[StoredMessage]:
    """The messages with these (channel, message_id) keys, locked on PostgreSQL."""
    out: list[StoredMessage] = []
    for chunk in chunks(sorted(keys)):
        stmt = (
            select(*_MESSAGE)
            .where(tuple_(messages.c.channel, messages.c.message_id).in_(list(chunk)))
            .order_by(messages.c.channel, messages.c.message_id)
        )
        out.extend(records(StoredMessage, conn.execute(locked(conn, stmt))))
    return out


def update_messages(conn: Connection, rows: Sequence[tuple[int, MessageRow]]) -> None:
    """Rewrite these messages whole: (id, every column but the id) each."""
    if not rows:
        return
    mark = placeholder(conn)
    sets = ",".join(f"{c}={mark}" for c in MESSAGE_COLUMNS)
    sql = f"UPDATE messages SET {sets} WHERE id={mark}"
    encoded = encode_rows(conn, messages, MESSAGE_COLUMNS, [row for _, row in rows])
    params = [(*values, row_id) for values, (row_id, _) in zip(encoded, rows, strict=True)]
    conn.exec_driver_sql(sql, params)


def channels_of_messages(conn: Connection, message_ids: Sequence[str]) -> dict[str, set[str]]:
    """For each message id, the channels that have a message with it."""
    out: dict[str, set[str]] = {}
    for chunk in chunks(sorted(set(message_ids))):
        rows = conn.execute(
            select(messages.c.message_id, messages.c.channel).where(
                messages.c.message_id.in_(list(chunk)), messages.c.channel_uncertain.is_(False)
            )
        )
        for message_id, channel in rows:
            out.setdefault(message_id, set()).add(channel)
    return out


def link_messages(conn: Connection, keys: Sequence[tuple[str, str]], action_id: str) -> None:
    """Messages that already existed (their report came first) learn which action sent them."""
    for channel, message_id in keys:
        conn.execute(
            update(messages)
            .where(
                messages.c.channel == channel,
                messages.c.message_id == message_id,
                messages.c.action_id.is_(None),
            )
            .values(action_id=action_id)
        )


def message_states(conn: Connection, keys: Sequence[tuple[str, str]]) -> list[MessageFacts]:
    """The messages of these (channel, message_id) keys, for the rules' facts."""
    out: list[MessageFacts] = []
    for chunk in chunks(sorted(set(keys)), 200):
        stmt = select(*_FACTS).where(tuple_(messages.c.channel, messages.c.message_id).in_(chunk))
        out.extend(records(MessageFacts, conn.execute(stmt)))
    return out


# ---- reading ------------------------------------------------------------------------------------


def get_event(conn: Connection, event_id: int) -> StoredEvent | None:
    return record(StoredEvent, conn.execute(select(*_EVENT).where(events.c.id == event_id)).first())


def events_for_raw(conn: Connection, raw_id: str) -> list[StoredEvent]:
    stmt = select(*_EVENT).where(events.c.raw_id == raw_id).order_by(events.c.id)
    return records(StoredEvent, conn.execute(stmt))


def events_since(
    conn: Connection, since: datetime, until: datetime | None, after_id: int, limit: int
) -> list[StoredEvent]:
    """The events received in [since, until), in order, from after the event after_id."""
    stmt = select(*_EVENT).where(events.c.received_at >= since, events.c.id > after_id)
    if until is not None:
        stmt = stmt.where(events.c.received_at < until)
    return records(StoredEvent, conn.execute(stmt.order_by(events.c.id).limit(limit)))


def get_messages(conn: Connection, message_id: str, channel: str | None) -> list[StoredMessage]:
    stmt = select(*_MESSAGE).where(messages.c.message_id == message_id)
    if channel:
        stmt = stmt.where(messages.c.channel == channel)
    return records(StoredMessage, conn.execute(stmt.order_by(messages.c.id)))


def timeline(conn: Connection, channel: str, message_id: str) -> list[StoredEvent]:
    stmt = (
        select(*_EVENT)
        .where(events.c.channel == channel, events.c.message_id == message_id)
        .order_by(events.c.id)
    )
    return records(StoredEvent, conn.execute(stmt))


def list_messages(
    conn: Connection, where: MessageFilter, before_id: int | None, limit: int
) -> list[StoredMessage]:
    """Newest first, below the cursor before_id."""
    stmt = select(*_MESSAGE)
    for name in MESSAGE_FILTERS:
        value = getattr(where, name)
        if value is not None:
            stmt = stmt.where(messages.c[name] == value)
    if where.since is not None:
        stmt = stmt.where(messages.c.updated_at >= where.since)
    if where.until is not None:
        stmt = stmt.where(messages.c.updated_at < where.until)
    if before_id is not None:
        stmt = stmt.where(messages.c.id < before_id)
    return records(StoredMessage, conn.execute(stmt.order_by(messages.c.id.desc()).limit(limit)))


def list_events(
    conn: Connection, where: EventFilter, before_id: int | None, limit: int
) -> list[StoredEvent]:
    """Newest first, below the cursor before_id."""
    stmt = select(*_EVENT)
    for name in ("channel", "kind", "message_id", "direction", "source", "sub_type"):
        value = getattr(where, name)
        if value is not None:
            stmt = stmt.where(events.c[name] == value)
    if where.webhook_id is not None:
        stmt = stmt.where(events.c.raw_id == where.webhook_id)
    for name in ("application_id", "entity_id"):
        value = getattr(where, name)
        if value is not None:
            stmt = stmt.where(
                exists().where(
                    messages.c.channel == events.c.channel,
                    messages.c.message_id == events.c.message_id,
                    messages.c[name] == value,
                )
            )
    if where.since is not None:
        stmt = stmt.where(events.c.received_at >= where.since)
    if where.until is not None:
        stmt = stmt.where(events.c.received_at < where.until)
    if before_id is not None:
        stmt = stmt.where(events.c.id < before_id)
    return records(StoredEvent, conn.execute(stmt.order_by(events.c.id.desc()).limit(limit)))
