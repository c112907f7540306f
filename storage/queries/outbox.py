"""The outbox: actions queued for Membrane, claimed under a lease by the dispatcher, finished
with their outcome, listed and retried by people."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update

from storage.models import outbox
from storage.queries._sql import chunks, insert_ignore, multi_insert


def enqueue_action(conn: Connection, row: dict[str, Any]) -> tuple[str, bool]:
    """(action id, whether it is new): a second enqueue with the same idempotency key is a
    no-op that returns the first action (the unique index decides, not a check)."""
    stmt = insert_ignore(conn, outbox, [row], ["idempotency_key"]).returning(outbox.c.id)
    created = conn.execute(stmt, [row]).first()
    if created is not None:
        return str(created[0]), True
    existing = conn.execute(
        select(outbox.c.id).where(outbox.c.idempotency_key == row["idempotency_key"])
    ).scalar_one()
    return str(existing), False


def enqueue_actions(conn: Connection, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Many outbox rows at once (ids chosen by the caller); returns the ids inserted (an
    idempotency key already queued keeps its first action)."""
    if not rows:
        return set()
    columns = tuple(rows[0])
    return {str(r[0]) for r in multi_insert(conn, outbox, columns, rows, "idempotency_key", "id")}


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


def action_inputs(conn: Connection, action_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for chunk in chunks(sorted(set(action_ids))):
        for row in conn.execute(select(outbox.c.id, outbox.c.input).where(outbox.c.id.in_(chunk))):
            out[row.id] = row.input if isinstance(row.input, dict) else {}
    return out
