"""Messages and their events: the processor's inserts and folds, the channel lookup of the
auto path, the rules' message facts, and the read API's messages, events and timelines."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, select, tuple_, update

from storage.models import events, messages
from storage.queries._sql import chunks, encode_rows, multi_insert, placeholder

# The processor writes these at driver level (see _sql.py); the database chooses the ids.
EVENT_COLUMNS = tuple(c.name for c in events.columns if c.name != "id")
MESSAGE_COLUMNS = tuple(c.name for c in messages.columns if c.name != "id")


def insert_events_ignoring_duplicates(
    conn: Connection, rows: Sequence[dict[str, Any]]
) -> dict[str, int]:
    """Insert events; those whose dedupe_key exists already are skipped by the database (not by
    a check-then-insert). Returns the new keys with their event ids."""
    got = multi_insert(conn, events, EVENT_COLUMNS, rows, "dedupe_key", "dedupe_key, id")
    return {str(r[0]): int(r[1]) for r in got}


def insert_new_messages(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    """Insert messages that do not exist yet; returns the (channel, message_id) keys inserted.
    A key not returned was created meanwhile by another worker: the caller locks and folds it.
    Rows go in key order, so concurrent workers lock in the same order and cannot deadlock."""
    ordered = sorted(rows, key=lambda r: (r["channel"], r["message_id"]))
    got = multi_insert(
        conn, messages, MESSAGE_COLUMNS, ordered, "channel, message_id", "channel, message_id"
    )
    return {(r[0], r[1]) for r in got}


def lock_messages(conn: Connection, keys: Sequence[tuple[str, str]]) -> list[Row[Any]]:
    """The messages with these (channel, message_id) keys, locked on PostgreSQL."""
    out: list[Row[Any]] = []
    for chunk in chunks(sorted(keys)):
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
    """Each row has id and every column of MESSAGE_COLUMNS."""
    if not rows:
        return
    mark = placeholder(conn)
    sets = ",".join(f"{c}={mark}" for c in MESSAGE_COLUMNS)
    sql = f"UPDATE messages SET {sets} WHERE id={mark}"
    encoded = encode_rows(conn, messages, MESSAGE_COLUMNS, rows)
    params = [(*values, row["id"]) for values, row in zip(encoded, rows, strict=True)]
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


def message_states(conn: Connection, keys: Sequence[tuple[str, str]]) -> list[Row[Any]]:
    """The messages of these (channel, message_id) keys, for the rules' facts."""
    out: list[Row[Any]] = []
    cols = (
        messages.c.channel,
        messages.c.message_id,
        messages.c.state,
        messages.c.sent_at,
        messages.c.created_at,
        messages.c.action_id,
        messages.c.callback_data,
        messages.c.application_id,
        messages.c.entity_id,
    )
    for chunk in chunks(sorted(set(keys)), 200):
        out.extend(
            conn.execute(
                select(*cols).where(tuple_(messages.c.channel, messages.c.message_id).in_(chunk))
            )
        )
    return out


def get_event(conn: Connection, event_id: int) -> Row[Any] | None:
    return conn.execute(select(events).where(events.c.id == event_id)).first()


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
