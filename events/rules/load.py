"""Reading a rules file (TOML) into a RuleSet, with errors that name the rule, the field and the
fix. Every problem in the file is reported at once, not only the first.

schema.py validates the file (pydantic models: unknown keys and values are errors, with a "did
you mean"); this module words pydantic's errors, adds what needs the whole file (rule names are
unique) or the settings (INFOBIP_EVENTS_OWN_NUMBERS), and builds the frozen model of model.py.

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
import hashlib
import tomllib
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from events.channels.registry import SEND_ACTIONS
from events.contacts import ContactError, pattern_key
from events.rules.model import ACTION_TYPES, STAGES, RuleSet
from events.rules.schema import Options, RulesFile, did_you_mean


class RulesError(ValueError):
    """A rules file that cannot be used; `problems` holds one line per mistake."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the rules:\n{lines}")


def parse_rules(
    data: dict[str, Any],
    *,
    source: str = "(rules)",
    catalogue_keys: Collection[str] = (),
    send_channels: Collection[str] = tuple(SEND_ACTIONS),
    own_numbers: Collection[str] = (),
    version: str = "",
    region: str | None = None,
    forward_secret_set: bool = True,
) -> RuleSet:
    """A RuleSet from parsed TOML, or RulesError with every problem found.

    The file is checked against the catalogue keys, the channels we can send on, the region
    national numbers are read in, and the settings: `own_numbers` (INFOBIP_EVENTS_OWN_NUMBERS)
    must be numbers, and a rule that forwards needs `forward_secret_set`
    (INFOBIP_EVENTS_FORWARD_HMAC_SECRET)."""
    senders = data.get("senders")
    options = Options(
        catalogue_keys=tuple(catalogue_keys),
        send_channels=tuple(send_channels),
        region=region,
        senders={str(k).lower(): v for k, v in senders.items()}
        if isinstance(senders, dict)
        else {},
        forward_secret_set=forward_secret_set,
    )
    labels = _labels(data.get("rules"))
    problems = _duplicate_names(data.get("rules"), labels)
    own: set[str] = set()
    for number in own_numbers:
        try:
            own.add(pattern_key(number, region))
        except ContactError as exc:
            problems.append(f"INFOBIP_EVENTS_OWN_NUMBERS: {exc}")
    parsed: RulesFile | None = None
    try:
        parsed = RulesFile.model_validate(data, context={"options": options})
    except ValidationError as exc:
        problems[:0] = [_describe(error, labels) for error in exc.errors(include_url=False)]
    if parsed is None or problems:
        raise RulesError(source, problems)
    rules = [rule.model(index, options) for index, rule in enumerate(parsed.rules) if rule.enabled]
    rules.sort(key=lambda r: (STAGES.index(r.stage), r.position))
    # From here on, position is the running order (the keyword index merges by it).
    rules = [dataclasses.replace(r, position=i) for i, r in enumerate(rules)]
    return RuleSet(
        rules=tuple(rules),
        own_numbers=frozenset(own | set(parsed.own_numbers)),
        identical_cap=parsed.limits.identical,
        global_cap=parsed.limits.global_,
        senders=dict(parsed.senders),
        region=region,
        version=version or "inline",
        source=source,
        compliance_texts={k: v.model() for k, v in parsed.compliance.texts.items()},
    )


def _labels(rules: Any) -> list[str]:
    """How each rule is named in a problem: `rule 'prices' (rules[1])`, or by place alone."""
    if not isinstance(rules, list):
        return []
    names = [table.get("name") if isinstance(table, dict) else None for table in rules]
    return [f"rule {n!r} (rules[{i}])" if n else f"rules[{i}]" for i, n in enumerate(names)]


def _duplicate_names(rules: Any, labels: list[str]) -> list[str]:
    """Decisions are kept by rule name, so two rules may not share one."""
    seen: set[str] = set()
    problems = []
    for index, table in enumerate(rules if isinstance(rules, list) else []):
        name = table.get("name") if isinstance(table, dict) else None
        if isinstance(name, str) and name in seen:
            problems.append(
                f"{labels[index]}: the name {name!r} is used twice: rule names must be unique"
            )
        elif isinstance(name, str):
            seen.add(name)
    return problems


# ---- wording pydantic's errors ------------------------------------------------------------------

