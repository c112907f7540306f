"""Trying rules before trusting them: `rules test` (one payload, no database) and `rules replay`
(a rules file over the stored history, read-only, against what the rules in force decided).

Replay reads in a read-only transaction (SQLite: query_only; PostgreSQL: READ ONLY) that is
rolled back, so it cannot write even by mistake. History is simulated from the start of the
window: earlier opt-outs count, the caps count what the replayed rules would have sent.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from events.automation import facts_of, original_texts
from events.channels.event import ParsedEvent, Parser
from events.channels.status import error_from_columns, status_from_columns
from events.compliance import Compliance
from events.contacts import ContactError, wire_key
from events.rules.engine import COUNTED, Decision, Facts, History, evaluate
from events.rules.model import SENDS, SESSION_WINDOW, RuleSet
from events.sessions import inbound_rows
from events.vocabulary import Direction, Kind
from storage.db import read_only_transaction
from storage.queries.decisions import decisions_for_events
from storage.queries.messages import StoredEvent, events_since, message_states
from storage.queries.optouts import opted_out_before


def intent_of(event: ParsedEvent, compliance: Compliance) -> str | None:
    found = compliance.read(event)
    return found.kind if found else None


def saw_sessions(history: History, events: list[ParsedEvent], now: datetime) -> None:
    """The WhatsApp sessions these inbound messages open, as the processor records them."""
    for row in inbound_rows(events, now, None):
        key = (row["contact"], row["channel"], row["sender"])
        history.sessions[key] = max(
            history.sessions.get(key, row["last_inbound_at"]), row["last_inbound_at"]
        )


def session_line(rules: RuleSet, facts: Facts, history: History, now: datetime) -> str | None:
    """The contact's WhatsApp session as the rules see it, for explanations; None when no
    rule cares about sessions."""
    if not rules.uses_sessions or not facts.contact:
        return None
    ours = facts.recipient_contact if facts.direction == Direction.INBOUND else None
    end = history.window_end(
        facts.contact, "whatsapp", ours if facts.channel == "whatsapp" else None
    )
    if end is None:
        return "WhatsApp session: none (the contact never wrote): text is not delivered"
    if now < end:
        return f"WhatsApp session: open until {end.isoformat()}"
    return f"WhatsApp session: closed at {end.isoformat()}: text is not delivered"


def try_payload(
    rules: RuleSet,
    parser: Parser,
    body: bytes,
    *,
    content_type: str | None,
    at: datetime | None,
    compliance: Compliance,
    last_inbound: datetime | None = None,
) -> list[tuple[Facts, list[Decision], str | None]]:
    """What the rules would decide for each item of one payload, with no history but the
    sessions its inbound messages open (and, with last_inbound, one the contact opened then
    with our WhatsApp sender: the rules file's, or the number the event names)."""
    result = parser(body, content_type)
    history = History()
    out = []
    for event in result.events:
        facts = facts_of(event, None, intent=intent_of(event, compliance))
        now = at or event.occurred_at or datetime.now(UTC)
        history.saw(facts.contact, event.kind, now)
        if last_inbound is not None and facts.contact:
            for ours in _our_senders(rules, facts):
                history.sessions[(facts.contact, "whatsapp", ours)] = last_inbound
        saw_sessions(history, [event], now)
        decisions = evaluate(rules, facts, history, now)
        out.append((facts, decisions, session_line(rules, facts, history, now)))
    return out


def _our_senders(rules: RuleSet, facts: Facts) -> list[str]:
    found = []
    for number in (
        rules.senders.get("whatsapp"),
        facts.our_number if facts.channel == "whatsapp" else None,
    ):
        with contextlib.suppress(ContactError):
            found += [wire_key(number, rules.region)] if number else []
    return found


_DIRECTIONS = frozenset(Direction)


def _event_from_row(row: StoredEvent) -> ParsedEvent:
    """A stored event as the parsers made it (the fields the rules look at)."""
    data = row.data if isinstance(row.data, dict) else {}
    return ParsedEvent(
        kind=Kind(row.kind),
        channel=row.channel,
        discriminator=row.dedupe_key,
        message_id=row.message_id,
        direction=Direction(row.direction) if row.direction in _DIRECTIONS else None,
        sub_type=row.sub_type,
        sender=row.sender,
        recipient=row.recipient,
        callback_data=data.get("callback_data")
        if isinstance(data.get("callback_data"), str)
        else None,
        occurred_at=row.occurred_at,
        status=status_from_columns(row),
        error=error_from_columns(row),
        data=data,
    )


@dataclass
class ReplayEntry:
    event_id: int
    channel: str
    kind: str
    contact: str | None
    text: str | None
    would: list[Decision]
    did: list[dict[str, Any]]
    session: str | None = None

    @property
    def differs(self) -> bool:
        mine = sorted((d.rule, d.outcome) for d in self.would)
        return mine != sorted((d["rule"], d["outcome"]) for d in self.did)


@dataclass
class ReplayReport:
    events: int = 0
    entries: list[ReplayEntry] = field(default_factory=list)
    would: Counter[str] = field(default_factory=Counter)
    did: Counter[str] = field(default_factory=Counter)
    would_send: int = 0
    did_send: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "would": dict(self.would),
            "did": dict(self.did),
            "would_send": self.would_send,
            "did_send": self.did_send,
            "changed": [
                {
                    "event_id": e.event_id,
                    "channel": e.channel,
                    "kind": e.kind,
                    "contact": e.contact,
                    "text": e.text,
                    "session": e.session,
                    "would": [
                        {
                            "rule": d.rule,
                            "outcome": d.outcome,
                            "reason": d.reason,
                            "actions": [p.describe() for p in d.planned],
                        }
                        for d in e.would
                    ],
                    "did": e.did,
                }
                for e in self.entries
                if e.differs
            ],
        }


