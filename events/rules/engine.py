"""Evaluating rules: facts about one event + what happened recently -> decisions. Pure.

The caller gathers the facts (the event, its message's state after the event) and the recent
history (earlier decisions for these contacts, opt-outs, event counts), calls evaluate() for
each event in order, and writes the decisions and their actions in the same transaction as the
events. Guards run in a fixed order, so the reason recorded is the first that stopped a rule:
own number, opt-out, quiet hours, the rule's cap, the identical-message cap, the global cap,
then the rule's dry run.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from functools import cached_property
from typing import Any

from events.membrane.catalogue import SEND_ACTIONS, render
from events.rules.model import (
    DEFERRED,
    DRY_RUN,
    FIRED,
    SKIPPED,
    SUPPRESSED,
    Do,
    Rule,
    RuleSet,
    When,
)
from events.rules.text import folded, normalize_contact, words

# The outbox action that forwards an event to an HTTP URL (signed; see dispatch.py).
FORWARD_ACTION = "forward-http"
# Outcomes that count toward the caps: something was (or will be) sent.
COUNTED = (FIRED, DEFERRED)


@dataclass
class Facts:
    """What the rules may look at for one event (its message's state is after the event)."""

    channel: str
    kind: str
    event_key: str = ""
    event_id: int | None = None
    direction: str | None = None
    state: str | None = None
    status_group: str | None = None
    status_name: str | None = None
    error_group: str | None = None
    error_name: str | None = None
    permanent: bool | None = None
    sender: str | None = None
    recipient: str | None = None
    text: str | None = None
    message_id: str | None = None
    callback_data: str | None = None
    application_id: str | None = None
    entity_id: str | None = None
    occurred_at: datetime | None = None
    # When the message started (sent, or received): the message's age counts from here.
    started_at: datetime | None = None
    intent: str | None = None  # opt_out / opt_in / help, when compliance read one
    original_text: str | None = None  # what we sent, for a fallback on another channel

    @property
    def contact_raw(self) -> str | None:
        """The other party: who wrote to us, or whom we wrote to."""
        return self.sender if self.direction == "inbound" else self.recipient

    @property
    def our_number(self) -> str | None:
        return self.recipient if self.direction == "inbound" else self.sender

    @cached_property
    def contact(self) -> str | None:
        raw = self.contact_raw
        return normalize_contact(raw) if raw else None

    @cached_property
    def words(self) -> list[str]:
        return words(self.text) if self.text else []

    @cached_property
    def folded_text(self) -> str:
        return folded(self.text) if self.text else ""

    @cached_property
    def phrase(self) -> str:
        return " ".join(self.words)

    def variables(self, rule: Rule) -> dict[str, Any]:
        status = self.status_name or self.status_group
        return {
            "text": self.text,
            "keyword": self.words[0].upper() if self.words else None,
            "sender": self.sender,
            "recipient": self.recipient,
            "contact": self.contact_raw,
            "our_number": self.our_number,
            "channel": self.channel,
            "kind": self.kind,
            "direction": self.direction,
            "state": self.state,
            "status": status,
            "status_group": self.status_group,
            "error": self.error_name,
            "error_group": self.error_group,
            "message_id": self.message_id,
            "callback_data": self.callback_data,
            "application_id": self.application_id,
            "entity_id": self.entity_id,
            "original_text": self.original_text,
            "rule": rule.name,
            "event_id": self.event_id,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
        }

    def as_json(self) -> dict[str, Any]:
        """The event as forwarded to an HTTP URL."""
        return {
            "event_id": self.event_id,
            "channel": self.channel,
            "kind": self.kind,
            "direction": self.direction,
            "message_id": self.message_id,
            "state": self.state,
            "status": {"group_name": self.status_group, "name": self.status_name},
            "error": {
                "group_name": self.error_group,
                "name": self.error_name,
                "permanent": self.permanent,
            }
            if self.error_name
            else None,
            "sender": self.sender,
            "recipient": self.recipient,
            "text": self.text,
            "callback_data": self.callback_data,
            "application_id": self.application_id,
            "entity_id": self.entity_id,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
        }


@dataclass
class History:
    """Recent automated sends, opt-outs and events for the contacts at hand. The caller fills
    it from the database; evaluate() adds its own decisions so a batch sees itself."""

    # (rule, contact, content hash, when) of decisions that sent or will send.
    sends: list[tuple[str, str | None, str | None, datetime]] = field(default_factory=list)
    # How many automated sends happened in the global cap's window before these.
    global_before: int = 0
    opted_out: set[tuple[str, str]] = field(default_factory=set)
    # contact -> sorted (when, kind) of its events.
    events: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)
    _added: list[datetime] = field(default_factory=list)
    _by_contact: dict[str | None, list[tuple[str, str | None, datetime]]] = field(
        default_factory=dict
    )

    def __post_init__(self) -> None:
        for rule, contact, digest, at in self.sends:
            self._by_contact.setdefault(contact, []).append((rule, digest, at))

    def record(self, rule: str, contact: str | None, digest: str | None, at: datetime) -> None:
        self.sends.append((rule, contact, digest, at))
        self._by_contact.setdefault(contact, []).append((rule, digest, at))
        self._added.append(at)

    def saw(self, contact: str | None, kind: str, at: datetime) -> None:
        if contact:
            bisect.insort(self.events.setdefault(contact, []), (at, kind))

    def by_rule(self, rule: str, contact: str | None, since: datetime) -> int:
        return sum(1 for r, _, at in self._by_contact.get(contact, ()) if r == rule and at >= since)

    def identical(self, contact: str | None, digest: str, since: datetime) -> int:
        return sum(
            1 for _, d, at in self._by_contact.get(contact, ()) if d == digest and at >= since
        )

    def overall(self, since: datetime) -> int:
        return self.global_before + sum(1 for at in self._added if at >= since)

    def count_events(
        self, contact: str | None, kinds: Iterable[str] | None, since: datetime
    ) -> int:
        wanted = set(kinds) if kinds is not None else None
        return sum(
            1
            for at, kind in self.events.get(contact or "", ())
            if at >= since and (wanted is None or kind in wanted)
        )


