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
import fnmatch
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from events.channels.registry import SEND_ACTIONS, TEMPLATE_SEND_ACTIONS, address_of
from events.contacts import ContactError, recipient_key, wire, wire_key
from events.membrane.catalogue import render
from events.rules.language import guess_language
from events.rules.model import (
    DEFERRED,
    DRY_RUN,
    FAILED,
    FIRED,
    OUTSIDE_WINDOW,
    SENDS,
    SESSION_CHANNELS,
    SESSION_WINDOW,
    SKIPPED,
    SUPPRESSED,
    Count,
    Do,
    LookupCondition,
    Rule,
    RuleSet,
    When,
)
from events.rules.text import folded, words_of_folded
from events.vocabulary import Direction

# The outbox action that forwards an event to an HTTP URL (signed; see dispatch.py).
FORWARD_ACTION = "forward-http"
# Outcomes that count toward the caps: something was (or will be) sent.
COUNTED = (FIRED, DEFERRED)
# Set in a WhatsApp text send's values by the rules: the dispatcher checks the window again
# when the send falls due (a quiet-hours deferral may cross its end), and sends the template it
# holds instead, if any (events/sessions.py).
WINDOW_FLAG = "_window"


@dataclass(frozen=True)
class LastLookup:
    """The contact's last Number Lookup, as the caller read it (events/lookups.py): the engine
    never queries, so a rule on it stays pure."""

    reachable: bool | None
    ported: bool | None
    roaming: bool | None
    # The network the number is on now: names and MCC-MNC, case-folded.
    networks: frozenset[str] = frozenset()
    looked_up_at: datetime | None = None


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
    region: str | None = None  # how national writings are read (DEFAULT_REGION)
    # The language the opt-out reader recognised, when it read STOP, START or HELP; else it is
    # guessed from the text when a rule's text table asks (events/rules/language.py).
    language_read: str | None = None
    lookup: LastLookup | None = None  # the contact's last Number Lookup, when a rule reads it

    @property
    def contact_raw(self) -> str | None:
        """The other party: who wrote to us, or whom we wrote to."""
        return self.sender if self.direction == Direction.INBOUND else self.recipient

    @property
    def our_number(self) -> str | None:
        return self.recipient if self.direction == Direction.INBOUND else self.sender

    # Derived once, when the facts are made: every rule reads them.
    words: list[str] = field(init=False, default_factory=list)
    folded_text: str = field(init=False, default="")
    phrase: str = field(init=False, default="")
    padded_phrase: str = field(init=False, default="  ")

    # Contact keys (events/contacts.py): what Infobip wrote, read leniently, on first use.
    # Keying a number nobody cached costs tens of microseconds (phonenumbers' parse), and most
    # events (a delivered report, a text no rule matches) fire no rule that reads one.
    @cached_property
    def sender_contact(self) -> str | None:
        return wire_key(self.sender, self.region) if self.sender else None

    @cached_property
    def recipient_contact(self) -> str | None:
        return wire_key(self.recipient, self.region) if self.recipient else None

    @cached_property
    def contact(self) -> str | None:
        """The other party's key."""
        inbound = self.direction == Direction.INBOUND
        return self.sender_contact if inbound else self.recipient_contact

    def __post_init__(self) -> None:
        if self.text:
            # Folded: case, accents, width and look-alikes (events/rules/text.py).
            self.folded_text = folded(self.text)
            self.words = words_of_folded(self.folded_text)
            self.phrase = " ".join(self.words)
            self.padded_phrase = f" {self.phrase} "

    @property
    def language(self) -> str | None:
        if self.language_read is None and self.text:
            self.language_read = guess_language(self.text, self.words) or ""
        return self.language_read or None

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
    it from the database (counts over each cap's window, as of now); evaluate() adds its own
    decisions so a batch sees itself, and a replay builds it up from nothing."""

    # (rule, contact) -> sends by that rule to that contact within the rule's cap window.
    rule_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    # (contact, digest) -> identical sends within the identical-message window.
    digest_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    # How many automated sends happened in the global cap's window before these.
    global_before: int = 0
    # (channel, contact) opted out; `scope` says which channels an opt-out on one covers.
    opted_out: set[tuple[str, str]] = field(default_factory=set)
    scope: Callable[[str], tuple[str, ...]] = field(default=lambda channel: (channel,))
    # contact -> sorted (when, kind) of its events.
    events: dict[str, list[tuple[datetime, str]]] = field(default_factory=dict)
    # contact -> why it is known unreachable (filled only under SKIP_UNREACHABLE).
    unreachable: dict[str, str] = field(default_factory=dict)
    # When a set: every (contact, digest) the identical-message guard asks about is noted, so
    # that a first, dry pass tells the caller which counts to fetch (see automation.py).
    asked: set[tuple[str, str]] | None = None
    # (contact, channel, our sender) -> when the contact last wrote to that sender (sessions).
    sessions: dict[tuple[str, str, str], datetime] = field(default_factory=dict)
    _added: list[datetime] = field(default_factory=list)
    _by_contact: dict[str | None, list[tuple[str, str | None, datetime]]] = field(
        default_factory=dict
    )

    def is_opted_out(self, channel: str | None, contact: str | None) -> bool:
        return any((c, contact or "") in self.opted_out for c in self.scope(channel or ""))

    def mark(self, channel: str | None, contact: str, opted_out: bool) -> None:
        """A rule opted a contact out (or in) within this batch: later events see it."""
        if opted_out:
            self.opted_out.add((channel or "", contact))
        else:
            self.opted_out.difference_update((c, contact) for c in self.scope(channel or ""))

    def record(self, rule: str, contact: str | None, digest: str | None, at: datetime) -> None:
        self._by_contact.setdefault(contact, []).append((rule, digest, at))
        bisect.insort(self._added, at)  # sorted, so the global count is a bisection

    def by_rule(self, rule: str, contact: str | None, since: datetime) -> int:
        added = self._by_contact.get(contact, ())
        return self.rule_counts.get((rule, contact or ""), 0) + sum(
            1 for r, _, at in added if r == rule and at >= since
        )

    def identical(self, contact: str | None, digest: str, since: datetime) -> int:
        if self.asked is not None:
            self.asked.add((contact or "", digest))
        added = self._by_contact.get(contact, ())
        return self.digest_counts.get((contact or "", digest), 0) + sum(
            1 for _, d, at in added if d == digest and at >= since
        )

    def overall(self, since: datetime) -> int:
        return self.global_before + len(self._added) - bisect.bisect_left(self._added, since)

    def window_end(self, contact: str | None, channel: str, sender: str | None) -> datetime | None:
        """When the session between the contact and our sender on a channel closes (it may be
        past); None when the contact never wrote to it. Without a sender: the latest of any."""
        if not contact:
            return None
        if sender is not None:
            last = self.sessions.get((contact, channel, sender))
        else:
            times = [t for (c, ch, _), t in self.sessions.items() if c == contact and ch == channel]
            last = max(times) if times else None
        return None if last is None else last + SESSION_WINDOW

    def saw(self, contact: str | None, kind: str, at: datetime) -> None:
        if contact:
            bisect.insort(self.events.setdefault(contact, []), (at, kind))

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
    window: str | None = None  # a WhatsApp send: the session, as the rule saw it
    window_end: datetime | None = None

    @property
    def sends(self) -> bool:
        return self.type in SENDS

    def describe(self) -> str:
        if self.sends:
            what = self.values.get("text")
            if what is None and "template" in self.values:
                what = f"template {self.values['template']} ({self.values.get('language')})"
                what += f" {self.values.get('placeholders') or []}"
                shown = f"{self.channel} to {self.values.get('to')}: {what}"
            else:
                shown = f"{self.channel} to {self.values.get('to')}: {what!r}"
            return f"{shown} [{self.window}]" if self.window else shown
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
    # Skipped outside the WhatsApp window: what the rule's `else` actions came to.
    else_outcome: str | None = None

    @property
    def acts(self) -> bool:
        """Whether it sends (or will): what the caps count."""
        return self.outcome in COUNTED or self.else_outcome in COUNTED

    @property
    def executes(self) -> bool:
        """Whether its actions are carried out (a suppressed decision keeps its non-sends)."""
        suppressed = SUPPRESSED in (self.outcome, self.else_outcome)
        return self.acts or (suppressed and bool(self.planned))

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


def _contact_matcher(patterns: tuple[str, ...]) -> Callable[[str | None], bool]:
    """Exact contacts by a set, "prefix*" patterns by startswith, other wildcards by regex."""
    exact = frozenset(p for p in patterns if "*" not in p and "?" not in p)
    prefixes = tuple(p[:-1] for p in patterns if p.endswith("*") and "*" not in p[:-1])
    others = [
        re.compile(fnmatch.translate(p))
        for p in patterns
        if p not in exact and p[:-1] not in prefixes
    ]

    def match(value: str | None) -> bool:
        if not value:
            return False
        return (
            value in exact
            or (bool(prefixes) and value.startswith(prefixes))
            or any(r.match(value) for r in others)
        )

    return match


def _is_own(value: str | None, own: frozenset[str]) -> bool:
    return value is not None and value in own


Check = Callable[[Facts, History, datetime], bool]


def _field_in(name: str, allowed: frozenset[str], *, fold_case: bool) -> Check:
    def check(facts: Facts, _h: History, _n: datetime) -> bool:
        value = getattr(facts, name)
        if value is None:
            return False
        # Infobip writes groups in upper case, the contract's states are lower case.
        return value in allowed or (fold_case and value.lower() in allowed)

    return check


def _predicate(test: Callable[[Facts], bool]) -> Check:
    def check(facts: Facts, _h: History, _n: datetime) -> bool:
        return test(facts)

    return check


def _at(test: Callable[[Facts, History, datetime], bool]) -> Check:
    return test


def _compile(when: When, own: frozenset[str], *, bucketed: bool = False) -> tuple[Check, ...]:
    """One small predicate per condition that is set; a rule costs only the conditions it has
    (up to a hundred rules are looked at per event, so this matters). Bucketed: the channel
    and kind were already matched by RuleSet.bucket()."""
    checks: list[Check] = []
    names = ("state", "status_group", "status_name", "error_group")
    for name in names if bucketed else ("channel", "kind", *names):
        allowed = getattr(when, name)
        if allowed is not None:
            checks.append(_field_in(name, allowed, fold_case=True))
    if when.intent is not None:
        checks.append(_field_in("intent", when.intent, fold_case=True))
    for name in ("error_name", "callback_data", "application_id", "entity_id"):
        allowed = getattr(when, name)
        if allowed is not None:
            checks.append(_field_in(name, allowed, fold_case=False))
    direction, permanent = when.direction, when.permanent
    if direction is not None:
        checks.append(_predicate(lambda f: f.direction == direction))
    if permanent is not None:
        checks.append(_predicate(lambda f: f.permanent is permanent))
    # Keywords: words folded for case, accents, width and look-alikes (events/rules/text.py).
    first, only, contains, regex = when.first_word, when.only_word, when.contains, when.regex
    if first is not None:
        checks.append(_predicate(lambda f: bool(f.words) and f.words[0] in first))
    if only is not None:
        checks.append(_predicate(lambda f: len(f.words) == 1 and f.words[0] in only))
    if contains is not None:
        padded = tuple(f" {p} " for p in contains)
        checks.append(_predicate(lambda f: any(p in f.padded_phrase for p in padded)))
    if regex is not None:
        checks.append(_predicate(lambda f: regex.search(f.folded_text) is not None))
    senders, recipients = when.sender, when.recipient
    if senders is not None:
        match_sender = _contact_matcher(senders)
        checks.append(_predicate(lambda f: match_sender(f.sender_contact)))
    if recipients is not None:
        match_recipient = _contact_matcher(recipients)
        checks.append(_predicate(lambda f: match_recipient(f.recipient_contact)))
    sender_own, recipient_own = when.sender_is_own, when.recipient_is_own
    if sender_own is not None:
        checks.append(_predicate(lambda f: _is_own(f.sender_contact, own) is sender_own))
    if recipient_own is not None:
        checks.append(_predicate(lambda f: _is_own(f.recipient_contact, own) is recipient_own))
    prefix, data_regex = when.callback_data_prefix, when.callback_data_regex
    if prefix is not None:
        checks.append(_predicate(lambda f: (f.callback_data or "\x00").startswith(prefix)))
    if data_regex is not None:
        checks.append(
            _predicate(
                lambda f: (
                    f.callback_data is not None and data_regex.search(f.callback_data) is not None
                )
            )
        )
    within, outside = when.within_hours, when.outside_hours
    if within is not None:
        checks.append(_at(lambda f, h, n: within.contains(n)))
    if outside is not None:
        checks.append(_at(lambda f, h, n: not outside.contains(n)))
    low, high = when.min_age, when.max_age
    if low is not None or high is not None:
        checks.append(_at(lambda f, h, n: _age_between(f, n, low, high)))
    count = when.count
    if count is not None:
        checks.append(_at(lambda f, h, n: _count_between(f, h, n, count)))
    session = when.session_open
    if session is not None:
        checks.append(_at(lambda f, h, n: _session_open(f, h, n) is session))
    lookup = when.lookup
    if lookup is not None:
        checks.append(_predicate(lambda f: _lookup_shows(lookup, f.lookup)))
    return tuple(checks)


def _our_sender(facts: Facts) -> str | None:
    """Our number in the event, keyed, when the event is on a channel with sessions."""
    if facts.channel not in SESSION_CHANNELS:
        return None
    return facts.recipient_contact if facts.direction == Direction.INBOUND else facts.sender_contact


def _session_open(facts: Facts, history: History, now: datetime) -> bool:
    """The WhatsApp session of the event's contact: with the number of the event when it is on
    WhatsApp, else with any of our senders."""
    end = history.window_end(facts.contact, "whatsapp", _our_sender(facts))
    return end is not None and now < end


def _lookup_shows(condition: LookupCondition, last: LastLookup | None) -> bool:
    """Whether the last lookup shows what the condition asks; no lookup shows nothing."""
    if last is None:
        return False
    for name in ("reachable", "ported", "roaming"):
        wanted = getattr(condition, name)
        if wanted is not None and getattr(last, name) is not wanted:
            return False
    return condition.network is None or bool(condition.network & last.networks)


def _age_between(facts: Facts, now: datetime, low: float | None, high: float | None) -> bool:
    started = facts.started_at or facts.occurred_at
    if started is None:
        return False
    age = (now - started).total_seconds()
    return (low is None or age >= low) and (high is None or age <= high)


def _count_between(facts: Facts, history: History, now: datetime, count: Count) -> bool:
    since = now - timedelta(seconds=count.seconds)
    seen = history.count_events(facts.contact, count.kinds, since)
    if count.at_least is not None and seen < count.at_least:
        return False
    return count.at_most is None or seen <= count.at_most


def _compiled(rules: RuleSet) -> dict[int, tuple[Check, ...]]:
    """Every rule's conditions compiled, by position (once per RuleSet)."""
    if not rules.compiled:
        for rule in rules.rules:
            rules.compiled[rule.position] = _compile(rule.when, rules.own_numbers, bucketed=True)
    return rules.compiled


def matches(when: When, facts: Facts, rules: RuleSet, history: History, now: datetime) -> bool:
    """Whether every condition that is set holds for these facts."""
    return all(check(facts, history, now) for check in _compile(when, rules.own_numbers))


# ---- actions and guards -------------------------------------------------------------------------


@dataclass(frozen=True)
class Outside:
    """A WhatsApp send whose window is closed, with no template to send instead."""

    reason: str


def _plan(
    do: Do,
    facts: Facts,
    rules: RuleSet,
    variables: dict[str, Any],
    history: History,
    now: datetime,
) -> Planned | Outside | str:
    """The action with its templates filled, or why it cannot be done for this event."""
    if do.type in SENDS:
        return _plan_send(do, facts, rules, variables, history, now)
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


def _plan_send(
    do: Do,
    facts: Facts,
    rules: RuleSet,
    variables: dict[str, Any],
    history: History,
    now: datetime,
) -> Planned | Outside | str:
    channel = facts.channel if do.type == "reply" else do.channel
    key = SEND_ACTIONS.get(channel or "")
    if key is None:
        return f"cannot send on {channel}"
    to = render(do.to, variables) if do.to else facts.contact_raw
    if not to:
        return "no contact to send to"
    try:
        # Keyed strictly: a recipient that is not a number (or an address) is never sent.
        contact = recipient_key(address_of(channel), str(to), rules.region)
    except ContactError as exc:
        return f"cannot send to {to!r} on {channel}: {exc}"
    sender = render(do.sender, variables) if do.sender else None
    if sender is None:
        # A reply comes from the number that was written to; another channel from the
        # sender the rules file names for it.
        sender = facts.our_number if do.type == "reply" else rules.senders.get(channel or "")
    text = do.text_for(facts.language) if do.texts else do.text
    values = {
        "to": wire(contact),
        "from": sender or rules.senders.get(channel or ""),
        "text": render(text, variables),
        "subject": render(do.subject, variables) if do.subject else None,
    }
    planned = Planned(
        do.type, channel, key, {k: v for k, v in values.items() if v is not None}, contact=contact
    )
    if channel in SESSION_CHANNELS:
        # Our number's key: the event's own when the send comes from it (a reply), else
        # keyed here.
        ours = _our_sender(facts) if sender == facts.our_number else None
        return _windowed(planned, do, rules, variables, history, now, ours)
    return planned


def _windowed(
    planned: Planned,
    do: Do,
    rules: RuleSet,
    variables: dict[str, Any],
    history: History,
    now: datetime,
    ours: str | None,
) -> Planned | Outside:
    """A WhatsApp send: text inside the 24-hour window; outside it, the rule's template, or
    Outside when it has none. Inside, the template (or nothing) rides along for the
    dispatcher, which checks the window again when the send falls due."""
    channel = str(planned.channel)
    sender = planned.values.get("from")
    if ours is None and sender:
        ours = wire_key(str(sender), rules.region)  # never raises: a lenient key
    end = history.window_end(planned.contact, channel, ours)
    template = None
    if do.template is not None:
        filled = [render(p, variables) for p in do.template.placeholders]
        template = {
            "template": do.template.name,
            "language": do.template.language,
            "placeholders": ["" if p is None else str(p) for p in filled],
        }
    if end is not None and now < end:
        planned.values[WINDOW_FLAG] = template or {}
        planned.window = f"session open until {end.isoformat()}"
        planned.window_end = end
        return planned
    last = f"it closed at {end.isoformat()}" if end else f"the contact never wrote to {sender}"
    if template is None:
        return Outside(f"{OUTSIDE_WINDOW} ({last}) and the rule has no template")
    planned.action = TEMPLATE_SEND_ACTIONS[channel]
    planned.values = {"to": planned.values["to"], "from": sender, **template}
    planned.window = f"{OUTSIDE_WINDOW} ({last}): template {template['template']!r} instead"
    return planned


def digest_of(planned: list[Planned]) -> str | None:
    """What makes two automated messages identical: channel and text of what is sent."""
    texts = [
        f"{p.channel}\x1f{p.values.get('text')}\x1f{p.values.get('template')}"
        f"\x1f{p.values.get('placeholders')}"
        for p in planned
        if p.sends
    ]
    if not texts:
        return None
    return hashlib.blake2b("\x1e".join(texts).encode(), digest_size=8).hexdigest()


_TEMPLATED = ("reply", "send", "action")


def _decide(rule: Rule, facts: Facts, rules: RuleSet, history: History, now: datetime) -> Decision:
    """The rule's actions, planned and guarded; a WhatsApp send outside the window with no
    template skips the rule, and its `else` actions (a fallback on SMS...) run instead."""
    planned, problems, outside = _plan_all(rule.do, rule, facts, rules, history, now)
    if outside is None:
        return _guarded(rule, facts, rules, history, now, planned, problems)
    if not rule.otherwise:
        return Decision(rule.name, SKIPPED, outside.reason, [], facts.contact)
    planned, problems, again = _plan_all(rule.otherwise, rule, facts, rules, history, now)
    if again is not None:
        problems.append(again.reason)
    decision = _guarded(rule, facts, rules, history, now, planned, problems)
    decision.else_outcome = decision.outcome
    decision.reason = f"{outside.reason}; else: {decision.outcome} ({decision.reason})"
    decision.outcome = SKIPPED
    return decision


def _plan_all(
    actions: tuple[Do, ...],
    rule: Rule,
    facts: Facts,
    rules: RuleSet,
    history: History,
    now: datetime,
) -> tuple[list[Planned], list[str], Outside | None]:
    templated = any(do.type in _TEMPLATED for do in actions)
    variables = facts.variables(rule) if templated else {}
    planned: list[Planned] = []
    problems: list[str] = []
    outside = None
    for do in actions:
        made = _plan(do, facts, rules, variables, history, now)
        if isinstance(made, Outside):
            outside = outside or made
        elif isinstance(made, str):
            problems.append(made)
        else:
            planned.append(made)
    return planned, problems, outside


def _guarded(
    rule: Rule,
    facts: Facts,
    rules: RuleSet,
    history: History,
    now: datetime,
    planned: list[Planned],
    problems: list[str],
) -> Decision:
    """The guards, in their fixed order, over what the rule would do."""
    contact = facts.contact
    digest = digest_of(planned)

    def decision(outcome: str, reason: str, **extra: Any) -> Decision:
        if problems:
            reason = f"{reason}; not done: {'; '.join(problems)}"
        return Decision(rule.name, outcome, reason, planned, contact, digest, **extra)

    if not planned:
        return decision(FAILED if problems else SKIPPED, "nothing to do")
    sends = [p for p in planned if p.sends]
    if any(p.contact in rules.own_numbers for p in sends):
        return decision(SKIPPED, "never auto-reply to one of our own numbers")
    blocked = [p for p in sends if history.is_opted_out(p.channel, p.contact)]
    if blocked:
        # The sends are dropped; what does not message the contact (a tag, an alert) is still
        # done, and the decision says suppressed.
        planned = [p for p in planned if p not in blocked]
        channels = ", ".join(sorted({str(p.channel) for p in blocked}))
        kept = f"; still done: {', '.join(p.type for p in planned)}" if planned else ""
        return decision(SUPPRESSED, f"the contact opted out on {channels}{kept}")
    unreachable = [p for p in sends if p.contact in history.unreachable]
    if unreachable:
        why = "; ".join(sorted({history.unreachable[str(p.contact)] for p in unreachable}))
        if len(unreachable) == len(sends):
            return decision(SKIPPED, f"known unreachable (SKIP_UNREACHABLE): {why}")
        planned = [p for p in planned if p not in unreachable]
        problems.append(f"not sent to a number known unreachable: {why}")
    not_before = None
    if rule.quiet_hours is not None and rule.quiet_hours.contains(now):
        if rule.quiet_mode == "skip":
            return decision(SKIPPED, f"quiet hours {rule.quiet_hours}")
        not_before = rule.quiet_hours.end_after(now)
    if rule.cap is not None:
        used = history.by_rule(rule.name, contact, now - timedelta(seconds=rule.cap.seconds))
        if used >= rule.cap.count:
            return decision(SKIPPED, f"rule cap reached: {rule.cap} for this contact")
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
        closing = any(p.window_end is not None and p.window_end <= not_before for p in planned)
        note = "; the WhatsApp window closes before then: checked again when due" if closing else ""
        return decision(
            DEFERRED,
            f"quiet hours {rule.quiet_hours}: deferred to {not_before.isoformat()}{note}",
            not_before=not_before,
        )
    return decision(FIRED, "conditions met")


def evaluate(rules: RuleSet, facts: Facts, history: History, now: datetime) -> list[Decision]:
    """The decisions of every rule whose conditions hold, in running order. A matching rule
    with match = "first" ends the evaluation, whatever its guards decided (a capped keyword
    reply must not fall through to a catch-all). An event compliance has read as STOP, START
    or HELP is left to compliance rules only."""
    decisions: list[Decision] = []
    compiled = _compiled(rules)
    for rule in rules.bucket(facts.channel, facts.kind).candidates(facts.words, facts.state):
        if facts.intent is not None and rule.stage != "compliance":
            continue
        # The hot loop, inline: all() over a generator costs measurably more here.
        for check in compiled[rule.position]:
            if not check(facts, history, now):
                break
        else:
            decisions.append(_decided(rule, facts, rules, history, now))
            if rule.match == "first":
                break
    return decisions


def _decided(rule: Rule, facts: Facts, rules: RuleSet, history: History, now: datetime) -> Decision:
    """Decide for a rule whose conditions hold, and let the history know."""
    decision = _decide(rule, facts, rules, history, now)
    if decision.acts:
        history.record(rule.name, decision.contact, decision.digest, now)
    if decision.executes:
        for p in decision.planned:
            if p.type in ("opt_out", "opt_in") and p.contact:
                history.mark(p.channel, p.contact, p.type == "opt_out")
    return decision
