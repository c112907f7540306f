"""The rule model: what a rules file turns into. Plain frozen data; load.py builds it, engine.py
evaluates it. Nothing here does I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal, get_args

# The order rules run in: compliance first, then keywords, then catch-alls.
Stage = Literal["compliance", "keyword", "catch_all"]
STAGES: tuple[Stage, ...] = get_args(Stage)
# "first" stops at the first rule whose conditions hold; "all" goes on.
MatchMode = Literal["first", "all"]
MATCH_MODES: tuple[MatchMode, ...] = get_args(MatchMode)
# What quiet hours do to a rule's actions: wait for the end of them, or drop them.
QuietMode = Literal["defer", "skip"]
QUIET_MODES: tuple[QuietMode, ...] = get_args(QuietMode)
ActionType = Literal["reply", "send", "action", "opt_out", "opt_in", "forward", "tag"]
ACTION_TYPES: tuple[ActionType, ...] = get_args(ActionType)
# The actions that message the contact: opt-outs, own numbers and the identical cap apply.
SENDS = frozenset({"reply", "send"})
# Decision outcomes, as recorded and shown by the read API.
FIRED = "fired"
DRY_RUN = "dry_run"
SKIPPED = "skipped"
SUPPRESSED = "suppressed"
DEFERRED = "deferred"
FAILED = "failed"  # what it asked for cannot be done (a recipient that is not a number)

# WhatsApp delivers free text only within 24 hours of the person's last message to the sender
# (the customer-service window); after that only a pre-approved template goes through.
SESSION_CHANNELS = frozenset({"whatsapp"})
SESSION_WINDOW = timedelta(hours=24)
OUTSIDE_WINDOW = "outside the WhatsApp 24-hour window"

# What a template may use: {name} is filled from the event (catalogue.render's syntax).
TEMPLATE_VARIABLES = (
    "text",
    "keyword",
    "sender",
    "recipient",
    "contact",
    "our_number",
    "channel",
    "kind",
    "direction",
    "state",
    "status",
    "status_group",
    "error",
    "error_group",
    "message_id",
    "callback_data",
    "application_id",
    "entity_id",
    "original_text",
    "rule",
    "event_id",
    "occurred_at",
)
PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Cap:
    """At most `count` in `seconds` (written "20/5m")."""

    count: int
    seconds: float

    def __str__(self) -> str:
        return f"{self.count} in {_span(self.seconds)}"


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class Hours:
    """A daily period in a time zone on some days, e.g. 21:00-08:00 Europe/Paris, every day.
    A period that crosses midnight belongs to the day it starts on. Wall-clock times are
    resolved in the zone on each date, so a daylight-saving change moves the UTC instants."""

    start: time
    end: time
    zone: tzinfo
    days: frozenset[int]  # 0 = Monday
    zone_name: str = "UTC"

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    def _start_day(self, at: datetime) -> date | None:
        """The day the period containing `at` started on, or None when `at` is outside."""
        local = at.astimezone(self.zone)
        now = local.time().replace(tzinfo=None)
        today = local.date()
        if self.start == self.end:  # the whole day
            return today if today.weekday() in self.days else None
        if not self.overnight:
            inside = self.start <= now < self.end
            return today if inside and today.weekday() in self.days else None
        if now >= self.start:
            return today if today.weekday() in self.days else None
        if now < self.end:
            yesterday = today - timedelta(days=1)
            return yesterday if yesterday.weekday() in self.days else None
        return None

    def contains(self, at: datetime) -> bool:
        return self._start_day(at) is not None

    def end_after(self, at: datetime) -> datetime:
        """When the period containing `at` ends (UTC). Call only when contains(at)."""
        day = self._start_day(at)
        assert day is not None
        end_day = day + timedelta(days=1) if self.overnight else day
        # zoneinfo resolves the wall time on that date: 08:00 is 07:00 UTC in winter and
        # 06:00 UTC in summer in Paris; a time skipped by a spring-forward reads as after it.
        end = datetime.combine(end_day, self.end, tzinfo=self.zone)
        return end.astimezone(UTC)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M} {self.zone_name}"


@dataclass(frozen=True)
class Count:
    """How many events of these kinds this contact had in the window (this one included)."""

    kinds: frozenset[str] | None
    seconds: float
    at_least: int | None
    at_most: int | None


@dataclass(frozen=True)
class LookupCondition:
    """What the contact's last Number Lookup must say (lookup = { reachable = false }); every
    field set must hold, and a contact never looked up matches no lookup condition."""

    reachable: bool | None = None
    ported: bool | None = None
    roaming: bool | None = None
    # The network the number is on now (its ported network when ported), by name or MCC-MNC,
    # case-folded.
    network: frozenset[str] | None = None


@dataclass(frozen=True)
class When:
    """The conditions of a rule; all that are set must hold. None means "any"."""

    channel: frozenset[str] | None = None
    kind: frozenset[str] | None = None
    direction: str | None = None
    state: frozenset[str] | None = None
    status_group: frozenset[str] | None = None
    status_name: frozenset[str] | None = None
    error_group: frozenset[str] | None = None
    error_name: frozenset[str] | None = None
    permanent: bool | None = None
    intent: frozenset[str] | None = None
    # Keywords, folded (case, accents, width, look-alikes).
    first_word: frozenset[str] | None = None
    only_word: frozenset[str] | None = None
    contains: tuple[str, ...] | None = None
    regex: re.Pattern[str] | None = None
    sender: tuple[str, ...] | None = None  # normalized; may hold * wildcards
    recipient: tuple[str, ...] | None = None
    sender_is_own: bool | None = None
    recipient_is_own: bool | None = None
    callback_data: frozenset[str] | None = None
    callback_data_prefix: tuple[str, ...] | None = None
    callback_data_regex: re.Pattern[str] | None = None
    application_id: frozenset[str] | None = None
    entity_id: frozenset[str] | None = None
    within_hours: Hours | None = None
    outside_hours: Hours | None = None
    min_age: float | None = None
    max_age: float | None = None
    count: Count | None = None
    # Whether the contact's WhatsApp session (customer-service window) is open now.
    session_open: bool | None = None
    lookup: LookupCondition | None = None


@dataclass(frozen=True)
class WhatsAppTemplate:
    """A pre-approved WhatsApp template: what a send outside the window goes as. Placeholders
    may hold {variables}, like the text."""

    name: str
    language: str = "en"
    placeholders: tuple[str, ...] = ()


@dataclass(frozen=True)
class Do:
    """One action of a rule. Strings may hold {variables} (TEMPLATE_VARIABLES)."""

    type: ActionType
    text: str | None = None
    channel: str | None = None  # send: the other channel
    to: str | None = None
    to_key: str | None = None  # a fixed `to` as a contact key (events/contacts.py)
    sender: str | None = None  # "from"
    subject: str | None = None  # email
    key: str | None = None  # action: the catalogue key
    input: dict[str, object] | None = None
    url: str | None = None
    tags: tuple[str, ...] = ()
    # The text by language ((code, text), the first the default); `text` is the first.
    texts: tuple[tuple[str, str], ...] = ()
    template: WhatsAppTemplate | None = None  # WhatsApp, outside the window

    def text_for(self, language: str | None) -> str | None:
        """The text in this language, else the first one written."""
        if language and self.texts:
            for code, text in self.texts:
                if code == language:
                    return text
        return self.text


@dataclass(frozen=True)
class ComplianceTexts:
    """The confirmation and HELP texts in one language (None: the settings' text)."""

    opt_out: str | None = None
    opt_in: str | None = None
    help: str | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    when: When
    do: tuple[Do, ...]
    stage: Stage = "catch_all"
    match: MatchMode = "first"
    dry_run: bool = False
    cap: Cap | None = None
    quiet_hours: Hours | None = None
    quiet_mode: QuietMode = "defer"
    description: str = ""
    position: int = 0  # the running order within its RuleSet
    # What runs instead when a WhatsApp send falls outside the window and has no template.
    otherwise: tuple[Do, ...] = ()


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]  # in running order: by stage, then as written
    own_numbers: frozenset[str] = frozenset()
    identical_cap: Cap = Cap(20, 300.0)
    global_cap: Cap | None = None
    senders: dict[str, str] = field(default_factory=dict)
    # How national writings of numbers are read (INFOBIP_EVENTS_DEFAULT_REGION).
    region: str | None = None
    version: str = "none"
    source: str = "(none)"
    # [compliance.texts.<language>]: confirmations and HELP in the language of the message.
    compliance_texts: dict[str, ComplianceTexts] = field(default_factory=dict)
    # (channel, kind) -> the rules that can apply, filled on first use.
    _buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict, compare=False)
    # position -> the rule's compiled conditions (engine.py fills it).
    compiled: dict[int, Any] = field(default_factory=dict, compare=False)

    def bucket(self, channel: str, kind: str) -> Bucket:
        found = self._buckets.get((channel, kind))
        if found is None:
            found = Bucket.build(
                [
                    r
                    for r in self.rules
                    if (r.when.channel is None or channel in r.when.channel)
                    and (r.when.kind is None or kind in r.when.kind)
                ]
            )
            self._buckets[(channel, kind)] = found
        return found

    @property
    def uses_counts(self) -> bool:
        return any(r.when.count is not None for r in self.rules)

    @property
    def uses_sessions(self) -> bool:
        """Whether any rule asks about, or sends on, a channel with a session window."""
        return any(
            r.when.session_open is not None
            or any(
                d.type == "reply" or d.channel in SESSION_CHANNELS for d in (*r.do, *r.otherwise)
            )
            for r in self.rules
        )

    @property
    def uses_lookups(self) -> bool:
        """Whether a rule reads the contact's last Number Lookup (the caller loads it)."""
        return any(r.when.lookup is not None for r in self.rules)

    @property
    def longest_window(self) -> float:
        spans = [self.identical_cap.seconds]
        spans += [r.cap.seconds for r in self.rules if r.cap]
        spans += [self.global_cap.seconds] if self.global_cap else []
        return max(spans)