def _pages(
    conn: Connection, since: datetime, until: datetime | None
) -> Iterator[list[StoredEvent]]:
    last = 0
    while True:
        rows = events_since(conn, since, until, last, 1000)
        if not rows:
            return
        yield rows
        last = rows[-1].id


def replay(
    engine: Engine,
    rules: RuleSet,
    since: datetime,
    *,
    compliance: Compliance,
    until: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReplayReport:
    """Run `rules` over the events stored since `since`, in order, as if each had just
    arrived; nothing is written. Compare with the decisions recorded at the time."""
    report = ReplayReport()
    with read_only_transaction(engine) as conn:
        history = History()
        history.opted_out.update(opted_out_before(conn, since))
        if rules.uses_sessions:  # the sessions open when the replay starts
            for page in _pages(conn, since - SESSION_WINDOW, since):
                saw_sessions(history, [_event_from_row(r) for r in page], since)
        for page in _pages(conn, since, until):
            _replay_page(conn, page, rules, history, report, compliance)
            if progress is not None:
                progress(report.events)
    return report


def _replay_page(
    conn: Connection,
    page: list[StoredEvent],
    rules: RuleSet,
    history: History,
    report: ReplayReport,
    compliance: Compliance,
) -> None:
    keys = [(r.channel, r.message_id) for r in page if r.message_id is not None]
    stored = {(m.channel, m.message_id): m for m in message_states(conn, keys)}
    originals = original_texts(conn, stored)
    recorded: dict[int, list[dict[str, Any]]] = {}
    for rec in decisions_for_events(conn, [r.id for r in page]):
        if rec.rule.startswith("compliance:"):
            continue  # built-in STOP/START/HELP: the same whatever the rules file says
        recorded.setdefault(rec.event_id, []).append(
            {"rule": rec.rule, "outcome": rec.outcome, "reason": rec.reason, "actions": rec.actions}
        )
    for row in page:
        event = _event_from_row(row)
        key = (row.channel, row.message_id or "")
        message = stored.get(key)
        intent = intent_of(event, compliance)
        facts = facts_of(event, row.id, None, originals.get(key), intent)
        # The message's start, without its later state: the state is what this event gave it.
        facts.started_at = getattr(message, "sent_at", None) or getattr(message, "created_at", None)
        # Events keep the raw item; the message keeps what the rules read besides.
        facts.callback_data = facts.callback_data or getattr(message, "callback_data", None)
        facts.application_id = getattr(message, "application_id", None)
        facts.entity_id = getattr(message, "entity_id", None)
        now = row.received_at
        history.saw(facts.contact, row.kind, now)
        saw_sessions(history, [event], now)
        if intent == "opt_out" and facts.contact:
            history.opted_out.add((row.channel, facts.contact))
        elif intent == "opt_in" and facts.contact:
            history.opted_out.discard((row.channel, facts.contact))
        would = evaluate(rules, facts, history, now)
        did = recorded.get(row.id, [])
        report.events += 1
        for decision in would:
            report.would[decision.outcome] += 1
            if decision.acts:
                report.would_send += sum(1 for p in decision.planned if p.sends)
        for past in did:
            report.did[past["outcome"]] += 1
            if past["outcome"] in COUNTED:
                report.did_send += sum(1 for a in past["actions"] if a.get("type") in SENDS)
        if would or did:
            report.entries.append(
                ReplayEntry(
                    row.id,
                    row.channel,
                    row.kind,
                    facts.contact_raw,
                    facts.text,
                    would,
                    did,
                    session_line(rules, facts, history, now),
                )
            )