@dataclass
class Planned:
    """One action a decision asks for."""

    type: str  # reply, send, action, forward, opt_out, opt_in, tag
    channel: str | None = None
    action: str | None = None  # the outbox action key
    values: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    contact: str | None = None

    def describe(self) -> str:
        if self.type in ("reply", "send"):
            return f"{self.channel} to {self.values.get('to')}: {self.values.get('text')!r}"
        if self.type == "forward":
            return f"POST to {self.values.get('url')}"
        if self.type == "action":
            return f"run {self.action} with {self.values}"
        if self.type == "tag":
            return f"tag the message {', '.join(self.tags)}"
        return f"{self.type.replace('_', ' ')} {self.contact} on {self.channel}"


@dataclass
class Decision:
    rule: str
    outcome: str  # fired, dry_run, skipped, suppressed, deferred
    reason: str
    planned: list[Planned]
    contact: str | None = None
    digest: str | None = None  # of the text sent, for the identical-message cap
    not_before: datetime | None = None

    @property
    def acts(self) -> bool:
        """Whether it sends (or will): what the caps count."""
        return self.outcome in COUNTED

    @property
    def executes(self) -> bool:
        """Whether its actions are carried out (a suppressed decision keeps its non-sends)."""
        return self.acts or (self.outcome == SUPPRESSED and bool(self.planned))

    def describe(self) -> str:
        what = "; ".join(p.describe() for p in self.planned) or "nothing"
        return f"{self.rule}: {self.outcome} ({self.reason}) -> {what}"


# ---- conditions ---------------------------------------------------------------------------------


def _one_of(value: str | None, allowed: frozenset[str] | None, *, lower: bool = True) -> bool:
    if allowed is None:
        return True
    if value is None:
        return False
    return (value.lower() if lower else value) in allowed


def _contact_matches(value: str | None, patterns: tuple[str, ...] | None) -> bool:
    if patterns is None:
        return True
    if not value:
        return False
    value = normalize_contact(value)
    return any(fnmatchcase(value, p) if "*" in p else value == p for p in patterns)


def _is_own(value: str | None, own: frozenset[str]) -> bool:
    return bool(value) and normalize_contact(value or "") in own


