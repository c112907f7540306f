"""The suppression list, its audit trail and the reviews of uncertain opt-outs. A choice (opt-out
or opt-in) is recorded only by record_opt_out_choice(), with its audit row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from storage.models import opt_out_audit, opt_out_reviews, opt_outs
from storage.queries._sql import chunks, insert_ignore


def _set_opt_out(
    conn: Connection, channel: str, contact: str, opted_out: bool, now: datetime
) -> None:
    stmt = insert_ignore(conn, opt_outs, [], ["channel", "contact"])
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
    for chunk in chunks(sorted(set(contacts))):
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
    for chunk in chunks(sorted(set(contacts))):
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
