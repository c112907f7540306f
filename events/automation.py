"""Running the rules inside the processor's transaction: gather facts and recent history for a
batch of new events, evaluate (pure, events/rules/engine.py), then write the decisions, their
outbox actions, tags and opt-outs in the same transaction as the events. A crash before the
commit leaves nothing; after it, everything. The (event, rule) unique key and the outbox's
idempotency keys make sure an event never fires a rule twice, whatever replays it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Connection

from events import metrics
from events.channels.event import ParsedEvent
from events.contacts import ContactError, wire_key
from events.lookups import last_lookup, lookups_of, reachable, unreachable_reason
from events.membrane.catalogue import Action
from events.optouts import OptOutPolicy
from events.outbox import Refusal, action_row, audit_refusals, check_sends
from events.rules.engine import COUNTED, Decision, Facts, History, evaluate
from events.rules.load import load_rules
from events.rules.model import FAILED, SUPPRESSED, RuleSet
from events.sessions import load_sessions, record_sessions
from events.states import MessageState, apply_event, initial_state
from events.vocabulary import MESSAGE_KINDS
from storage.queries.decisions import (
    DecisionAction,
    DecisionRow,
    TagRow,
    add_tags,
    count_decisions_since,
    digest_counts,
    insert_decisions,
    recent_events_of,
    rule_counts,
)
from storage.queries.messages import MessageFacts, message_states
from storage.queries.outbox import ActionRow, action_inputs, enqueue_actions

log = structlog.get_logger("events.rules")


@dataclass(frozen=True)
class MessageSeen:
    """A message as the processor just folded it: what the rules read of it."""

    state: str
    sent_at: datetime | None
    created_at: datetime
    action_id: str | None


class RulesHolder:
    """The rules in force. reload() swaps them whole between batches, so an event is always
    evaluated by one rules file; a file that does not load keeps the old rules running."""

    def __init__(self, rules: RuleSet, path: str | None = None, **options: Any) -> None:
        self.current = rules
        self.path = path
        self.options = options
        self._pending = threading.Event()
        # Own numbers synced from Infobip (events/bookkeeping.py): they join the file's.
        self.synced_own: frozenset[str] = frozenset()
        self._file_own = rules.own_numbers

    def set_synced_own_numbers(self, numbers: frozenset[str]) -> None:
        """The numbers synced from Infobip's Numbers API join the file's and the settings'
        own_numbers (loop guard, sender_is_own, recipient_is_own), now and after a reload."""
        self.synced_own = frozenset(numbers)
        self.current = _with_own(self.current, self._file_own | self.synced_own)

    def request_reload(self) -> None:
        """Safe from a signal handler: only sets a flag."""
        self._pending.set()

    def reload_if_requested(self) -> bool:
        if not self._pending.is_set():
            return False
        self._pending.clear()
        return self.reload()

    def reload(self) -> bool:
        if not self.path:
            return False
        try:
            rules = load_rules(self.path, **self.options)
        except (OSError, ValueError) as exc:
            log.error("rules not reloaded: the old rules stay in force", error=str(exc))
            return False
        self._file_own = rules.own_numbers
        self.current = _with_own(rules, rules.own_numbers | self.synced_own)
        log.info("rules reloaded", path=self.path, version=rules.version, rules=len(rules.rules))
        return True


def _with_own(rules: RuleSet, own: frozenset[str]) -> RuleSet:
    """The rules with these own numbers; the compiled conditions start afresh (they hold the
    numbers they were compiled with)."""
    if own == rules.own_numbers:
        return rules
    return dataclasses.replace(rules, own_numbers=own, _buckets={}, compiled={})


def event_state(event: ParsedEvent) -> str | None:
    """The state an event by itself gives a message it starts (for `rules test` and replay,
    which have no fold at hand): the processor's own fold, on an empty message."""
    if event.kind not in MESSAGE_KINDS:
        return None
    direction, state = initial_state(event)
    msg = MessageState(
        channel=event.channel, message_id=event.message_id or "", direction=direction, state=state
    )
    apply_event(msg, event)
    return msg.state