def matches(when: When, facts: Facts, rules: RuleSet, history: History, now: datetime) -> bool:
    """Whether every condition that is set holds for these facts."""
    if not (_one_of(facts.channel, when.channel) and _one_of(facts.kind, when.kind)):
        return False
    if when.direction is not None and facts.direction != when.direction:
        return False
    if not (
        _one_of(facts.state, when.state)
        and _one_of(facts.status_group, when.status_group)
        and _one_of(facts.status_name, when.status_name)
        and _one_of(facts.error_group, when.error_group)
        and _one_of(facts.error_name, when.error_name, lower=False)
        and _one_of(facts.intent, when.intent)
    ):
        return False
    if when.permanent is not None and facts.permanent is not when.permanent:
        return False
    # Keywords: words folded for case, accents, width and look-alikes (events/rules/text.py).
    if when.first_word is not None and (not facts.words or facts.words[0] not in when.first_word):
        return False
    if when.only_word is not None and (
        len(facts.words) != 1 or facts.words[0] not in when.only_word
    ):
        return False
    if when.contains is not None:
        padded = f" {facts.phrase} "
        if not any(f" {p} " in padded for p in when.contains):
            return False
    if when.regex is not None and not when.regex.search(facts.folded_text):
        return False
    if not (
        _contact_matches(facts.sender, when.sender)
        and _contact_matches(facts.recipient, when.recipient)
    ):
        return False
    if when.sender_is_own is not None and (
        _is_own(facts.sender, rules.own_numbers) is not when.sender_is_own
    ):
        return False
    if when.recipient_is_own is not None and (
        _is_own(facts.recipient, rules.own_numbers) is not when.recipient_is_own
    ):
        return False
    if not (
        _one_of(facts.callback_data, when.callback_data, lower=False)
        and _one_of(facts.application_id, when.application_id, lower=False)
        and _one_of(facts.entity_id, when.entity_id, lower=False)
    ):
        return False
    if when.callback_data_prefix is not None and not (
        facts.callback_data and facts.callback_data.startswith(when.callback_data_prefix)
    ):
        return False
    if when.callback_data_regex is not None and not (
        facts.callback_data and when.callback_data_regex.search(facts.callback_data)
    ):
        return False
    if when.within_hours is not None and not when.within_hours.contains(now):
        return False
    if when.outside_hours is not None and when.outside_hours.contains(now):
        return False
    if when.min_age is not None or when.max_age is not None:
        started = facts.started_at or facts.occurred_at
        if started is None:
            return False
        age = (now - started).total_seconds()
        if when.min_age is not None and age < when.min_age:
            return False
        if when.max_age is not None and age > when.max_age:
            return False
    if when.count is not None:
        since = now - timedelta(seconds=when.count.seconds)
        seen = history.count_events(facts.contact, when.count.kinds, since)
        if when.count.at_least is not None and seen < when.count.at_least:
            return False
        if when.count.at_most is not None and seen > when.count.at_most:
            return False
    return True


# ---- actions and guards -------------------------------------------------------------------------


def _plan(do: Do, facts: Facts, rules: RuleSet, variables: dict[str, Any]) -> Planned | str:
    """The action with its templates filled, or why it cannot be done for this event."""
    if do.type in ("reply", "send"):
        channel = facts.channel if do.type == "reply" else do.channel
        key = SEND_ACTIONS.get(channel or "")
        if key is None:
            return f"cannot send on {channel}"
        to = render(do.to, variables) if do.to else facts.contact_raw
        if not to:
            return "no contact to send to"
        sender = render(do.sender, variables) if do.sender else None
        if sender is None:
            # A reply comes from the number that was written to; another channel from the
            # sender the rules file names for it.
            sender = facts.our_number if do.type == "reply" else rules.senders.get(channel or "")
        values = {
            "to": to,
            "from": sender or rules.senders.get(channel or ""),
            "text": render(do.text, variables),
            "subject": render(do.subject, variables) if do.subject else None,
        }
        return Planned(
            do.type,
            channel,
            key,
            {k: v for k, v in values.items() if v is not None},
            contact=normalize_contact(str(to)),
        )
    if do.type == "action":
        values = render(do.input or {}, variables) or {}
        return Planned("action", None, do.key, values)
    if do.type == "forward":
        return Planned("forward", None, FORWARD_ACTION, {"url": do.url, "event": facts.as_json()})
    if do.type == "tag":
        return Planned("tag", facts.channel, tags=do.tags)
    # opt_out / opt_in
    if not facts.contact:
        return "no contact to opt out or in"
    return Planned(do.type, do.channel or facts.channel, contact=facts.contact)


