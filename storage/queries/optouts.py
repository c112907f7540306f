"""The suppression list, its audit trail and the reviews of uncertain opt-outs.

A choice (opt-out or opt-in) is written only by record_opt_out_choice(), with its audit row:
no other function writes opt_outs. add_opt_out_audit() is for the rest of the trail (refused
sends, uncertain opt-outs, reviews decided)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from sqlalchemy import Connection, select, update

from storage.models import opt_out_audit, opt_out_reviews, opt_outs
from storage.queries._sql import chunks, columns_of, insert_ignore, record, records


class AuditRow(TypedDict):
    """An opt_out_audit row as it is written (every column but its id)."""

    channel: str
    contact: str
    # opt_out, opt_in, refused, uncertain, confirmed, dismissed
    action: str
    # inbound, api, cli, infobip, dispatcher, rules, rule:<name>, review, ...
    source: str
    message_id: str | None
    words: str | None
    at: datetime


class ReviewRow(TypedDict):
    """An opt_out_reviews row as it is written (every column)."""

    id: str
    channel: str
    contact: str
    state: str
    message_id: str | None
    words: str | None
    language: str | None
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None


@dataclass(frozen=True, slots=True)
class StoredOptOut:
    """An opt_outs row as it is read."""

    id: int
    channel: str
    contact: str
    opted_out: bool
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredAudit:
    """An opt_out_audit row as it is read."""

    id: int
    channel: str
    contact: str
    action: str
    source: str
    message_id: str | None
    words: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class StoredReview:
    """An opt_out_reviews row as it is read."""

    id: str
    channel: str
    contact: str
    state: str
    message_id: str | None
    words: str | None
    language: str | None
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None


_OPT_OUT = columns_of(opt_outs, StoredOptOut)
_AUDIT = columns_of(opt_out_audit, StoredAudit)
_REVIEW = columns_of(opt_out_reviews, StoredReview)


# ---- choices and the suppression list ----------------------------------------------------------


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
        new = {"channel": channel, "contact": contact, "opted_out": True, "updated_at": now}
        conn.execute(insert_ignore(conn, opt_outs, ["channel", "contact"]), [new])
        conn.execute(
            update(opt_outs)
            .where(opt_outs.c.channel == channel, opt_outs.c.contact == contact)
            .values(opted_out=True, updated_at=now)
        )
    else:
        conn.execute(
            update(opt_outs)
            .where(opt_outs.c.contact == contact, opt_outs.c.channel.in_(list(scope_channels)))
            .values(opted_out=False, updated_at=now)
        )
    audit: AuditRow = {
        "channel": channel,
        "contact": contact,
        "action": "opt_out" if opted_out else "opt_in",
        "source": source,
        "message_id": message_id,
        "words": words,
        "at": now,
    }
    add_opt_out_audit(conn, [audit])
    return before


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


def opted_out_before(conn: Connection, moment: datetime) -> list[tuple[str, str]]:
    """(channel, contact) of the opt-outs in force that were made before this moment."""
    rows = conn.execute(
        select(opt_outs.c.channel, opt_outs.c.contact).where(
            opt_outs.c.opted_out.is_(True), opt_outs.c.updated_at < moment
        )
    )
    return [(str(r[0]), str(r[1])) for r in rows]


def list_opt_outs(conn: Connection, channel: str | None, limit: int) -> list[StoredOptOut]:
    """The opt-outs in force, latest first."""
    stmt = select(*_OPT_OUT).where(opt_outs.c.opted_out.is_(True))
    if channel:
        stmt = stmt.where(opt_outs.c.channel == channel)
    stmt = stmt.order_by(opt_outs.c.updated_at.desc()).limit(limit)
    return records(StoredOptOut, conn.execute(stmt))


# ---- the audit trail ----------------------------------------------------------------------------


def add_opt_out_audit(conn: Connection, rows: Sequence[AuditRow]) -> None:
    if rows:
        conn.execute(opt_out_audit.insert(), list(rows))


def opt_out_history(conn: Connection, channels: Sequence[str], contact: str) -> list[StoredAudit]:
    """A contact's trail on these channels, oldest first."""
    stmt = (
        select(*_AUDIT)
        .where(
            opt_out_audit.c.channel.in_(sorted(set(channels))),
            opt_out_audit.c.contact == contact,
        )
        .order_by(opt_out_audit.c.id)
    )
    return records(StoredAudit, conn.execute(stmt))


# ---- reviews of uncertain opt-outs --------------------------------------------------------------


def insert_opt_out_review(conn: Connection, row: ReviewRow) -> None:
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


def list_opt_out_reviews(conn: Connection, state: str | None, limit: int) -> list[StoredReview]:
    """Latest first; every state when state is None."""
    stmt = select(*_REVIEW)
    if state:
        stmt = stmt.where(opt_out_reviews.c.state == state)
    stmt = stmt.order_by(opt_out_reviews.c.created_at.desc()).limit(limit)
    return records(StoredReview, conn.execute(stmt))


def get_opt_out_review(conn: Connection, review_id: str) -> StoredReview | None:
    stmt = select(*_REVIEW).where(opt_out_reviews.c.id == review_id)
    return record(StoredReview, conn.execute(stmt).one_or_none())


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