def facts_of(
    event: ParsedEvent,
    event_id: int | None,
    message: MessageSeen | MessageFacts | None = None,
    original_text: str | None = None,
    intent: str | None = None,
    region: str | None = None,
) -> Facts:
    text = event.data.get("text")
    state = getattr(message, "state", None) or event_state(event)
    return Facts(
        channel=event.channel,
        kind=event.kind,
        event_key=event.dedupe_key(),
        event_id=event_id,
        direction=event.direction,
        state=state,
        status_group=event.status.group_name if event.status else None,
        status_name=event.status.name if event.status else None,
        error_group=event.error.group_name if event.error else None,
        error_name=event.error.name if event.error else None,
        permanent=event.error.permanent if event.error else None,
        sender=event.sender,
        recipient=event.recipient,
        text=text if isinstance(text, str) else None,
        message_id=event.message_id,
        callback_data=event.callback_data,
        application_id=event.application_id,
        entity_id=event.entity_id,
        occurred_at=event.occurred_at,
        started_at=getattr(message, "sent_at", None)
        or getattr(message, "created_at", None)
        or event.sent_at,
        intent=intent,
        original_text=original_text,
        region=region,
    )


def original_texts(
    conn: Connection, stored: Mapping[tuple[str, str], MessageSeen | MessageFacts]
) -> dict[tuple[str, str], str]:
    """The text each of these messages was sent with, when this service sent it (the
    {original_text} of a fallback on another channel)."""
    inputs = action_inputs(conn, [m.action_id for m in stored.values() if m.action_id])
    out: dict[tuple[str, str], str] = {}
    for key, message in stored.items():
        text = inputs.get(message.action_id or "", {}).get("text")
        if isinstance(text, str):
            out[key] = text
    return out


def history_for(
    conn: Connection,
    rules: RuleSet,
    facts: Sequence[Facts],
    now: datetime,
    policy: OptOutPolicy,
) -> History:
    """What the guards and count conditions need to know about these contacts: counts over
    each cap's window, computed by the database (a busy contact has many rows). The
    identical-message counts are read after a dry pass (Automation.apply)."""
    contacts = sorted({f.contact for f in facts if f.contact})
    by_window: dict[float, list[str]] = {}
    for rule in rules.rules:
        if rule.cap is not None:
            by_window.setdefault(rule.cap.seconds, []).append(rule.name)
    counts: dict[tuple[str, str], int] = {}
    for seconds, names in by_window.items():
        since = now - timedelta(seconds=seconds)
        counts.update(rule_counts(conn, contacts, names, since, COUNTED))
    overall = 0
    if rules.global_cap is not None:
        overall = count_decisions_since(
            conn, now - timedelta(seconds=rules.global_cap.seconds), COUNTED
        )
    history = History(rule_counts=counts, global_before=overall, scope=policy.channels)
    channels = {f.channel for f in facts} | {
        d.channel for r in rules.rules for d in r.do if d.channel
    }
    # Recipients named in the rules file (a fixed `to`) are checked like the event's contact.
    contacts += sorted({c for r in rules.rules for d in r.do if (c := d.to_key)})
    for channel in channels:
        for contact in policy.blocked(conn, channel, contacts):
            history.opted_out.add((channel, contact))
    if rules.uses_sessions:
        history.sessions = load_sessions(conn, contacts)
    if rules.uses_counts:
        longest = max(r.when.count.seconds for r in rules.rules if r.when.count)
        raw = sorted({f.contact_raw for f in facts if f.contact_raw})
        for contact, kind, at in recent_events_of(conn, raw, now - timedelta(seconds=longest)):
            history.saw(wire_key(contact, policy.region), kind, at)
    return history


def load_lookups(
    conn: Connection,
    rules: RuleSet,
    facts: Sequence[Facts],
    history: History,
    now: datetime,
    unreachable_within: timedelta | None,
) -> None:
    """The contacts' last Number Lookups, read here so that the engine stays pure: into each
    event's facts when a rule has a lookup condition; into the history's unreachable
    contacts under SKIP_UNREACHABLE (`unreachable_within`: only a result younger than
    LOOKUP_TTL is trusted), the event's contact and any fixed `to` of the rules alike."""
    if not rules.uses_lookups and unreachable_within is None:
        return
    contacts = {f.contact for f in facts if f.contact}
    if unreachable_within is not None:
        contacts |= {c for r in rules.rules for d in r.do if (c := d.to_key)}
    found = lookups_of(conn, sorted(contacts))
    if rules.uses_lookups:
        for item in facts:
            row = found.get(item.contact or "")
            item.lookup = last_lookup(row) if row is not None else None
    if unreachable_within is not None:
        for contact, row in found.items():
            if reachable(row.outcome) is False and row.looked_up_at >= now - unreachable_within:
                history.unreachable[contact] = unreachable_reason(row)