# What to write when a field is missing, by field name ({tag}: the action's type).
_MISSING = {
    "name": 'every rule needs a name: name = "..." (decisions are kept by it)',
    "do": 'a rule needs at least one action: do = [{ type = "reply", ... }]',
    "text": 'a {tag} needs the text to send: text = "..."',
    "channel": 'a {tag} needs the channel to send on: channel = "sms"',
    "key": 'an action needs its catalogue key: key = "..." (see `infobip-events actions ls`)',
    "url": 'a forward needs the URL to post to: url = "https://..."',
    "tags": 'a tag needs the tags to add: tags = ["..."]',
    "start": 'missing: write start = "HH:MM"',
    "end": 'missing: write end = "HH:MM"',
}
# What a table looks like, by field name, for "expected a table".
_TABLES = {
    "when": '{ channel = "sms", kind = "inbound" }',
    "limits": '[limits] identical = "20/5m"',
    "senders": '[senders] sms = "InfoSMS"',
    "rules": "[[rules]] tables",
    "count": '{ kind = "inbound", within = "1h", at_least = 3 }',
    "quiet_hours": '{ start = "21:00", end = "08:00", tz = "Europe/Paris" }',
    "within_hours": '{ start = "09:00", end = "17:00", tz = "Europe/Paris", days = "mon-fri" }',
    "outside_hours": '{ start = "09:00", end = "17:00", tz = "Europe/Paris", days = "mon-fri" }',
}
_EXPECTED = {
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "greater_than_equal": "expected a whole number, 0 or more",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "dict_type": "expected a table",
    "list_type": "expected a list",
}


def _describe(error: ErrorDetails, labels: Sequence[str]) -> str:
    """One pydantic error as `rule 'prices' (rules[1]): when.channel: what and how to fix`."""
    loc = list(error["loc"])
    kind = error["type"]
    if kind == "rules":  # ours: the message says it all
        message = error["msg"]
        subfield = (error.get("ctx") or {}).get("subfield")
        loc += [subfield] if subfield else []
    elif kind == "extra_forbidden":
        key = str(loc.pop())
        allowed = _fields_at(loc)
        message = f"unknown field {key!r}: {did_you_mean(key, allowed)}use {', '.join(allowed)}"
    elif kind == "missing":
        names = [part for part in loc if isinstance(part, str)]
        tag = names[-2] if len(names) > 1 else ""
        field = names[-1]
        message = _MISSING.get(field, f"{field} is missing: write {field} = ...")
        message = message.replace("{tag}", tag)
    else:
        message = f"{_EXPECTED.get(kind, error['msg'])}, got {error['input']!r}"
        names = [part for part in loc if isinstance(part, str)]
        if kind in ("model_type", "dict_type") and names and names[-1] in _TABLES:
            message += f": write e.g. {_TABLES[names[-1]]}"
    return f"{_where(loc, labels)}: {message}"


def _where(loc: list[int | str], labels: Sequence[str]) -> str:
    """`rule 'prices' (rules[1]): do[0].text`, `limits.global` or `file`."""
    head = ""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        index = loc[1]
        head = labels[index] if index < len(labels) else f"rules[{index}]"
        loc = loc[2:]
    path = ""
    for at, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "[key]" or (part in ACTION_TYPES and at >= 2 and loc[at - 2] == "do"):
            continue  # a dictionary's key, or the action's type that pydantic puts in its place
        else:
            path += f".{part}" if path else part
    if head and path:
        return f"{head}: {path}"
    return head or path or "file"


def _fields_at(loc: list[int | str]) -> list[str]:
    """The keys the table at `loc` may have, found by walking the models along it."""
    models: list[type[BaseModel]] = [RulesFile]
    for part in loc:
        if isinstance(part, int) or part == "[key]":
            continue
        tagged = [m for m in models if "type" in m.model_fields and part in _literals(m)]
        if tagged:  # the action's type, in a discriminated union
            models = tagged
            continue
        models = [
            found
            for model in models
            for name, info in model.model_fields.items()
            if part in (name, info.alias)
            for found in _models_in(info.annotation)
        ]
    return [info.alias or name for m in models[:1] for name, info in m.model_fields.items()]


def _literals(model: type[BaseModel]) -> tuple[Any, ...]:
    return get_args(model.model_fields["type"].annotation)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [found for arg in get_args(annotation) for found in _models_in(arg)]


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
