"""Named queries: the SQL that the service runs, in one place, the same on SQLite and
PostgreSQL (dialect differences are handled here and nowhere else)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import JSON, Boolean, Connection, Row, bindparam, func, select, tuple_, update

from storage.models import (
    RAW_PENDING,
    calls,
    events,
    lookups,
    masking_sessions,
    message_tags,
    messages,
    opt_out_audit,
    opt_out_reviews,
    opt_outs,
    outbox,
    raw_webhooks,
    reconcile_runs,
    rule_decisions,
)
from storage.types import DecimalString, UTCDateTime

# Bound on parameters per statement (SQLite allows 32766; keep well under it).
_CHUNK = 500


def _chunks(seq: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


# ---- raw inbox --------------------------------------------------------------------------------


RAW_COLUMNS = tuple(c.name for c in raw_webhooks.columns)


def insert_raw(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """One executemany for a whole group commit, at driver level (the ack waits for it)."""
    mark = _placeholder(conn)
    sql = (
        f"INSERT INTO raw_webhooks ({','.join(RAW_COLUMNS)}) "
        f"VALUES ({','.join([mark] * len(RAW_COLUMNS))})"
    )
    conn.exec_driver_sql(
        sql, [tuple(v) for v in _encode_rows(conn, raw_webhooks, RAW_COLUMNS, rows)]
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


# ---- events and messages ----------------------------------------------------------------------


# The hot path writes with driver-level SQL: one multi-row statement per chunk, values encoded
# here once, instead of SQLAlchemy's per-parameter type processing (five times faster on a
# 2,000-result bucket). Reads stay on SQLAlchemy Core, which decodes the same storage formats.

EVENT_COLUMNS = tuple(c.name for c in events.columns if c.name != "id")
MESSAGE_COLUMNS = tuple(c.name for c in messages.columns if c.name != "id")


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> str:
    """JSON for the JSON columns; Decimals (exact prices in parsed items) become numbers.
    orjson: the standard library's encoder takes 14 µs for one delivery report item, orjson 2."""
    return orjson.dumps(value, default=_json_default).decode()


@lru_cache(maxsize=8192)  # a batch repeats its instants (receipt time, a bucket's doneAt)
def _sqlite_datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("naive datetime in a UTCDateTime column")
    # SQLAlchemy's SQLite DATETIME storage format, in UTC, so that Core reads it back.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _pg_datetime(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime in a UTCDateTime column")
    return value


def _decimal(value: Decimal) -> str:
    return format(value, "f")


def _encoders(conn: Connection, table: Any, columns: Sequence[str]) -> list[Any]:
    """For each column, the function that turns its Python value into what the driver stores
    (matching what SQLAlchemy writes and reads), or None when the value goes as it is."""
    sqlite = conn.dialect.name == "sqlite"
    out: list[Any] = []
    for name in columns:
        column_type = table.c[name].type
        if isinstance(column_type, UTCDateTime):
            out.append(_sqlite_datetime if sqlite else _pg_datetime)
        elif isinstance(column_type, DecimalString):
            out.append(_decimal)
        elif isinstance(column_type, JSON):
            out.append(dumps)
        elif isinstance(column_type, Boolean) and sqlite:
            out.append(int)
        else:
            out.append(None)
    return out


def _encode_rows(
    conn: Connection, table: Any, columns: Sequence[str], rows: Iterable[dict[str, Any]]
) -> Iterable[list[Any]]:
    encoded = [(i, enc) for i, enc in enumerate(_encoders(conn, table, columns)) if enc is not None]
    for row in rows:
        values = [row[c] for c in columns]
        for i, enc in encoded:
            value = values[i]
            if value is not None:
                values[i] = enc(value)
        yield values


