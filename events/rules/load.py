"""Reading a rules file (TOML) into a RuleSet, with errors that name the rule, the field and the
fix. Every problem in the file is reported at once, not only the first.

The format is documented in examples/rules.toml; in short:

    own_numbers = ["447860099299"]
    [limits]
    identical = "20/5m"        # identical automated messages per contact
    global = "600/1m"          # every automated message, all contacts
    [senders]
    sms = "InfoSMS"            # "from" when a rule sends on this channel

    [[rules]]
    name = "prices"
    when = { channel = "sms", kind = "inbound", first_word = ["price", "prices"] }
    do = [{ type = "reply", text = "Our prices: https://example.com/prices" }]
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import re
import tomllib
from collections.abc import Collection
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from events.contacts import ContactError, contact_key, pattern_key, recipient_key
from events.rules.model import (
    ACTION_TYPES,
    MATCH_MODES,
    PLACEHOLDER,
    QUIET_MODES,
    SENDS,
    STAGES,
    TEMPLATE_VARIABLES,
    Cap,
    Count,
    Do,
    Hours,
    Rule,
    RuleSet,
    When,
)
from events.rules.text import words
from events.when import parse_age_seconds


class RulesError(ValueError):
    """A rules file that cannot be used; `problems` holds one line per mistake."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the rules:\n{lines}")


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TOP_KEYS = ("rules", "own_numbers", "limits", "senders", "version")
_RULE_KEYS = (
    "name",
    "description",
    "when",
    "do",
    "stage",
    "match",
    "dry_run",
    "enabled",
    "cap",
    "quiet_hours",
)
_WHEN_KEYS = (
    "channel",
    "kind",
    "direction",
    "state",
    "status_group",
    "status_name",
    "error_group",
    "error_name",
    "permanent",
    "intent",
    "first_word",
    "only_word",
    "contains",
    "regex",
    "sender",
    "recipient",
    "sender_is_own",
    "recipient_is_own",
    "callback_data",
    "callback_data_prefix",
    "callback_data_regex",
    "application_id",
    "entity_id",
    "within_hours",
    "outside_hours",
    "min_age",
    "max_age",
    "count",
)
_KEYWORD_KEYS = ("first_word", "only_word", "contains", "regex")
_DO_KEYS: dict[str, tuple[str, ...]] = {
    "reply": ("text", "subject"),
    "send": ("channel", "text", "to", "from", "subject"),
    "action": ("key", "input"),
    "opt_out": ("channel",),
    "opt_in": ("channel",),
    "forward": ("url",),
    "tag": ("tags",),
}
_CAP = re.compile(r"^\s*(\d+)\s*/\s*(\S+)\s*$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class _Checker:
    """Collects problems, each prefixed with where it is."""

    def __init__(self, region: str | None = None) -> None:
        self.problems: list[str] = []
        self.region = region  # how national writings of numbers are read

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def unknown_keys(self, where: str, table: dict[str, Any], allowed: Collection[str]) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(key, list(allowed), n=1)
                hint = (
                    f"did you mean {close[0]!r}?" if close else f"use one of {', '.join(allowed)}"
                )
                self.add(where, f"unknown field {key!r}: {hint}")

    def strings(self, where: str, value: Any, *, lower: bool = False) -> list[str] | None:
        """A string or a list of strings."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            self.add(where, f'expected a string or a list of strings, got {value!r}: write ["..."]')
            return None
        return [i.lower() if lower else i for i in items]

    def choice(self, where: str, value: Any, allowed: Collection[str]) -> frozenset[str] | None:
        items = self.strings(where, value, lower=True)
        if items is None:
            return None
        bad = [i for i in items if i not in allowed]
        if bad:
            self.add(where, f"{', '.join(map(repr, bad))} not known: use {', '.join(allowed)}")
            return None
        return frozenset(items)

    def boolean(self, where: str, value: Any) -> bool | None:
        if not isinstance(value, bool):
            self.add(where, f"expected true or false, got {value!r}")
            return None
        return value

    def seconds(self, where: str, value: Any) -> float | None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return float(value)
        try:
            return parse_age_seconds(str(value))
        except ValueError:
            self.add(where, f"{value!r} is not a duration: write 90s, 15m, 1h or 7d")
            return None

    def cap(self, where: str, value: Any) -> Cap | None:
        match = _CAP.match(value) if isinstance(value, str) else None
        span = self.seconds(where, match.group(2)) if match else None
        if match is None or span is None or span <= 0 or int(match.group(1)) < 1:
            if not self.problems or not self.problems[-1].startswith(where):
                self.add(where, f'{value!r} is not a cap: write "COUNT/WINDOW", e.g. "20/5m"')
            return None
        return Cap(int(match.group(1)), span)

    def regex(self, where: str, value: Any) -> re.Pattern[str] | None:
        if not isinstance(value, str):
            self.add(where, f"expected a regular expression as a string, got {value!r}")
            return None
        try:
            return re.compile(value)
        except re.error as exc:
            self.add(where, f"not a valid regular expression ({exc}): check the pattern")
            return None

    def hours(self, where: str, value: Any) -> Hours | None:
        if not isinstance(value, dict):
            self.add(
                where,
                'expected a table, e.g. { start = "21:00", end = "08:00", tz = "Europe/Paris" }',
            )
            return None
        self.unknown_keys(where, value, ("start", "end", "tz", "days", "mode"))
        times: list[time] = []
        for key in ("start", "end"):
            text = value.get(key)
            match = _TIME.match(text) if isinstance(text, str) else None
            if match is None:
                self.add(f"{where}.{key}", f'{text!r} is not a time of day: write "HH:MM"')
            else:
                times.append(time(int(match.group(1)), int(match.group(2))))
        zone_name = value.get("tz", "UTC")
        zone: ZoneInfo | None = None
        try:
            zone = ZoneInfo(str(zone_name))
        except (ZoneInfoNotFoundError, ValueError):
            self.add(f"{where}.tz", f"{zone_name!r} is not a time zone: write e.g. Europe/Paris")
        days = self.days(f"{where}.days", value.get("days", "mon-sun"))
        if len(times) != 2 or zone is None or days is None:
            return None
        return Hours(times[0], times[1], zone, days, str(zone_name))

    def days(self, where: str, value: Any) -> frozenset[int] | None:
        parts = value.split(",") if isinstance(value, str) else value
        if not isinstance(parts, list) or not parts:
            self.add(where, f'{value!r}: write "mon-fri", "sat,sun" or ["mon", "tue"]')
            return None
        out: set[int] = set()
        for part in parts:
            text = str(part).strip().lower()[:7]
            if text in ("daily", "all", "every"):
                out.update(range(7))
                continue
            ends = [t.strip()[:3] for t in text.split("-")]
            if len(ends) > 2 or any(e not in _DAYS for e in ends):
                self.add(where, f"{part!r} is not a day or range: use mon..sun, e.g. mon-fri")
                return None
            first, last = _DAYS.index(ends[0]), _DAYS.index(ends[-1])
            span = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
            out.update(span)
        return frozenset(out)

    def template(self, where: str, value: Any) -> None:
        """Every {placeholder} in a string, a list or a table must be a known variable."""
        if isinstance(value, str):
            for name in PLACEHOLDER.findall(value):
                if name not in TEMPLATE_VARIABLES:
                    close = difflib.get_close_matches(name, TEMPLATE_VARIABLES, n=1)
                    hint = f"did you mean {{{close[0]}}}?" if close else "see examples/rules.toml"
                    self.add(where, f"unknown variable {{{name}}}: {hint}")
        elif isinstance(value, dict):
            for key, item in value.items():
                self.template(f"{where}.{key}", item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.template(f"{where}[{index}]", item)


def _contacts(check: _Checker, where: str, values: list[str]) -> tuple[str, ...]:
    """Contacts and wildcard patterns as keys (events/contacts.py), each problem named."""
    out = []
    for value in values:
        try:
            out.append(pattern_key(value, check.region))
        except ContactError as exc:
            check.add(where, str(exc))
    return tuple(out)


def _to_key(check: _Checker, where: str, kind: str, channel: Any, to: Any) -> str | None:
    """A fixed recipient (no {variables}) keyed now, so that a number that is not one stops
    the start instead of failing at every event; None for a template or no `to`."""
    if not isinstance(to, str) or PLACEHOLDER.search(to):
        return None
    try:
        if kind == "send" and isinstance(channel, str):
            return recipient_key(channel, to, check.region)
        return contact_key(to, check.region)
    except ContactError as exc:
        check.add(f"{where}.to", str(exc))
        return None


def _keywords(check: _Checker, where: str, value: Any, *, single: bool) -> frozenset[str] | None:
    items = check.strings(where, value)
    if items is None:
        return None
    out = set()
    for item in items:
        folded = words(item)
        if not folded or (single and len(folded) != 1):
            check.add(where, f"{item!r} must be one word: use `contains` for phrases")
            return None
        out.add(" ".join(folded))
    return frozenset(out)


def _when(check: _Checker, where: str, table: Any) -> When:
    if table is None:
        return When()
    if not isinstance(table, dict):
        check.add(where, 'expected a table of conditions, e.g. { channel = "sms" }')
        return When()
    check.unknown_keys(where, table, _WHEN_KEYS)
    out: dict[str, Any] = {}

    def at(key: str) -> str:
        return f"{where}.{key}"

    for key in ("channel", "kind", "state", "status_group", "status_name", "error_group"):
        if key in table:
            items = check.strings(at(key), table[key], lower=True)
            out[key] = frozenset(items) if items else None
    for key in ("error_name", "application_id", "entity_id", "callback_data"):
        if key in table:
            items = check.strings(at(key), table[key])
            out[key] = frozenset(items) if items else None
    if "direction" in table:
        found = check.choice(at("direction"), table["direction"], ("inbound", "outbound"))
        if found and len(found) == 1:
            out["direction"] = next(iter(found))
    if "intent" in table:
        out["intent"] = check.choice(at("intent"), table["intent"], ("opt_out", "opt_in", "help"))
    for key in ("permanent", "sender_is_own", "recipient_is_own"):
        if key in table:
            out[key] = check.boolean(at(key), table[key])
    if "first_word" in table:
        out["first_word"] = _keywords(check, at("first_word"), table["first_word"], single=True)
    if "only_word" in table:
        out["only_word"] = _keywords(check, at("only_word"), table["only_word"], single=True)
    if "contains" in table:
        phrases = _keywords(check, at("contains"), table["contains"], single=False)
        out["contains"] = tuple(sorted(phrases)) if phrases else None
    if "regex" in table:
        out["regex"] = check.regex(at("regex"), table["regex"])
    for key in ("sender", "recipient"):
        if key in table:
            items = check.strings(at(key), table[key])
            out[key] = _contacts(check, at(key), items) if items else None
    if "callback_data_prefix" in table:
        items = check.strings(at("callback_data_prefix"), table["callback_data_prefix"])
        out["callback_data_prefix"] = tuple(items) if items else None
    if "callback_data_regex" in table:
        out["callback_data_regex"] = check.regex(
            at("callback_data_regex"), table["callback_data_regex"]
        )
    for key in ("within_hours", "outside_hours"):
        if key in table:
            out[key] = check.hours(at(key), table[key])
    for key in ("min_age", "max_age"):
        if key in table:
            out[key] = check.seconds(at(key), table[key])
    if "count" in table:
        out["count"] = _count(check, at("count"), table["count"])
    return When(**out)


def _count(check: _Checker, where: str, value: Any) -> Count | None:
    if not isinstance(value, dict):
        check.add(where, 'expected a table, e.g. { kind = "inbound", within = "1h", at_least = 3 }')
        return None
    check.unknown_keys(where, value, ("kind", "within", "at_least", "at_most"))
    kinds = check.strings(f"{where}.kind", value["kind"], lower=True) if "kind" in value else None
    seconds = check.seconds(f"{where}.within", value.get("within", "1h"))
    bounds: dict[str, int | None] = {}
    for key in ("at_least", "at_most"):
        bound = value.get(key)
        if bound is not None and (not isinstance(bound, int) or bound < 0):
            check.add(f"{where}.{key}", f"expected a whole number, got {bound!r}")
            bound = None
        bounds[key] = bound
    if bounds["at_least"] is None and bounds["at_most"] is None:
        check.add(where, "say at_least = N, at_most = N or both")
        return None
    if seconds is None:
        return None
    return Count(frozenset(kinds) if kinds else None, seconds, **bounds)


def _do(
    check: _Checker,
    where: str,
    table: Any,
    catalogue_keys: Collection[str],
    send_channels: Collection[str],
    senders: dict[str, str],
) -> Do | None:
    if not isinstance(table, dict) or "type" not in table:
        check.add(
            where,
            f"expected a table with a type ({', '.join(ACTION_TYPES)}), e.g. "
            '{ type = "reply", text = "Thanks!" }',
        )
        return None
    kind = table["type"]
    if kind not in _DO_KEYS:
        check.add(f"{where}.type", f"{kind!r} is not an action: use {', '.join(ACTION_TYPES)}")
        return None
    check.unknown_keys(where, table, ("type", *_DO_KEYS[kind]))
    check.template(where, {k: v for k, v in table.items() if k != "type"})
    text = table.get("text")
    if kind in SENDS and (not isinstance(text, str) or not text.strip()):
        check.add(f"{where}.text", f"a {kind} needs the text to send")
    channel = table.get("channel")
    if kind == "send" and channel not in send_channels:
        check.add(
            f"{where}.channel",
            f"{channel!r} cannot be sent on: use {', '.join(sorted(send_channels))}",
        )
    if (
        kind == "send"
        and channel in ("whatsapp", "email")
        and not (table.get("from") or senders.get(channel))
    ):
        check.add(
            f"{where}.from",
            f'sending on {channel} needs a sender: write from = "..." or [senders] {channel}',
        )
    if kind == "send" and channel == "email" and not table.get("subject"):
        check.add(f"{where}.subject", 'an email needs a subject: subject = "..."')
    for field_name in ("to", "from", "url", "subject"):
        if field_name in table and not isinstance(table[field_name], str):
            check.add(f"{where}.{field_name}", f"expected a string, got {table[field_name]!r}")
    key = table.get("key")
    if kind == "action":
        if key not in catalogue_keys:
            close = difflib.get_close_matches(str(key), list(catalogue_keys), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see `infobip-events actions ls`"
            check.add(f"{where}.key", f"{key!r} is not in the action catalogue: {hint}")
        if not isinstance(table.get("input", {}), dict):
            check.add(f"{where}.input", "expected a table of the action's input values")
    url = table.get("url")
    if kind == "forward" and not (isinstance(url, str) and re.match(r"^https?://", url)):
        check.add(f"{where}.url", f"{url!r} is not an http(s) URL")
    tags: tuple[str, ...] = ()
    if kind == "tag":
        items = check.strings(f"{where}.tags", table.get("tags"))
        tags = tuple(items or ())
    return Do(
        type=kind,
        text=text if isinstance(text, str) else None,
        channel=channel if isinstance(channel, str) else None,
        to=table.get("to"),
        to_key=_to_key(check, where, kind, channel, table.get("to")),
        sender=table.get("from"),
        subject=table.get("subject"),
        key=key if isinstance(key, str) else None,
        input=table.get("input") if isinstance(table.get("input"), dict) else None,
        url=url if isinstance(url, str) else None,
        tags=tags,
    )


def parse_rules(
    data: dict[str, Any],
    *,
    source: str = "(rules)",
    catalogue_keys: Collection[str] = (),
    send_channels: Collection[str] = ("sms", "email", "whatsapp", "voice"),
    own_numbers: Collection[str] = (),
    version: str = "",
    region: str | None = None,
) -> RuleSet:
    """A RuleSet from parsed TOML, or RulesError with every problem found."""
    check = _Checker(region)
    check.unknown_keys("file", data, _TOP_KEYS)
    own = set(_contacts(check, "INFOBIP_EVENTS_OWN_NUMBERS", list(own_numbers)))
    if "own_numbers" in data:
        items = check.strings("own_numbers", data["own_numbers"])
        own.update(_contacts(check, "own_numbers", items or []))
    limits = data.get("limits", {})
    identical = Cap(20, 300.0)
    global_cap = None
    if isinstance(limits, dict):
        check.unknown_keys("limits", limits, ("identical", "global"))
        if "identical" in limits:
            identical = check.cap("limits.identical", limits["identical"]) or identical
        if "global" in limits:
            global_cap = check.cap("limits.global", limits["global"])
    else:
        check.add("limits", 'expected a table, e.g. [limits] identical = "20/5m"')
    senders = data.get("senders", {})
    if not isinstance(senders, dict) or not all(isinstance(v, str) for v in senders.values()):
        check.add("senders", 'expected a table of channel = "sender", e.g. sms = "InfoSMS"')
        senders = {}
    raw_rules = data.get("rules", [])
    if not isinstance(raw_rules, list):
        check.add("rules", "expected [[rules]] tables")
        raw_rules = []
    rules: list[Rule] = []
    names: set[str] = set()
    for index, table in enumerate(raw_rules):
        name = table.get("name") if isinstance(table, dict) else None
        where = f"rule {name!r} (rules[{index}])" if name else f"rules[{index}]"
        if not isinstance(table, dict):
            check.add(where, "expected a table")
            continue
        rule = _rule(check, where, table, index, catalogue_keys, send_channels, senders)
        if not isinstance(name, str) or not name.strip():
            check.add(where, 'every rule needs a name: name = "..." (decisions are kept by it)')
        elif name in names:
            check.add(where, f"the name {name!r} is used twice: rule names must be unique")
        else:
            names.add(name)
        if rule is not None and table.get("enabled", True):
            rules.append(rule)
    if check.problems:
        raise RulesError(source, check.problems)
    rules.sort(key=lambda r: (STAGES.index(r.stage), r.position))
    # From here on, position is the running order (the keyword index merges by it).
    rules = [dataclasses.replace(r, position=i) for i, r in enumerate(rules)]
    return RuleSet(
        rules=tuple(rules),
        own_numbers=frozenset(own),
        identical_cap=identical,
        global_cap=global_cap,
        senders=dict(senders),
        region=region,
        version=version or "inline",
        source=source,
    )


def _rule(
    check: _Checker,
    where: str,
    table: dict[str, Any],
    index: int,
    catalogue_keys: Collection[str],
    send_channels: Collection[str],
    senders: dict[str, str],
) -> Rule | None:
    before = len(check.problems)
    check.unknown_keys(where, table, _RULE_KEYS)
    when = _when(check, f"{where}: when", table.get("when"))
    raw_do = table.get("do")
    if isinstance(raw_do, dict):
        raw_do = [raw_do]
    if not isinstance(raw_do, list) or not raw_do:
        check.add(
            f"{where}: do", 'a rule needs at least one action: do = [{ type = "reply", ... }]'
        )
        raw_do = []
    actions = [
        _do(check, f"{where}: do[{i}]", item, catalogue_keys, send_channels, senders)
        for i, item in enumerate(raw_do)
    ]
    keyworded = any(k in (table.get("when") or {}) for k in _KEYWORD_KEYS)
    stage = table.get("stage", "keyword" if keyworded else "catch_all")
    if stage not in STAGES:
        check.add(f"{where}: stage", f"{stage!r}: use {', '.join(STAGES)}")
    match = table.get("match", "first")
    if match not in MATCH_MODES:
        check.add(f"{where}: match", f"{match!r}: use first (stop at this rule) or all")
    for key in ("dry_run", "enabled"):
        if key in table:
            check.boolean(f"{where}: {key}", table[key])
    cap = check.cap(f"{where}: cap", table["cap"]) if "cap" in table else None
    quiet = None
    quiet_mode = "defer"
    if "quiet_hours" in table:
        quiet = check.hours(f"{where}: quiet_hours", table["quiet_hours"])
        raw = table["quiet_hours"]
        quiet_mode = raw.get("mode", "defer") if isinstance(raw, dict) else "defer"
        if quiet_mode not in QUIET_MODES:
            check.add(f"{where}: quiet_hours.mode", f"{quiet_mode!r}: use defer or skip")
    if len(check.problems) > before:
        return None
    return Rule(
        name=str(table.get("name", "")),
        when=when,
        do=tuple(a for a in actions if a is not None),
        stage=stage,
        match=match,
        dry_run=bool(table.get("dry_run", False)),
        cap=cap,
        quiet_hours=quiet,
        quiet_mode=quiet_mode,
        description=str(table.get("description", "")),
        position=index,
    )


def load_rules(path: str | Path, **options: Any) -> RuleSet:
    """Read and validate a rules file; RulesError says every problem, OSError if unreadable."""
    path = Path(path)
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulesError(str(path), [f"not valid TOML: {exc}"]) from None
    version = hashlib.blake2b(raw, digest_size=6).hexdigest()
    return parse_rules(data, source=str(path), version=version, **options)