@dataclass(frozen=True)
class Bucket:
    """The rules for one (channel, kind), indexed so that a hundred rules cost a couple of
    dictionary look-ups, not a hundred checks: keyword rules by their first (or only) word,
    other rules that name states by state; the rest are checked for every event."""

    unindexed: tuple[Rule, ...]
    by_word: dict[str, tuple[Rule, ...]]
    by_state: dict[str, tuple[Rule, ...]]
    # `contains` rules by the first word of each phrase: checked only when it is in the text.
    by_any_word: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    _merged: dict[tuple[str | None, str | None, frozenset[str]], tuple[Rule, ...]] = field(
        default_factory=dict, compare=False
    )

    @classmethod
    def build(cls, rules: list[Rule]) -> Bucket:
        unindexed: list[Rule] = []
        by_word: dict[str, list[Rule]] = {}
        by_state: dict[str, list[Rule]] = {}
        by_any_word: dict[str, list[Rule]] = {}
        for rule in rules:
            words = rule.when.first_word or rule.when.only_word
            if words:
                for word in words:
                    by_word.setdefault(word, []).append(rule)
            elif rule.when.state:
                for state in rule.when.state:
                    by_state.setdefault(state, []).append(rule)
            elif rule.when.contains:
                for first in {phrase.split()[0] for phrase in rule.when.contains}:
                    by_any_word.setdefault(first, []).append(rule)
            else:
                unindexed.append(rule)
        return cls(
            tuple(unindexed),
            {w: tuple(rs) for w, rs in by_word.items()},
            {s: tuple(rs) for s, rs in by_state.items()},
            {w: tuple(rs) for w, rs in by_any_word.items()},
        )

    def candidates(self, words: list[str], state: str | None) -> tuple[Rule, ...]:
        """The rules that may match an event with these (folded) words and this state, in
        running order."""
        word = words[0] if words and words[0] in self.by_word else None
        state = state if state in self.by_state else None
        present = (
            frozenset(w for w in words if w in self.by_any_word)
            if self.by_any_word and words
            else frozenset()
        )
        if word is None and state is None and not present:
            return self.unindexed
        key = (word, state, present)
        found = self._merged.get(key)
        if found is None:
            merged = {r.position: r for r in self.unindexed}
            merged.update({r.position: r for r in self.by_word.get(word or "", ())})
            merged.update({r.position: r for r in self.by_state.get(state or "", ())})
            for w in present:
                merged.update({r.position: r for r in self.by_any_word[w]})
            found = tuple(merged[p] for p in sorted(merged))
            if len(self._merged) < 4096:  # bounded: word combinations are many
                self._merged[key] = found
        return found
