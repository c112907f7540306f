"""What retention deletes, one small batch at a time: each call selects up to `limit` primary
keys past a cursor and deletes them in the caller's transaction, so that no statement holds
a lock for long (SQLite has one writer; the receiver's group commit waits for it).

Each target names its table, the time column its age is read from, and which states may go.
Tables without an index on that time column are walked by primary key from the cursor: a whole
run reads each table once, and the oldest rows (the first keys) go first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table, delete, func, select, text

from storage.ids import id_floor
from storage.models import (
    RAW_IGNORED,
    RAW_PROCESSED,
    balances,
    calls,
    chat_sessions,
    costs,
    events,
    lookups,
    masking_sessions,
    membrane_answers,
    message_tags,
    messages,
    outbox,
    raw_webhooks,
    reconcile_runs,
    rule_decisions,
    verification_audit,
    verifications,
)


@dataclass(frozen=True)
class Target:
    """One table retention prunes: rows whose `when` is older than the cutoff and whose
    `state` (when given) is one of `states`."""

    table: Table
    when: str
    states: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return str(self.table.name)

    def conditions(self, cutoff: datetime) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = [self.table.c[self.when] < cutoff]
        if self.states:
            out.append(self.table.c.state.in_(self.states))
        if self.table is raw_webhooks:
            # Ids are time-ordered: the key bounds the scan, received_at makes it exact.
            out.append(raw_webhooks.c.id < id_floor(cutoff))
        return out


# Never pending or failed: those still have to become events (or be replayed after a fix).
RAW = Target(raw_webhooks, "received_at", (RAW_PROCESSED, RAW_IGNORED))
# Outbox actions once settled (done, refused or failed for good, dead); never those that may
# still run (pending, running, unknown_outcome).
# Messages by their last change: every event of one last changed before the cutoff is older
# than the cutoff too (an event is received before it is folded in).
EVENTS = (
    Target(events, "received_at"),
    Target(messages, "updated_at"),
    Target(calls, "updated_at"),
    Target(lookups, "looked_up_at"),
    Target(rule_decisions, "created_at"),
    Target(outbox, "updated_at", ("done", "failed", "dead", "skipped")),
    Target(masking_sessions, "expires_at"),
    Target(reconcile_runs, "started_at", ("done", "failed", "interrupted")),
    # The account's history: ledger lines, balance reads and the answers they came from.
    Target(costs, "priced_at"),
    Target(balances, "checked_at"),
    Target(membrane_answers, "received_at"),
    # A session this old has long closed; a verification this old has long expired.
    Target(chat_sessions, "last_inbound_at"),
    Target(verifications, "updated_at"),
    Target(verification_audit, "at"),
)


def _key(target: Target) -> Any:
    return next(iter(target.table.primary_key.columns))


def count_older(conn: Connection, target: Target, cutoff: datetime) -> int:
    """How many rows a prune would delete now (db prune --dry-run)."""
    stmt = select(func.count()).select_from(target.table).where(*target.conditions(cutoff))
    return int(conn.execute(stmt).scalar_one())


def delete_older(
    conn: Connection, target: Target, cutoff: datetime, after: Any, limit: int
) -> tuple[int, Any]:
    """Delete up to `limit` rows past the cursor `after` (None: from the start); returns how
    many, and the cursor to go on from (None when there are no more)."""
    key = _key(target)
    stmt = select(key).where(*target.conditions(cutoff)).order_by(key).limit(limit)
    if after is not None:
        stmt = stmt.where(key > after)
    ids = [row[0] for row in conn.execute(stmt)]
    if not ids:
        return 0, None
    if target.table is messages:
        _delete_tags_of(conn, ids)
    conn.execute(delete(target.table).where(key.in_(ids)))
    return len(ids), ids[-1]


def _delete_tags_of(conn: Connection, message_row_ids: Sequence[Any]) -> None:
    """The tags rules put on these messages go with them."""
    rows = conn.execute(
        select(messages.c.channel, messages.c.message_id).where(messages.c.id.in_(message_row_ids))
    )
    by_channel: dict[str, list[str]] = {}
    for channel, message_id in rows:
        by_channel.setdefault(str(channel), []).append(str(message_id))
    for channel, ids in by_channel.items():
        conn.execute(
            delete(message_tags).where(
                message_tags.c.channel == channel, message_tags.c.message_id.in_(ids)
            )
        )


# One number for the advisory lock of a prune run (any constant; "prun" in ASCII).
_PRUNE_LOCK = 0x7072756E


@contextlib.contextmanager
def prune_lock(engine: Engine) -> Iterator[bool]:
    """On PostgreSQL, True for the one process that may prune now (several workers share one
    database: the others skip their round). SQLite: always True (one machine, one writer)."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as conn:
        lock = text("SELECT pg_try_advisory_lock(:k)")
        got = bool(conn.execute(lock, {"k": _PRUNE_LOCK}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PRUNE_LOCK})
                conn.commit()
