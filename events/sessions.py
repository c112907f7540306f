"""WhatsApp sessions: WhatsApp delivers free text only within 24 hours of the person's last
message to the sender (the customer-service window; docs/infobip.md); outside it, only a
pre-approved template. This module keeps, for each contact and each of our senders, when the
person last wrote (the message's own receivedAt: a redelivered or reconciled inbound never moves
it later than it really is), and checks sends against it:

- the rules read it (events/automation.py loads it into the engine's History);
- POST /v1/send and `infobip-events send` refuse text outside the window (422) unless a template
  is given or force is set (audited);
- the dispatcher checks a rule's send again when it falls due (a quiet-hours deferral may cross
  the window's end): outside, the template the send carries goes instead, else it fails with
  the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from events.channels.event import ParsedEvent
from events.channels.registry import SEND_ACTIONS, TEMPLATE_SEND_ACTIONS
from events.contacts import ContactError, wire_key
from events.rules.engine import WINDOW_FLAG
from events.rules.model import OUTSIDE_WINDOW, SESSION_CHANNELS, SESSION_WINDOW
from events.vocabulary import Kind
from storage.queries.optouts import add_opt_out_audit
from storage.queries.sessions import SessionRow, record_inbound, session_at, sessions_of

# The plain-text send action of each channel with a window.
TEXT_ACTIONS = {SEND_ACTIONS[c]: c for c in SESSION_CHANNELS}


def inbound_rows(
    events: Sequence[ParsedEvent], now: datetime, region: str | None
) -> list[SessionRow]:
    """The session each inbound message on a channel with a window opens. Its time is the
    message's receivedAt, never later than now (a clock ahead must not stretch the window);
    a message without one opens nothing (a reconciled old message must not look new)."""
    rows: list[SessionRow] = []
    for event in events:
        if event.kind != Kind.INBOUND or event.channel not in SESSION_CHANNELS:
            continue
        if not (event.sender and event.recipient and event.occurred_at):
            continue
        try:
            contact = wire_key(event.sender, region)
            sender = wire_key(event.recipient, region)
        except ContactError:
            continue
        rows.append(
            {
                "contact": contact,
                "channel": event.channel,
                "sender": sender,
                "last_inbound_at": min(event.occurred_at, now),
                "message_id": event.message_id,
                "updated_at": now,
            }
        )
    return rows


def record_sessions(
    conn: Connection, events: Sequence[ParsedEvent], now: datetime, region: str | None
) -> None:
    """Move the sessions these new events open (in the batch's transaction)."""
    record_inbound(conn, inbound_rows(events, now, region))


def load_sessions(
    conn: Connection, contacts: Sequence[str]
) -> dict[tuple[str, str, str], datetime]:
    """(contact, channel, our sender) -> last inbound, for the engine's History."""
    return {
        (s.contact, s.channel, s.sender): s.last_inbound_at for s in sessions_of(conn, contacts)
    }


def window_end(
    conn: Connection, channel: str, to: Any, sender: Any, region: str | None
) -> datetime | None:
    """When the window between this recipient and our sender closes (maybe in the past);
    None when the person never wrote to that sender."""
    try:
        contact = wire_key(str(to), region)
        ours = wire_key(str(sender), region)
    except ContactError:
        return None
    last = session_at(conn, contact, channel, ours)
    return None if last is None else last + SESSION_WINDOW


def outside_reason(end: datetime | None, sender: Any) -> str:
    closed = f"it closed at {end.isoformat()}" if end else f"the contact never wrote to {sender}"
    return f"{OUTSIDE_WINDOW} ({closed})"


def window_refusal(
    conn: Connection, action_key: str, values: dict[str, Any], region: str | None, now: datetime
) -> str | None:
    """Why a text send outside the window would not be delivered, or None (not a windowed
    text send, or inside the window)."""
    channel = TEXT_ACTIONS.get(action_key)
    if channel is None:
        return None
    end = window_end(conn, channel, values.get("to"), values.get("from"), region)
    if end is not None and now < end:
        return None
    return outside_reason(end, values.get("from"))


def audit_forced(
    conn: Connection, channel: str, to: Any, reason: str, source: str, now: datetime, why: str
) -> None:
    """A send outside the window that a person forced: who (source), when, why."""
    try:
        contact = wire_key(str(to))
    except ContactError:
        contact = str(to)
    add_opt_out_audit(
        conn,
        [
            {
                "channel": channel,
                "contact": contact,
                "action": "forced",
                "source": source,
                "message_id": None,
                "words": f"{reason}; forced: {why}"[:2000],
                "at": now,
            }
        ],
    )


def recheck_due(
    conn: Connection, rows: Sequence[Any], region: str | None, now: datetime
) -> tuple[dict[str, tuple[str, dict[str, Any]]], dict[str, str]]:
    """The rules' WhatsApp text sends among claimed rows, checked again now that they are due.
    Returns (switched: id -> (template action, its values), failed: id -> reason)."""
    switched: dict[str, tuple[str, dict[str, Any]]] = {}
    failed: dict[str, str] = {}
    for row in rows:
        channel = TEXT_ACTIONS.get(row.action)
        values = row.input
        if channel is None or not isinstance(values.get(WINDOW_FLAG), dict):
            continue
        end = window_end(conn, channel, values.get("to"), values.get("from"), region)
        if end is not None and now < end:
            continue
        template = values[WINDOW_FLAG]
        reason = outside_reason(end, values.get("from")) + " when the send fell due"
        if template.get("template"):
            switched[row.id] = (
                TEMPLATE_SEND_ACTIONS[channel],
                {"to": values.get("to"), "from": values.get("from"), **template},
            )
        else:
            failed[row.id] = reason + ", and it carries no template to send instead"
    return switched, failed