def _placeholder(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


def _multi_insert(
    conn: Connection,
    table: Any,
    columns: Sequence[str],
    rows: Sequence[dict[str, Any]],
    conflict: str,
    returning: str,
) -> list[tuple[Any, ...]]:
    """INSERT ... ON CONFLICT (conflict) DO NOTHING RETURNING returning, for many rows."""
    mark = _placeholder(conn)
    one = "(" + ",".join([mark] * len(columns)) + ")"
    head = f"INSERT INTO {table.name} ({','.join(columns)}) VALUES "
    tail = f" ON CONFLICT ({conflict}) DO NOTHING RETURNING {returning}"
    out: list[tuple[Any, ...]] = []
    if conn.dialect.name == "postgresql":
        # psycopg pipelines an executemany with RETURNING; one multi-row statement would cost
        # more to convert client-side (a query string with thousands of placeholders).
        cursor = conn.connection.cursor()
        try:
            cursor.executemany(  # type: ignore[call-arg]
                head + one + tail,
                [tuple(v) for v in _encode_rows(conn, table, columns, rows)],
                returning=True,
            )
            while True:
                out.extend(tuple(r) for r in cursor.fetchall())
                if not cursor.nextset():
                    break
        finally:
            cursor.close()
        return out
    # SQLite: multi-row VALUES (its executemany cannot return rows); 32766 parameters at most.
    per_chunk = max(1, min(_CHUNK, 30000 // len(columns)))
    for chunk in _chunks(rows, per_chunk):
        params = [v for values in _encode_rows(conn, table, columns, chunk) for v in values]
        sql = head + ",".join([one] * len(chunk)) + tail
        out.extend(tuple(r) for r in conn.exec_driver_sql(sql, tuple(params)))
    return out


def insert_events_ignoring_duplicates(
    conn: Connection, rows: Sequence[dict[str, Any]]
) -> dict[str, int]:
    """Insert events; those whose dedupe_key exists already are skipped by the database (not by
    a check-then-insert). Returns the new keys with their event ids."""
    got = _multi_insert(conn, events, EVENT_COLUMNS, rows, "dedupe_key", "dedupe_key, id")
    return {str(r[0]): int(r[1]) for r in got}


def insert_new_messages(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[tuple[str, str]]:
    """Insert messages that do not exist yet; returns the (channel, message_id) keys inserted.
    A key not returned was created meanwhile by another worker: the caller locks and folds it.
    Rows go in key order, so concurrent workers lock in the same order and cannot deadlock."""
    ordered = sorted(rows, key=lambda r: (r["channel"], r["message_id"]))
    got = _multi_insert(
        conn, messages, MESSAGE_COLUMNS, ordered, "channel, message_id", "channel, message_id"
    )
    return {(r[0], r[1]) for r in got}


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
    """Each row has id and every column of MESSAGE_COLUMNS."""
    if not rows:
        return
    mark = _placeholder(conn)
    sets = ",".join(f"{c}={mark}" for c in MESSAGE_COLUMNS)
    sql = f"UPDATE messages SET {sets} WHERE id={mark}"
    encoded = _encode_rows(conn, messages, MESSAGE_COLUMNS, rows)
    params = [(*values, row["id"]) for values, row in zip(encoded, rows, strict=True)]
    conn.exec_driver_sql(sql, params)


def channels_of_messages(conn: Connection, message_ids: Sequence[str]) -> dict[str, set[str]]:
    """For each message id, the channels that have a message with it."""
    out: dict[str, set[str]] = {}
    for chunk in _chunks(sorted(set(message_ids))):
        rows = conn.execute(
            select(messages.c.message_id, messages.c.channel).where(
                messages.c.message_id.in_(list(chunk)), messages.c.channel_uncertain.is_(False)
            )
        )
        for message_id, channel in rows:
            out.setdefault(message_id, set()).add(channel)
    return out


# ---- calls, lookups, masking sessions (SQLAlchemy Core: not on the hot path) ------------------


def _insert_ignore(
    conn: Connection, table: Any, rows: Sequence[dict[str, Any]], conflict: Sequence[str]
) -> Any:
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing(index_elements=list(conflict))


def insert_new_calls(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    if not rows:
        return set()
    stmt = _insert_ignore(conn, calls, rows, ["call_id"]).returning(calls.c.call_id)
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
        conn.execute(_insert_ignore(conn, lookups, rows, ["event_key"]), list(rows))


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
    mark = _placeholder(conn)
    stamp = _sqlite_datetime(now) if conn.dialect.name == "sqlite" else now
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


# ---- outbox ------------------------------------------------------------------------------------


def enqueue_action(conn: Connection, row: dict[str, Any]) -> tuple[str, bool]:
    """(action id, whether it is new): a second enqueue with the same idempotency key is a
    no-op that returns the first action (the unique index decides, not a check)."""
    stmt = _insert_ignore(conn, outbox, [row], ["idempotency_key"]).returning(outbox.c.id)
    created = conn.execute(stmt, [row]).first()
    if created is not None:
        return str(created[0]), True
    existing = conn.execute(
        select(outbox.c.id).where(outbox.c.idempotency_key == row["idempotency_key"])
    ).scalar_one()
    return str(existing), False


def claim_actions(
    conn: Connection, now: datetime, limit: int, lease_until: datetime, worker: str
) -> list[dict[str, Any]]:
    """Due actions, leased to this worker: pending ones whose time has come, unknown outcomes
    due for a check, and running ones whose lease expired (their dispatcher died). Each row
    comes back with the state it had before (claimed_from)."""
    # Two index-friendly queries rather than one with an OR, which SQLite answers by scanning
    # the whole outbox at every claim. Expired leases first: their sends may be waiting on us.
    expired = (
        select(outbox).where(outbox.c.state == "running", outbox.c.lease_until < now).limit(limit)
    )
    if conn.dialect.name == "postgresql":
        expired = expired.with_for_update(skip_locked=True)
    rows = [dict(r._mapping) for r in conn.execute(expired)]
    if len(rows) < limit:
        due = (
            select(outbox)
            .where(
                outbox.c.state.in_(["pending", "unknown_outcome"]), outbox.c.next_attempt_at <= now
            )
            .order_by(outbox.c.next_attempt_at)
            .limit(limit - len(rows))
        )
        if conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        rows += [dict(r._mapping) for r in conn.execute(due)]
    if not rows:
        return []
    conn.execute(
        update(outbox)
        .where(outbox.c.id.in_([r["id"] for r in rows]))
        .values(state="running", lease_until=lease_until, leased_by=worker, updated_at=now)
    )
    for row in rows:
        row["claimed_from"] = row["state"]
    return rows


FINISH_COLUMNS = (
    "state",
    "attempts",
    "last_error",
    "output",
    "message_ids",
    "next_attempt_at",
    "updated_at",
)


def finish_actions(
    conn: Connection, worker: str, results: Sequence[tuple[str, dict[str, Any]]]
) -> set[str]:
    """Write many outcomes in two statements, only for the actions this worker still holds: a
    dispatcher whose lease expired must not overwrite the one that took the row over. Each
    result has every FINISH_COLUMNS value. Returns the ids written."""
    if not results:
        return set()
    ids = [action_id for action_id, _ in results]
    stmt = select(outbox.c.id).where(outbox.c.id.in_(ids), outbox.c.leased_by == worker)
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    held = {str(r[0]) for r in conn.execute(stmt)}
    rows = [
        {"b_id": action_id, **{c: values[c] for c in FINISH_COLUMNS}}
        for action_id, values in results
        if action_id in held
    ]
    if rows:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == bindparam("b_id"))
            .values(lease_until=None, leased_by=None, **{c: bindparam(c) for c in FINISH_COLUMNS}),
            rows,
        )
    return held


def get_action(conn: Connection, action_id: str) -> Row[Any] | None:
    return conn.execute(select(outbox).where(outbox.c.id == action_id)).first()


def list_actions(
    conn: Connection, state: str | None, before_id: str | None, limit: int
) -> list[Row[Any]]:
    stmt = select(outbox)
    if state:
        stmt = stmt.where(outbox.c.state == state)
    if before_id:
        stmt = stmt.where(outbox.c.id < before_id)
    return list(conn.execute(stmt.order_by(outbox.c.id.desc()).limit(limit)))


def retry_action(conn: Connection, action_id: str, now: datetime) -> bool:
    """Put a failed, dead or unknown-outcome action back in the queue (a person decided)."""
    result = conn.execute(
        update(outbox)
        .where(outbox.c.id == action_id, outbox.c.state.in_(["failed", "dead", "unknown_outcome"]))
        .values(state="pending", next_attempt_at=now, attempts=0, updated_at=now, tracking_id=None)
    )
    return bool(result.rowcount)


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


# ---- opt-outs ------------------------------------------------------------------------------


def _set_opt_out(
    conn: Connection, channel: str, contact: str, opted_out: bool, now: datetime
) -> None:
    stmt = _insert_ignore(conn, opt_outs, [], ["channel", "contact"])
    row = {"channel": channel, "contact": contact, "opted_out": opted_out, "updated_at": now}
    conn.execute(stmt, [row])
    conn.execute(
        update(opt_outs)
        .where(opt_outs.c.channel == channel, opt_outs.c.contact == contact)
        .values(opted_out=opted_out, updated_at=now)
    )


def record_opt_out_choice(
    conn: Connection,
    *,
    channel: str,
    contact: str,
    opted_out: bool,
    now: datetime,
    scope_channels: Sequence[str],
    source: str,
    message_id: str | None = None,
    words: str | None = None,
) -> bool:
    """Record a contact's choice, made on `channel`, with its audit row. An opt-out is kept on
    the channel it was made on; an opt-in lifts the contact's opt-outs on every channel of its
    scope (the person's latest word). Returns whether the contact was opted out (within the
    scope) before."""
    before = bool(opted_out_among(conn, scope_channels, [contact]))
    if opted_out:
        _set_opt_out(conn, channel, contact, True, now)
    else:
        conn.execute(
            update(opt_outs)
            .where(opt_outs.c.contact == contact, opt_outs.c.channel.in_(list(scope_channels)))
            .values(opted_out=False, updated_at=now)
        )
    action = "opt_out" if opted_out else "opt_in"
    add_opt_out_audit(
        conn,
        [
            {
                "channel": channel,
                "contact": contact,
                "action": action,
                "source": source,
                "message_id": message_id,
                "words": words,
                "at": now,
            }
        ],
    )
    return before


def add_opt_out_audit(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(opt_out_audit.insert(), list(rows))


def opted_out_among(conn: Connection, channels: Sequence[str], contacts: Sequence[str]) -> set[str]:
    """Which of these contacts are opted out on any of these channels."""
    if not contacts or not channels:
        return set()
    out: set[str] = set()
    for chunk in _chunks(sorted(set(contacts))):
        rows = conn.execute(
            select(opt_outs.c.contact).where(
                opt_outs.c.channel.in_(sorted(set(channels))),
                opt_outs.c.contact.in_(chunk),
                opt_outs.c.opted_out.is_(True),
            )
        )
        out.update(str(r[0]) for r in rows)
    return out


def list_opt_outs(conn: Connection, channel: str | None, limit: int) -> list[Row[Any]]:
    stmt = select(opt_outs).where(opt_outs.c.opted_out.is_(True))
    if channel:
        stmt = stmt.where(opt_outs.c.channel == channel)
    return list(conn.execute(stmt.order_by(opt_outs.c.updated_at.desc()).limit(limit)))


def opt_out_history(conn: Connection, channels: Sequence[str], contact: str) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(opt_out_audit)
            .where(
                opt_out_audit.c.channel.in_(sorted(set(channels))),
                opt_out_audit.c.contact == contact,
            )
            .order_by(opt_out_audit.c.id)
        )
    )


def insert_opt_out_review(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(opt_out_reviews.insert(), [row])


def pending_reviews_among(
    conn: Connection, channels: Sequence[str], contacts: Sequence[str]
) -> set[str]:
    """Which of these contacts have an uncertain opt-out waiting for a person."""
    if not contacts or not channels:
        return set()
    out: set[str] = set()
    for chunk in _chunks(sorted(set(contacts))):
        rows = conn.execute(
            select(opt_out_reviews.c.contact).where(
                opt_out_reviews.c.contact.in_(chunk),
                opt_out_reviews.c.state == "pending",
                opt_out_reviews.c.channel.in_(sorted(set(channels))),
            )
        )
        out.update(str(r[0]) for r in rows)
    return out


def list_opt_out_reviews(conn: Connection, state: str | None, limit: int) -> list[Row[Any]]:
    stmt = select(opt_out_reviews)
    if state:
        stmt = stmt.where(opt_out_reviews.c.state == state)
    return list(conn.execute(stmt.order_by(opt_out_reviews.c.created_at.desc()).limit(limit)))


def get_opt_out_review(conn: Connection, review_id: str) -> Row[Any] | None:
    return conn.execute(
        select(opt_out_reviews).where(opt_out_reviews.c.id == review_id)
    ).one_or_none()


def decide_opt_out_review(
    conn: Connection, review_id: str, state: str, now: datetime, by: str
) -> bool:
    """Close a pending review; False when it is not pending (decided already, or unknown)."""
    result = conn.execute(
        update(opt_out_reviews)
        .where(opt_out_reviews.c.id == review_id, opt_out_reviews.c.state == "pending")
        .values(state=state, decided_at=now, decided_by=by)
    )
    return bool(result.rowcount)


# ---- reconciliation ------------------------------------------------------------------------


FINAL_STATES = ("delivered", "undeliverable", "expired", "rejected")


def stale_messages(
    conn: Connection, channel: str, older_than: datetime, newer_than: datetime, limit: int
) -> list[tuple[str, str | None]]:
    """(message id, bulk id) of the outbound messages of a channel with no final state, sent in
    the window and old enough that their report should have come."""
    rows = conn.execute(
        select(messages.c.message_id, messages.c.bulk_id)
        .where(
            messages.c.channel == channel,
            messages.c.direction == "outbound",
            messages.c.state.notin_(FINAL_STATES),
            messages.c.created_at < older_than,
            messages.c.created_at >= newer_than,
        )
        .order_by(messages.c.created_at)
        .limit(limit)
    )
    return [(str(r[0]), r[1]) for r in rows]


WINDOW_CLOSED = "REPORT_WINDOW_CLOSED"


def expired_messages(conn: Connection, before: datetime, limit: int) -> list[Row[Any]]:
    """Outbound messages past the report window with no final state and not yet closed."""
    return list(
        conn.execute(
            select(messages.c.id, messages.c.channel, messages.c.message_id)
            .where(
                messages.c.direction == "outbound",
                messages.c.state.notin_(FINAL_STATES),
                messages.c.created_at < before,
                (messages.c.status_name.is_(None)) | (messages.c.status_name != WINDOW_CLOSED),
            )
            .order_by(messages.c.created_at)
            .limit(limit)
        )
    )


def final_among(conn: Connection, channel: str, message_ids: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for chunk in _chunks(sorted(set(message_ids))):
        rows = conn.execute(
            select(messages.c.message_id).where(
                messages.c.channel == channel,
                messages.c.message_id.in_(list(chunk)),
                messages.c.state.in_(FINAL_STATES),
            )
        )
        out.update(str(r[0]) for r in rows)
    return out


def known_among(conn: Connection, channel: str, message_ids: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for chunk in _chunks(sorted(set(message_ids))):
        rows = conn.execute(
            select(messages.c.message_id).where(
                messages.c.channel == channel, messages.c.message_id.in_(list(chunk))
            )
        )
        out.update(str(r[0]) for r in rows)
    return out


def close_messages(conn: Connection, ids: Sequence[int], now: datetime) -> None:
    """State unknown, with the reason in the status: no report can come any more."""
    if ids:
        conn.execute(
            update(messages)
            .where(messages.c.id.in_(list(ids)))
            .values(
                state="unknown",
                status_group_id=None,
                status_group_name=None,
                status_id=None,
                status_name=WINDOW_CLOSED,
                status_description="report window closed",
                updated_at=now,
            )
        )


def insert_run(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(reconcile_runs.insert(), [row])


def update_run(conn: Connection, run_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(reconcile_runs).where(reconcile_runs.c.id == run_id).values(**values))


def list_runs(conn: Connection, limit: int) -> list[Row[Any]]:
    return list(
        conn.execute(
            select(reconcile_runs).order_by(reconcile_runs.c.started_at.desc()).limit(limit)
        )
    )


def try_leader_lock(conn: Connection, key: int) -> bool:
    """PostgreSQL: a session advisory lock, so one worker reconciles at a time."""
    return bool(conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({int(key)})").scalar())


def release_leader_lock(conn: Connection, key: int) -> None:
    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({int(key)})")


# ---- read API ---------------------------------------------------------------------------------


def get_raw(conn: Connection, raw_id: str) -> Row[Any] | None:
    return conn.execute(select(raw_webhooks).where(raw_webhooks.c.id == raw_id)).first()


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


# ---- rules: decisions, history, tags --------------------------------------------------------


_DECISION_COLUMNS = (
    "event_id",
    "rule",
    "outcome",
    "reason",
    "contact",
    "digest",
    "actions",
    "not_before",
    "rules_version",
    "created_at",
)


def insert_decisions(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[tuple[int, str]]:
    """Insert decisions; one per (event, rule), so a second one for the same pair is dropped.
    Returns the (event_id, rule) pairs that were new."""
    if not rows:
        return set()
    returned = _multi_insert(
        conn, rule_decisions, _DECISION_COLUMNS, rows, "event_id, rule", "event_id, rule"
    )
    return {(int(r[0]), str(r[1])) for r in returned}


def enqueue_actions(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Many outbox rows at once (ids chosen by the caller); returns the ids inserted (an
    idempotency key already queued keeps its first action)."""
    if not rows:
        return set()
    columns = tuple(rows[0])
    return {str(r[0]) for r in _multi_insert(conn, outbox, columns, rows, "idempotency_key", "id")}


def rule_counts(
    conn: Connection,
    contacts: Sequence[str],
    rules: Sequence[str],
    since: datetime,
    outcomes: Sequence[str],
) -> dict[tuple[str, str], int]:
    """(rule, contact) -> decisions of these rules for these contacts since then."""
    out: dict[tuple[str, str], int] = {}
    for chunk in _chunks(sorted(set(contacts))):
        rows = conn.execute(
            select(rule_decisions.c.rule, rule_decisions.c.contact, func.count())
            .where(
                rule_decisions.c.contact.in_(chunk),
                rule_decisions.c.rule.in_(list(rules)),
                rule_decisions.c.created_at >= since,
                rule_decisions.c.outcome.in_(list(outcomes)),
            )
            .group_by(rule_decisions.c.rule, rule_decisions.c.contact)
        )
        out.update({(str(r[0]), str(r[1])): int(r[2]) for r in rows})
    return out


def digest_counts(
    conn: Connection, pairs: Sequence[tuple[str, str]], since: datetime, outcomes: Sequence[str]
) -> dict[tuple[str, str], int]:
    """(contact, digest) -> decisions that sent that same content to the contact since then,
    for these pairs only (by the contact/digest index)."""
    wanted = set(pairs)
    out: dict[tuple[str, str], int] = {}
    contacts = sorted({c for c, _ in wanted})
    digests = sorted({d for _, d in wanted})
    for chunk in _chunks(contacts, 200):
        rows = conn.execute(
            select(rule_decisions.c.contact, rule_decisions.c.digest, func.count())
            .where(
                rule_decisions.c.contact.in_(chunk),
                rule_decisions.c.digest.in_(digests),
                rule_decisions.c.created_at >= since,
                rule_decisions.c.outcome.in_(list(outcomes)),
            )
            .group_by(rule_decisions.c.contact, rule_decisions.c.digest)
        )
        out.update({(str(r[0]), str(r[1])): int(r[2]) for r in rows})
    return {key: n for key, n in out.items() if key in wanted}


def count_decisions_since(conn: Connection, since: datetime, outcomes: Sequence[str]) -> int:
    return int(
        conn.execute(
            select(func.count()).where(
                rule_decisions.c.created_at >= since,
                rule_decisions.c.outcome.in_(list(outcomes)),
            )
        ).scalar_one()
    )


def decisions_for_events(conn: Connection, event_ids: Sequence[int]) -> list[Row[Any]]:
    out: list[Row[Any]] = []
    for chunk in _chunks(sorted(set(event_ids))):
        out.extend(
            conn.execute(
                select(rule_decisions)
                .where(rule_decisions.c.event_id.in_(chunk))
                .order_by(rule_decisions.c.id)
            )
        )
    return out


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
    for chunk in _chunks(sorted(set(keys)), 200):
        out.extend(
            conn.execute(
                select(*cols).where(tuple_(messages.c.channel, messages.c.message_id).in_(chunk))
            )
        )
    return out


def action_inputs(conn: Connection, action_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(sorted(set(action_ids))):
        for row in conn.execute(select(outbox.c.id, outbox.c.input).where(outbox.c.id.in_(chunk))):
            out[row.id] = row.input if isinstance(row.input, dict) else {}
    return out


def recent_events_of(
    conn: Connection, contacts: Sequence[str], since: datetime
) -> list[tuple[str, str, datetime]]:
    """(contact as written, kind, received_at) of the events from these contacts (inbound, by a
    partial index) and of the events of messages sent to them (by the messages' recipient)."""
    out: list[tuple[str, str, datetime]] = []
    for chunk in _chunks(sorted(set(contacts))):
        inbound = conn.execute(
            select(events.c.sender, events.c.kind, events.c.received_at).where(
                events.c.direction == "inbound",
                events.c.sender.in_(chunk),
                events.c.received_at >= since,
            )
        )
        out.extend((str(r[0]), str(r[1]), r[2]) for r in inbound)
        outbound = conn.execute(
            select(messages.c.recipient, events.c.kind, events.c.received_at)
            .select_from(
                messages.join(
                    events,
                    (events.c.channel == messages.c.channel)
                    & (events.c.message_id == messages.c.message_id),
                )
            )
            .where(
                messages.c.recipient.in_(chunk),
                messages.c.direction == "outbound",
                events.c.received_at >= since,
            )
        )
        out.extend((str(r[0]), str(r[1]), r[2]) for r in outbound)
    return out


def add_tags(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(
            _insert_ignore(conn, message_tags, [], ["channel", "message_id", "tag"]), list(rows)
        )


def tags_of(conn: Connection, channel: str, message_id: str) -> list[str]:
    return [
        str(r[0])
        for r in conn.execute(
            select(message_tags.c.tag)
            .where(message_tags.c.channel == channel, message_tags.c.message_id == message_id)
            .order_by(message_tags.c.id)
        )
    ]


def tags_of_messages(
    conn: Connection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """The tags of each of these (channel, message id), in the order they were added."""
    out: dict[tuple[str, str], list[str]] = {key: [] for key in keys}
    for chunk in _chunks(sorted(set(keys))):
        rows = conn.execute(
            select(message_tags.c.channel, message_tags.c.message_id, message_tags.c.tag)
            .where(tuple_(message_tags.c.channel, message_tags.c.message_id).in_(chunk))
            .order_by(message_tags.c.id)
        )
        for channel, message_id, tag in rows:
            out.setdefault((channel, message_id), []).append(str(tag))
    return out