@dataclass
class Automation:
    """The rules' side effects, written in the caller's transaction."""

    holder: RulesHolder
    catalogue: dict[str, Action]
    max_attempts: int = 6
    policy: OptOutPolicy = field(default_factory=OptOutPolicy)
    on_enqueue: Callable[[], None] | None = None
    # SKIP_UNREACHABLE: how long a lookup that says unreachable is trusted (LOOKUP_TTL); None
    # when the guard is off.
    skip_unreachable_within: timedelta | None = None
    _wake_pending: bool = field(default=False)

    def apply(
        self,
        conn: Connection,
        new_events: list[tuple[ParsedEvent, int]],
        intents: dict[int, str],
        now: datetime,
        messages: dict[tuple[str, str], MessageSeen] | None = None,
    ) -> list[tuple[int, Decision]]:
        # Every inbound WhatsApp message opens (or keeps open) its session, rules or not; before
        # the rules run, so that a reply to it is inside the window.
        record_sessions(conn, [event for event, _ in new_events], now, self.policy.region)
        rules = self.holder.current
        if not rules.rules or not new_events:
            return []
        stored: dict[tuple[str, str], MessageSeen | MessageFacts] = dict(messages or {})
        keys = [
            (e.channel, e.message_id)
            for e, _ in new_events
            if e.message_id is not None and (e.channel, e.message_id) not in stored
        ]
        if keys:
            stored.update({(m.channel, m.message_id): m for m in message_states(conn, keys)})
        originals = original_texts(conn, stored)
        facts = []
        for event, event_id in new_events:
            key = (event.channel, event.message_id or "")
            facts.append(
                facts_of(
                    event,
                    event_id,
                    stored.get(key),
                    originals.get(key),
                    intents.get(event_id),
                    self.policy.region,
                )
            )
        history = history_for(conn, rules, facts, now, self.policy)
        load_lookups(conn, rules, facts, history, now, self.skip_unreachable_within)
        out: list[tuple[int, Decision]] = []
        # A dry pass finds which identical-message counts the guards need; only those are
        # read (a busy contact can have thousands of different messages in the window).
        probe = History(
            rule_counts=history.rule_counts,
            global_before=history.global_before,
            opted_out=set(history.opted_out),
            events=history.events,
            asked=set(),
            scope=history.scope,
            sessions=history.sessions,
            unreachable=history.unreachable,
        )
        for item in facts:
            evaluate(rules, item, probe, now)
        if probe.asked:
            since = now - timedelta(seconds=rules.identical_cap.seconds)
            history.digest_counts = digest_counts(conn, sorted(probe.asked), since, COUNTED)
        for item in facts:
            for decision in evaluate(rules, item, history, now):
                assert item.event_id is not None
                out.append((item.event_id, decision))
        self.write(conn, rules, facts, out, now)
        return out

    def write(
        self,
        conn: Connection,
        rules: RuleSet,
        facts: list[Facts],
        decisions: list[tuple[int, Decision]],
        now: datetime,
    ) -> None:
        """Decisions, their outbox actions, tags and opt-outs: a few multi-row statements.
        Action ids are chosen first so that each decision records them; only the decisions
        that are new (not decided before for that event) have their actions carried out.
        Every send is checked against the suppression list before it is queued (whatever
        action sends it: a reply, a send or a catalogue action), so a decision says what
        really happened."""
        by_id = {f.event_id: f for f in facts}
        planned = {
            (event_id, d.rule): self._outbox_rows(event_id, d, by_id[event_id], now)
            for event_id, d in decisions
        }
        candidates = [r for made in planned.values() for r in made.values() if isinstance(r, dict)]
        refused = check_sends(conn, candidates, self.catalogue, self.policy)
        rows = [
            _decision_row(event_id, d, planned[(event_id, d.rule)], refused, rules, now)
            for event_id, d in decisions
        ]
        new = insert_decisions(conn, rows)  # decided before (a replay): never twice
        metrics.decided(rows, new)
        queued = [
            r
            for key, made in planned.items()
            if key in new
            for r in made.values()
            if isinstance(r, dict) and r["id"] not in refused
        ]
        enqueue_actions(conn, queued)
        mine = {
            r["id"]
            for key, made in planned.items()
            if key in new
            for r in made.values()
            if isinstance(r, dict)
        }
        audit_refusals(conn, {i: r for i, r in refused.items() if i in mine}, now, "rules")
        self._side_effects(conn, decisions, new, by_id, now)
        self._wake_pending = self._wake_pending or bool(queued)

    def _outbox_rows(
        self, event_id: int, decision: Decision, item: Facts, now: datetime
    ) -> dict[int, ActionRow | str]:
        """The outbox row of each planned action that has one (by its index in the plan), or
        why it cannot be queued (a recipient that is not a number)."""
        out: dict[int, ActionRow | str] = {}
        if not decision.executes:
            return out
        for index, planned in enumerate(decision.planned):
            if planned.action is None:
                continue
            try:
                out[index] = action_row(
                    self.catalogue,
                    planned.action,
                    planned.values,
                    idempotency_key=f"rule:{decision.rule}:{item.event_key}:{index}",
                    caused_by_event_id=event_id,
                    max_attempts=self.max_attempts,
                    now=now,
                    not_before=decision.not_before,
                    region=self.policy.region,
                )
            except ContactError as exc:
                out[index] = f"cannot send: {exc}"
        return out

    def _side_effects(
        self,
        conn: Connection,
        decisions: list[tuple[int, Decision]],
        new: set[tuple[int, str]],
        by_id: dict[int | None, Facts],
        now: datetime,
    ) -> None:
        """Tags and opt-outs of the new decisions, in the batch's transaction."""
        tags: list[TagRow] = []
        for event_id, decision in decisions:
            if (event_id, decision.rule) not in new or not decision.executes:
                continue
            item = by_id[event_id]
            for planned in decision.planned:
                if planned.type == "tag" and item.message_id is not None:
                    tags.extend(
                        {
                            "channel": item.channel,
                            "message_id": item.message_id,
                            "tag": tag,
                            "rule": decision.rule,
                            "created_at": now,
                        }
                        for tag in planned.tags
                    )
                elif planned.type in ("opt_out", "opt_in") and planned.contact:
                    self.policy.record(
                        conn,
                        planned.channel or item.channel,
                        planned.contact,
                        planned.type == "opt_out",
                        now,
                        source=f"rule:{decision.rule}",
                        message_id=item.message_id,
                        words=(item.text or "")[:200],
                    )
        add_tags(conn, tags)

    def after_commit(self) -> None:
        """Wake the dispatcher once what the rules queued is committed (not before: it would
        find nothing and go back to sleep)."""
        if self._wake_pending and self.on_enqueue is not None:
            self.on_enqueue()
        self._wake_pending = False


