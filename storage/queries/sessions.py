"""Chat sessions: the last time each contact wrote to each of our senders on a channel, kept
so that a send knows whether the channel's customer-service window is open."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from sqlalchemy import Connection, case, select, tuple_

from storage.models import chat_sessions
from storage.queries._sql import chunks, columns_of, records


class SessionRow(TypedDict):
    contact: str
    channel: str
    sender: str
    last_inbound_at: datetime
    message_id: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StoredSession:
    contact: str
    channel: str
    sender: str
    last_inbound_at: datetime
    message_id: str | None


_STORED = columns_of(chat_sessions, StoredSession)


def latest_per_key(rows: Sequence[SessionRow]) -> list[SessionRow]:
    """One row per (contact, channel, sender): the latest inbound (a batch may hold several)."""
    best: dict[tuple[str, str, str], SessionRow] = {}
    for row in rows:
        key = (row["contact"], row["channel"], row["sender"])
        if key not in best or row["last_inbound_at"] > best[key]["last_inbound_at"]:
            best[key] = row
    return [best[k] for k in sorted(best)]


def record_inbound(conn: Connection, rows: Sequence[SessionRow]) -> None:
    """Upsert: a new key is inserted; an existing one moves to the later of the stored time and
    the new one, never back (a redelivered or reconciled older inbound changes nothing)."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    stmt = insert(chat_sessions)
    later = stmt.excluded.last_inbound_at > chat_sessions.c.last_inbound_at
    stmt = stmt.on_conflict_do_update(
        index_elements=["contact", "channel", "sender"],
        set_={
            "last_inbound_at": case(
                (later, stmt.excluded.last_inbound_at), else_=chat_sessions.c.last_inbound_at
            ),
            "message_id": case((later, stmt.excluded.message_id), else_=chat_sessions.c.message_id),
            "updated_at": stmt.excluded.updated_at,
        },
    )
    for chunk in chunks(latest_per_key(rows), 500):
        conn.execute(stmt, list(chunk))


def sessions_of(
    conn: Connection, contacts: Sequence[str], channel: str | None = None
) -> list[StoredSession]:
    """Every session of these contacts (on one channel, when given)."""
    out: list[StoredSession] = []
    for chunk in chunks(sorted(set(contacts))):
        stmt = select(*_STORED).where(chat_sessions.c.contact.in_(chunk))
        if channel is not None:
            stmt = stmt.where(chat_sessions.c.channel == channel)
        out += records(StoredSession, conn.execute(stmt))
    return sorted(out, key=lambda s: (s.contact, s.channel, s.sender))


def session_at(conn: Connection, contact: str, channel: str, sender: str) -> datetime | None:
    """When this contact last wrote to this sender on this channel, or None."""
    stmt = select(chat_sessions.c.last_inbound_at).where(
        tuple_(chat_sessions.c.contact, chat_sessions.c.channel, chat_sessions.c.sender)
        == (contact, channel, sender)
    )
    found = conn.execute(stmt).scalar()
    return found if isinstance(found, datetime) else None
