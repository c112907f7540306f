"""Reconciliation: the stale and expired outbound messages it looks up or closes, its runs, and
the leader lock that lets one worker reconcile at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from sqlalchemy import Connection, select, update

from storage.models import messages, reconcile_runs
from storage.queries._sql import chunks, columns_of, records


class RunCounts(TypedDict):
    """What a run found, as it goes."""

    checked: int
    recovered: int
    still_missing: int
    discovered: int
    closed: int
    errors: int


class RunRow(RunCounts):
    """A reconcile_runs row as it is written when the run starts (every column)."""

    id: str
    started_at: datetime
    finished_at: datetime | None
    state: str  # running, done, failed, interrupted
    channel: str | None
    dry_run: bool
    error: str | None
    owner: str | None  # the process that runs it (events/runs.py)


class RunEnd(RunCounts):
    """What update_run() writes when the run ends."""

    finished_at: datetime
    state: str
    error: str | None


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A reconcile_runs row as it is read."""

    id: str
    started_at: datetime
    finished_at: datetime | None
    state: str
    channel: str | None
    dry_run: bool
    checked: int
    recovered: int
    still_missing: int
    discovered: int
    closed: int
    errors: int
    error: str | None
    owner: str | None


@dataclass(frozen=True, slots=True)
class ExpiredMessage:
    """An outbound message past the report window, to be closed."""

    id: int
    channel: str
    message_id: str


_RUN = columns_of(reconcile_runs, StoredRun)
_EXPIRED = columns_of(messages, ExpiredMessage)

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


def expired_messages(conn: Connection, before: datetime, limit: int) -> list[ExpiredMessage]:
    """Outbound messages past the report window with no final state and not yet closed."""
    stmt = (
        select(*_EXPIRED)
        .where(
            messages.c.direction == "outbound",
            messages.c.state.notin_(FINAL_STATES),
            messages.c.created_at < before,
            (messages.c.status_name.is_(None)) | (messages.c.status_name != WINDOW_CLOSED),
        )
        .order_by(messages.c.created_at)
        .limit(limit)
    )
    return records(ExpiredMessage, conn.execute(stmt))


def final_among(conn: Connection, channel: str, message_ids: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for chunk in chunks(sorted(set(message_ids))):
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
    for chunk in chunks(sorted(set(message_ids))):
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


def insert_run(conn: Connection, row: RunRow) -> None:
    conn.execute(reconcile_runs.insert(), [row])


def update_run(conn: Connection, run_id: str, end: RunEnd) -> None:
    conn.execute(update(reconcile_runs).where(reconcile_runs.c.id == run_id).values(**end))


def running_runs(conn: Connection) -> list[tuple[str, str | None]]:
    """(id, owner) of the runs still marked running."""
    rows = conn.execute(
        select(reconcile_runs.c.id, reconcile_runs.c.owner).where(
            reconcile_runs.c.state == "running"
        )
    )
    return [(str(r[0]), r[1]) for r in rows]


def interrupt_runs(conn: Connection, ids: Sequence[str], now: datetime, reason: str) -> int:
    """Mark these runs interrupted, if they are still running; how many were."""
    if not ids:
        return 0
    result = conn.execute(
        update(reconcile_runs)
        .where(reconcile_runs.c.id.in_(list(ids)), reconcile_runs.c.state == "running")
        .values(state="interrupted", finished_at=now, error=reason)
    )
    return int(result.rowcount or 0)


def list_runs(conn: Connection, limit: int) -> list[StoredRun]:
    """Latest first."""
    stmt = select(*_RUN).order_by(reconcile_runs.c.started_at.desc()).limit(limit)
    return records(StoredRun, conn.execute(stmt))


def try_leader_lock(conn: Connection, key: int) -> bool:
    """PostgreSQL: a session advisory lock, so one worker reconciles at a time."""
    return bool(conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({int(key)})").scalar())


def release_leader_lock(conn: Connection, key: int) -> None:
    conn.exec_driver_sql(f"SELECT pg_advisory_unlock({int(key)})")