def _decision_row(
    event_id: int,
    decision: Decision,
    queued: dict[int, ActionRow | str],
    refused: dict[str, Refusal],
    rules: RuleSet,
    now: datetime,
) -> DecisionRow:
    """A decision as recorded: each planned action with its outbox id, or why it did not go.
    When nothing it would queue can go, a fired decision says so: suppressed or failed."""
    entries: list[DecisionAction] = []
    stopped: list[str] = []
    for index, planned in enumerate(decision.planned):
        entry: DecisionAction = {
            "type": planned.type,
            "channel": planned.channel,
            "action": planned.action,
            "summary": planned.describe()[:500],
        }
        row = queued.get(index)
        if isinstance(row, str):
            entry["not_done"] = row
            stopped.append(row)
        elif row is not None and row["id"] in refused:
            entry["not_done"] = refused[row["id"]].reason
            stopped.append(refused[row["id"]].reason)
        elif row is not None:
            entry["action_id"] = row["id"]
        entries.append(entry)
    outcome, reason = decision.outcome, decision.reason
    if stopped:
        reason += "; not sent: " + "; ".join(stopped)
        if outcome in COUNTED and len(stopped) == len(queued):
            suppressed = any(r.startswith("suppressed") for r in stopped)
            outcome = SUPPRESSED if suppressed else FAILED
    return {
        "event_id": event_id,
        "rule": decision.rule,
        "outcome": outcome,
        "reason": reason[:2000],
        "contact": decision.contact,
        "digest": decision.digest,
        "actions": entries,
        "not_before": decision.not_before,
        "rules_version": rules.version,
        "created_at": now,
    }


def build_holder(path: str | None, **options: Any) -> RulesHolder:
    """The rules of a file (validated now: a bad file stops the start), or no rules."""
    if not path:
        return RulesHolder(RuleSet(rules=()), None, **options)
    return RulesHolder(load_rules(Path(path), **options), path, **options)
