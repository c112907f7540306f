"""The outbox: actions queued for Membrane, claimed under a lease by the dispatcher, finished
with their outcome, listed and retried by people."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import Connection, bindparam, select, update

from storage.models import outbox
from storage.queries._sql import (
    chunks,
    columns_of,
    insert_ignore,
    locked,
    multi_insert,
    record,
    records,
)


class ActionRow(TypedDict):
    """An actions row as it is written (every column; the caller chooses the id)."""

    id: str
    idempotency_key: str
    action: str
    channel: str | None
    input: dict[str, Any]  # the action's values: free-form JSON
    tracking_id: str | None
    state: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    leased_by: str | None
    last_error: str | None
    output: dict[str, Any] | None  # what Membrane answered: free-form JSON
    message_ids: list[str] | None
    caused_by_event_id: int | None
    created_at: datetime
    updated_at: datetime


class ActionOutcome(TypedDict):
    """What finish_actions() writes of one action (its lease is released with it)."""

    state: str
    attempts: int
    last_error: str | None
    output: dict[str, Any] | None
    message_ids: list[str] | None
    next_attempt_at: datetime
    updated_at: datetime


class ActionChange(TypedDict, total=False):
    """Part of an ActionOutcome: what one attempt changed (the rest stays as it was)."""

    state: str
    attempts: int
    last_error: str | None
    output: dict[str, Any] | None
    message_ids: list[str] | None
    next_attempt_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredAction:
    """An actions row as it is read."""

    id: str
    idempotency_key: str
    action: str
    channel: str | None
    input: dict[str, Any]
    tracking_id: str | None
    state: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime
    lease_until: datetime | None
    leased_by: str | None
    last_error: str | None
    output: dict[str, Any] | None
    message_ids: list[str] | None
    caused_by_event_id: int | None
    created_at: datetime
    updated_at: datetime

    def unchanged(self) -> ActionOutcome:
        """The outcome columns as they are: what an outcome that sets only some of them is
        written over."""
        return {
            "state": self.state,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "output": self.output,
            "message_ids": self.message_ids,
            "next_attempt_at": self.next_attempt_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True, slots=True)
class ClaimedAction(StoredAction):
    """An action leased to a dispatcher, as it was before the claim; claimed_from is the state
    it was claimed in (pending, unknown_outcome, or running with an expired lease)."""

    claimed_from: str


ACTION_COLUMNS = tuple(c.name for c in outbox.columns)
FINISH_COLUMNS = tuple(ActionOutcome.__annotations__)
_STORED = columns_of(outbox, StoredAction)


def enqueue_action(conn: Connection, row: ActionRow) -> tuple[str, bool]:
    """(action id, whether it is new): a second enqueue with the same idempotency key is a
    no-op that returns the first action (the unique index decides, not a check)."""
    stmt = insert_ignore(conn, outbox, ["idempotency_key"]).returning(outbox.c.id)
    created = conn.execute(stmt, [row]).first()
    if created is not None:
        return str(created[0]), True
    existing = conn.execute(
        select(outbox.c.id).where(outbox.c.idempotency_key == row["idempotency_key"])
    ).scalar_one()
    return str(existing), False


def enqueue_actions(conn: Connection, rows: Sequence[ActionRow]) -> set[str]:
    """Many outbox rows at once (ids chosen by the caller); returns the ids inserted (an
    idempotency key already queued keeps its first action)."""
    if not rows:
        return set()
    inserted = multi_insert(conn, outbox, ACTION_COLUMNS, rows, "idempotency_key", "id")
    return {str(r[0]) for r in inserted}


def claim_actions(
    conn: Connection, now: datetime, limit: int, lease_until: datetime, worker: str
) -> list[ClaimedAction]:
    """Due actions, leased to this worker: pending ones whose time has come, unknown outcomes
    due for a check, and running ones whose lease expired (their dispatcher died). Each row
    comes back as it was before, with the state it was claimed in (claimed_from)."""
    # Two index-friendly queries rather than one with an OR, which SQLite answers by scanning
    # the whole outbox at every claim. Expired leases first: their sends may be waiting on us.
    expired = (
        select(*_STORED).where(outbox.c.state == "running", outbox.c.lease_until < now).limit(limit)
    )
    rows = list(conn.execute(locked(conn, expired, skip_locked=True)))
    if len(rows) < limit:
        due = (
            select(*_STORED)
            .where(
                outbox.c.state.in_(["pending", "unknown_outcome"]), outbox.c.next_attempt_at <= now
            )
            .order_by(outbox.c.next_attempt_at)
            .limit(limit - len(rows))
        )
        rows += conn.execute(locked(conn, due, skip_locked=True))
    if not rows:
        return []
    conn.execute(
        update(outbox)
        .where(outbox.c.id.in_([r.id for r in rows]))
        .values(state="running", lease_until=lease_until, leased_by=worker, updated_at=now)
    )
    # By position: the columns in StoredAction's order, then the state it is claimed from.
    claimed: Callable[..., ClaimedAction] = ClaimedAction
    return [claimed(*row, row.state) for row in rows]


def finish_actions(
    conn: Connection, worker: str, results: Sequence[tuple[str, ActionOutcome]]
) -> set[str]:
    """Write many outcomes (action id, outcome) in two statements, only for the actions this
    worker still holds: a dispatcher whose lease expired must not overwrite the one that took
    the row over. Returns the ids written."""
    if not results:
        return set()
    ids = [action_id for action_id, _ in results]
    stmt = select(outbox.c.id).where(outbox.c.id.in_(ids), outbox.c.leased_by == worker)
    held = {str(r[0]) for r in conn.execute(locked(conn, stmt))}
    rows = [
        {"action_id": action_id, **values} for action_id, values in results if action_id in held
    ]
    if rows:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == bindparam("action_id"))
            .values(lease_until=None, leased_by=None, **{c: bindparam(c) for c in FINISH_COLUMNS}),
            rows,
        )
    return held


def get_action(conn: Connection, action_id: str) -> StoredAction | None:
    stmt = select(*_STORED).where(outbox.c.id == action_id)
    return record(StoredAction, conn.execute(stmt).first())


def list_actions(
    conn: Connection, state: str | None, before_id: str | None, limit: int
) -> list[StoredAction]:
    """Newest first, below the cursor before_id."""
    stmt = select(*_STORED)
    if state:
        stmt = stmt.where(outbox.c.state == state)
    if before_id:
        stmt = stmt.where(outbox.c.id < before_id)
    return records(StoredAction, conn.execute(stmt.order_by(outbox.c.id.desc()).limit(limit)))


def retry_action(conn: Connection, action_id: str, now: datetime) -> bool:
    """Put a failed, dead or unknown-outcome action back in the queue (a person decided)."""
    result = conn.execute(
        update(outbox)
        .where(outbox.c.id == action_id, outbox.c.state.in_(["failed", "dead", "unknown_outcome"]))
        .values(state="pending", next_attempt_at=now, attempts=0, updated_at=now, tracking_id=None)
    )
    return bool(result.rowcount)


def action_inputs(conn: Connection, action_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Each action's input (its values: free-form JSON), by action id."""
    out: dict[str, dict[str, Any]] = {}
    for chunk in chunks(sorted(set(action_ids))):
        for row in conn.execute(select(outbox.c.id, outbox.c.input).where(outbox.c.id.in_(chunk))):
            out[row.id] = row.input if isinstance(row.input, dict) else {}
    return out


def switch_actions(
    conn: Connection, changes: Sequence[tuple[str, str, dict[str, Any]]], now: datetime
) -> None:
    """Change what claimed actions will run: (id, action key, input). A WhatsApp text found
    outside its window when it fell due goes as the template it carried."""
    for action_id, action, values in changes:
        conn.execute(
            update(outbox)
            .where(outbox.c.id == action_id)
            .values(action=action, input=values, updated_at=now)
        )