def digest_of(planned: list[Planned]) -> str | None:
    """What makes two automated messages identical: channel and text of what is sent."""
    texts = [
        f"{p.channel}\x1f{p.values.get('text')}" for p in planned if p.type in ("reply", "send")
    ]
    if not texts:
        return None
    return hashlib.blake2b("\x1e".join(texts).encode(), digest_size=8).hexdigest()


def _decide(rule: Rule, facts: Facts, rules: RuleSet, history: History, now: datetime) -> Decision:
    variables = facts.variables(rule)
    planned: list[Planned] = []
    problems: list[str] = []
    for do in rule.do:
        made = _plan(do, facts, rules, variables)
        if isinstance(made, str):
            problems.append(made)
        else:
            planned.append(made)
    contact = facts.contact

    def decision(outcome: str, reason: str, **extra: Any) -> Decision:
        if problems:
            reason = f"{reason}; not done: {'; '.join(problems)}"
        return Decision(rule.name, outcome, reason, planned, contact, digest_of(planned), **extra)

    if not planned:
        return decision(SKIPPED, "nothing to do")
    sends = [p for p in planned if p.type in ("reply", "send")]
    if any(p.contact in rules.own_numbers for p in sends):
        return decision(SKIPPED, "never auto-reply to one of our own numbers")
    blocked = [p for p in sends if (p.channel or "", p.contact or "") in history.opted_out]
    if blocked:
        # The sends are dropped; what does not message the contact (a tag, an alert) is still
        # done, and the decision says suppressed.
        planned = [p for p in planned if p not in blocked]
        channels = ", ".join(sorted({str(p.channel) for p in blocked}))
        kept = f"; still done: {', '.join(p.type for p in planned)}" if planned else ""
        return decision(SUPPRESSED, f"the contact opted out on {channels}{kept}")
    not_before = None
    if rule.quiet_hours is not None and rule.quiet_hours.contains(now):
        if rule.quiet_mode == "skip":
            return decision(SKIPPED, f"quiet hours {rule.quiet_hours}")
        not_before = rule.quiet_hours.end_after(now)
    if rule.cap is not None:
        used = history.by_rule(rule.name, contact, now - timedelta(seconds=rule.cap.seconds))
        if used >= rule.cap.count:
            return decision(SKIPPED, f"rule cap reached: {rule.cap} for this contact")
    digest = digest_of(planned)
    if digest is not None:
        cap = rules.identical_cap
        if history.identical(contact, digest, now - timedelta(seconds=cap.seconds)) >= cap.count:
            return decision(SKIPPED, f"identical-message cap reached: {cap} for this contact")
    if rules.global_cap is not None:
        cap = rules.global_cap
        if history.overall(now - timedelta(seconds=cap.seconds)) >= cap.count:
            return decision(SKIPPED, f"global cap reached: {cap}")
    if rule.dry_run:
        return decision(DRY_RUN, "the rule is in dry run: nothing sent")
    if not_before is not None:
        assert rule.quiet_hours is not None
        return decision(
            DEFERRED,
            f"quiet hours {rule.quiet_hours}: deferred to {not_before.isoformat()}",
            not_before=not_before,
        )
    return decision(FIRED, "conditions met")


def evaluate(rules: RuleSet, facts: Facts, history: History, now: datetime) -> list[Decision]:
    """The decisions of every rule whose conditions hold, in running order. A matching rule
    with match = "first" ends the evaluation, whatever its guards decided (a capped keyword
    reply must not fall through to a catch-all). An event compliance has read as STOP, START
    or HELP is left to compliance rules only."""
    first = facts.words[0] if facts.words else None
    decisions: list[Decision] = []
    for rule in rules.bucket(facts.channel, facts.kind).candidates(first):
        if facts.intent is not None and rule.stage != "compliance":
            continue
        if not matches(rule.when, facts, rules, history, now):
            continue
        decision = _decide(rule, facts, rules, history, now)
        decisions.append(decision)
        if decision.acts:
            history.record(rule.name, decision.contact, decision.digest, now)
        if decision.executes:
            for p in decision.planned:
                if p.type == "opt_out" and p.contact:
                    history.opted_out.add((p.channel or "", p.contact))
                elif p.type == "opt_in" and p.contact:
                    history.opted_out.discard((p.channel or "", p.contact))
        if rule.match == "first":
            break
    return decisions
