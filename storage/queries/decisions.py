"""Rule decisions, the tags rules put on messages, and the history the rules read (counts of
decisions per rule, contact and content; recent events of contacts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NotRequired, TypedDict

from sqlalchemy import Connection, func, select, tuple_

from storage.models import events, message_tags, messages, rule_decisions
from storage.queries._sql import chunks, columns_of, insert_ignore, multi_insert, records


class DecisionAction(TypedDict):
    """One thing a decision asked for, as recorded: its outbox action when it was queued, or
    why it was not (not_done)."""

    type: str
    channel: str | None
    summary: str
    action: NotRequired[str | None]
    action_id: NotRequired[str]
    not_done: NotRequired[str]


class DecisionRow(TypedDict):
    """A rule_decisions row as it is written (every column but its id)."""

    event_id: int
    rule: str
    outcome: str
    reason: str
    contact: str | None
    digest: str | None
    actions: list[DecisionAction]
    not_before: datetime | None
    rules_version: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """A rule_decisions row as it is read."""

    id: int
    event_id: int
    rule: str
    outcome: str
    reason: str
    contact: str | None
    digest: str | None
    actions: list[DecisionAction]
    not_before: datetime | None
    rules_version: str
    created_at: datetime


class TagRow(TypedDict):
    """A message_tags row as it is written (every column but its id)."""

    channel: str
    message_id: str
    tag: str
    rule: str | None
    created_at: datetime


_DECISION_COLUMNS = tuple(c.name for c in rule_decisions.columns if c.name != "id")
_DECISION = columns_of(rule_decisions, StoredDecision)


def insert_decisions(conn: Connection, rows: Sequence[DecisionRow]) -> set[tuple[int, str]]:
    """Insert decisions; one per (event, rule), so a second one for the same pair is dropped.
    Returns the (event_id, rule) pairs that were new."""
    if not rows:
        return set()
    returned = multi_insert(
        conn, rule_decisions, _DECISION_COLUMNS, rows, "event_id, rule", "event_id, rule"
    )
    return {(int(r[0]), str(r[1])) for r in returned}


def rule_counts(
    conn: Connection,
    contacts: Sequence[str],
    rules: Sequence[str],
    since: datetime,
    outcomes: Sequence[str],
) -> dict[tuple[str, str], int]:
    """(rule, contact) -> decisions of these rules for these contacts since then."""
    out: dict[tuple[str, str], int] = {}
    for chunk in chunks(sorted(set(contacts))):
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
    for chunk in chunks(contacts, 200):
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


def decisions_for_events(conn: Connection, event_ids: Sequence[int]) -> list[StoredDecision]:
    """The decisions made for these events, in the order they were made."""
    out: list[StoredDecision] = []
    for chunk in chunks(sorted(set(event_ids))):
        stmt = (
            select(*_DECISION)
            .where(rule_decisions.c.event_id.in_(chunk))
            .order_by(rule_decisions.c.id)
        )
        out.extend(records(StoredDecision, conn.execute(stmt)))
    return out


def recent_events_of(
    conn: Connection, contacts: Sequence[str], since: datetime
) -> list[tuple[str, str, datetime]]:
    """(contact as written, kind, received_at) of the events from these contacts (inbound, by a
    partial index) and of the events of messages sent to them (by the messages' recipient)."""
    out: list[tuple[str, str, datetime]] = []
    for chunk in chunks(sorted(set(contacts))):
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


def add_tags(conn: Connection, rows: Sequence[TagRow]) -> None:
    """A tag a message has already is not added twice."""
    if rows:
        conn.execute(
            insert_ignore(conn, message_tags, ["channel", "message_id", "tag"]), list(rows)
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
    for chunk in chunks(sorted(set(keys))):
        rows = conn.execute(
            select(message_tags.c.channel, message_tags.c.message_id, message_tags.c.tag)
            .where(tuple_(message_tags.c.channel, message_tags.c.message_id).in_(chunk))
            .order_by(message_tags.c.id)
        )
        for channel, message_id, tag in rows:
            out.setdefault((channel, message_id), []).append(str(tag))
    return out
