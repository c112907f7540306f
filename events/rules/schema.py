"""The rules file as pydantic models: its shape, its vocabularies and every check that needs only
the file and what it is read with (the catalogue, the channels we can send on, the region, the
settings). Validation only, and pure: load.py words the errors and turns a valid file into the
frozen model the engine evaluates (model.py).

Every table forbids unknown keys. Values from a vocabulary are checked against it with a "did you
mean" hint (`_choice`); a check that needs more than the value raises a `rules` error whose
message is the whole explanation (`problem`), and load.py puts the rule and the field in front.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, time, tzinfo
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from events.channels.registry import SEND_ACTIONS, SPECS, address_of
from events.contacts import ContactError, pattern_key, recipient_key
from events.rules.model import (
    ACTION_TYPES,
    MATCH_MODES,
    PLACEHOLDER,
    QUIET_MODES,
    SESSION_CHANNELS,
    STAGES,
    TEMPLATE_VARIABLES,
    Cap,
    ComplianceTexts,
    Count,
    Do,
    Hours,
    LookupCondition,
    MatchMode,
    QuietMode,
    Rule,
    Stage,
    WhatsAppTemplate,
    When,
)
from events.rules.text import words
from events.times import parse_age_seconds
from events.vocabulary import Direction, Intent, Kind, State

# The channels a rule can name: the registry's (not "auto": a URL, not a channel).
CHANNELS: tuple[str, ...] = tuple(SPECS)
FORWARD_SECRET = "INFOBIP_EVENTS_FORWARD_HMAC_SECRET"

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CAP = re.compile(r"^\s*(\d+)\s*/\s*(\S+)\s*$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Options:
    """What a file is checked against besides itself; passed as the validation context."""

    catalogue_keys: tuple[str, ...] = ()
    send_channels: tuple[str, ...] = tuple(SEND_ACTIONS)
    region: str | None = None  # how national writings of numbers are read
    # The file's own [senders], read ahead for the sends' check (the table itself is
    # validated with the file).
    senders: Mapping[str, str] = field(default_factory=dict)
    # Forwards are always signed: without the secret, a forwarding rule is a problem.
    forward_secret_set: bool = True


def options_of(info: ValidationInfo) -> Options:
    found = info.context.get("options") if isinstance(info.context, dict) else None
    return found if isinstance(found, Options) else Options()


def problem(message: str, subfield: str | None = None) -> PydanticCustomError:
    """A validation error whose message says it all; `subfield` is appended to its place."""
    return PydanticCustomError("rules", message, {"subfield": subfield} if subfield else None)


def did_you_mean(value: str, allowed: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, list(allowed), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def _choice(value: Any, allowed: Sequence[str], what: str, *, lower: bool = True) -> str:
    if not isinstance(value, str):
        raise problem(f"expected a string, got {value!r}")
    text = value.lower() if lower else value
    if text not in allowed:
        raise problem(f"{value!r} {what}: {did_you_mean(text, allowed)}use {', '.join(allowed)}")
    return text


def _strings(value: Any) -> list[str]:
    """A string or a non-empty list of strings, as a list."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise problem(f'expected a string or a list of strings, got {value!r}: write ["..."]')
    return items


def one(allowed: Sequence[str], what: str, *, lower: bool = True) -> BeforeValidator:
    """One value of a vocabulary (any case, unless `lower` is false)."""
    return BeforeValidator(lambda value: _choice(value, allowed, what, lower=lower))


def any_of(allowed: Sequence[str], what: str) -> BeforeValidator:
    """One value or a list of values of a vocabulary (any case)."""
    return BeforeValidator(lambda value: [_choice(v, allowed, what) for v in _strings(value)])


def _values(enum: Any) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


Channel = Annotated[str, one(CHANNELS, "is not a channel")]
Channels = Annotated[frozenset[str], any_of(CHANNELS, "is not a channel")]
Kinds = Annotated[frozenset[Kind], any_of(_values(Kind), "is not a kind of event")]
States = Annotated[frozenset[State], any_of(_values(State), "is not a message state")]
Intents = Annotated[frozenset[Intent], any_of(_values(Intent), "is not an intent")]
Strings = Annotated[tuple[str, ...], BeforeValidator(_strings)]
LowerStrings = Annotated[
    frozenset[str], BeforeValidator(lambda value: [v.lower() for v in _strings(value)])
]
StringSet = Annotated[frozenset[str], BeforeValidator(_strings)]
Count0 = Annotated[StrictInt, Field(ge=0)]


def _direction(value: Any) -> Direction | None:
    """One direction; both (a list of the two) is the same as none."""
    found = {_choice(v, _values(Direction), "is not a direction") for v in _strings(value)}
    return Direction(found.pop()) if len(found) == 1 else None


def _seconds(value: Any) -> float:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return float(value)
    try:
        return parse_age_seconds(str(value))
    except ValueError:
        raise problem(f"{value!r} is not a duration: write 90s, 15m, 1h or 7d") from None


def _cap(value: Any) -> Cap:
    match = _CAP.match(value) if isinstance(value, str) else None
    try:
        span = _seconds(match.group(2)) if match else 0.0
    except PydanticCustomError:
        span = 0.0
    if match is None or span <= 0 or int(match.group(1)) < 1:
        raise problem(f'{value!r} is not a cap: write "COUNT/WINDOW", e.g. "20/5m"')
    return Cap(int(match.group(1)), span)


def _regex(value: Any) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise problem(f"expected a regular expression as a string, got {value!r}")
    try:
        return re.compile(value)
    except re.error as exc:
        raise problem(f"not a valid regular expression ({exc}): check the pattern") from None


def _time(value: Any) -> time:
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise problem(f'{value!r} is not a time of day: write "HH:MM"')
    return time(int(match.group(1)), int(match.group(2)))


def _zone(value: Any) -> tzinfo:
    try:
        return ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise problem(f"{value!r} is not a time zone: write e.g. Europe/Paris") from None


def _days(value: Any) -> frozenset[int]:
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, list) or not parts:
        raise problem(f'{value!r}: write "mon-fri", "sat,sun" or ["mon", "tue"]')
    out: set[int] = set()
    for part in parts:
        text = str(part).strip().lower()[:7]
        if text in ("daily", "all", "every"):
            out.update(range(7))
            continue
        ends = [t.strip()[:3] for t in text.split("-")]
        if len(ends) > 2 or any(e not in _DAYS for e in ends):
            raise problem(f"{part!r} is not a day or range: use mon..sun, e.g. mon-fri")
        first, last = _DAYS.index(ends[0]), _DAYS.index(ends[-1])
        span = range(first, last + 1) if first <= last else [*range(first, 7), *range(last + 1)]
        out.update(span)
    return frozenset(out)


def _keywords(single: bool) -> Callable[[Any], frozenset[str]]:
    """Words (or phrases), folded as the engine folds the text."""

    def check(value: Any) -> frozenset[str]:
        out = set()
        for item in _strings(value):
            folded = words(item)
            if not folded:
                raise problem(f'{item!r} has no word in it: write a word, e.g. "price"')
            if single and len(folded) != 1:
                raise problem(f"{item!r} must be one word: use `contains` for phrases")
            out.add(" ".join(folded))
        return frozenset(out)

    return check


def _contacts(value: Any, info: ValidationInfo) -> tuple[str, ...]:
    """Numbers (any writing, * wildcards) as contact keys (events/contacts.py)."""
    region = options_of(info).region
    try:
        return tuple(pattern_key(item, region) for item in _strings(value))
    except ContactError as exc:
        raise problem(str(exc)) from None


def _variables(value: Any, where: str = "") -> Any:
    """Every {placeholder} in a string, a list or a table must be a known variable."""
    if isinstance(value, str):
        for name in PLACEHOLDER.findall(value):
            if name not in TEMPLATE_VARIABLES:
                close = difflib.get_close_matches(name, TEMPLATE_VARIABLES, n=1)
                hint = f"did you mean {{{close[0]}}}?" if close else "see examples/rules.toml"
                raise problem(f"unknown variable {{{name}}}{where}: {hint}")
    elif isinstance(value, dict):
        for key, item in value.items():
            _variables(item, f"{where or ' in'} {key}")
    elif isinstance(value, list | tuple):
        for item in value:
            _variables(item, where)
    return value


Words = Annotated[frozenset[str], PlainValidator(_keywords(single=True))]
Phrases = Annotated[frozenset[str], PlainValidator(_keywords(single=False))]
Regex = Annotated[re.Pattern[str], PlainValidator(_regex)]
Contacts = Annotated[tuple[str, ...], PlainValidator(_contacts)]
Seconds = Annotated[float, PlainValidator(_seconds)]
CapValue = Annotated[Cap, PlainValidator(_cap)]
TimeOfDay = Annotated[time, PlainValidator(_time)]
Zone = Annotated[tzinfo, PlainValidator(_zone)]
Days = Annotated[frozenset[int], PlainValidator(_days)]
Template = Annotated[StrictStr, AfterValidator(_variables)]


def _version(value: Any) -> str | int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise problem(f'expected a string or a whole number, got {value!r}: e.g. version = "3"')
    return value


class Table(BaseModel):
    """A table of the file: immutable, and an unknown key is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


# ---- hours, counts, limits ----------------------------------------------------------------------


class HoursTable(Table):
    start: TimeOfDay
    end: TimeOfDay
    tz: Zone = UTC
    days: Days = frozenset(range(7))

    def model(self) -> Hours:
        return Hours(self.start, self.end, self.tz, self.days, str(getattr(self.tz, "key", "UTC")))


class QuietHoursTable(HoursTable):
    mode: Annotated[QuietMode, one(QUIET_MODES, "is not a quiet-hours mode", lower=False)] = "defer"


class CountTable(Table):
    kind: Kinds | None = None
    within: Seconds = 3600.0
    at_least: Count0 | None = None
    at_most: Count0 | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> CountTable:
        if self.at_least is None and self.at_most is None:
            raise problem("say at_least = N, at_most = N or both")
        return self

    def model(self) -> Count:
        kinds = frozenset(k.value for k in self.kind) if self.kind else None
        return Count(kinds, self.within, self.at_least, self.at_most)


class LookupTable(Table):
    """lookup = { reachable = false, ported = true, roaming = false, network = ["Swisscom"] }"""

    reachable: StrictBool | None = None
    ported: StrictBool | None = None
    roaming: StrictBool | None = None
    network: Strings | None = None

    @model_validator(mode="after")
    def _something(self) -> LookupTable:
        if all(v is None for v in (self.reachable, self.ported, self.roaming, self.network)):
            raise problem("say what the last lookup must show: reachable, ported, roaming, network")
        return self

    def model(self) -> LookupCondition:
        networks = frozenset(n.strip().casefold() for n in self.network) if self.network else None
        return LookupCondition(self.reachable, self.ported, self.roaming, networks)


class LimitsTable(Table):
    identical: CapValue = Cap(20, 300.0)  # identical automated messages per contact
    global_: CapValue | None = Field(None, alias="global")  # every automated message


# ---- conditions ---------------------------------------------------------------------------------


class WhenTable(Table):
    """The conditions of a rule; the fields are When's (model.py), as written in the file."""

    channel: Channels | None = None
    kind: Kinds | None = None
    direction: Annotated[Direction | None, PlainValidator(_direction)] = None
    state: States | None = None
    status_group: LowerStrings | None = None
    status_name: LowerStrings | None = None
    error_group: LowerStrings | None = None
    error_name: StringSet | None = None
    permanent: StrictBool | None = None
    intent: Intents | None = None
    first_word: Words | None = None
    only_word: Words | None = None
    contains: Phrases | None = None
    regex: Regex | None = None
    sender: Contacts | None = None
    recipient: Contacts | None = None
    sender_is_own: StrictBool | None = None
    recipient_is_own: StrictBool | None = None
    callback_data: StringSet | None = None
    callback_data_prefix: Strings | None = None
    callback_data_regex: Regex | None = None
    application_id: StringSet | None = None
    entity_id: StringSet | None = None
    within_hours: HoursTable | None = None
    outside_hours: HoursTable | None = None
    min_age: Seconds | None = None
    max_age: Seconds | None = None
    count: CountTable | None = None
    session_open: StrictBool | None = None
    lookup: LookupTable | None = None

    @property
    def keyworded(self) -> bool:
        return any((self.first_word, self.only_word, self.contains, self.regex))

    def model(self) -> When:
        values: dict[str, Any] = {name: getattr(self, name) for name in type(self).model_fields}
        for name in ("kind", "state", "intent"):  # the enums' strings, as events carry them
            values[name] = frozenset(v.value for v in values[name]) if values[name] else None
        values["direction"] = self.direction.value if self.direction else None
        values["contains"] = tuple(sorted(self.contains)) if self.contains else None
        values["within_hours"] = self.within_hours.model() if self.within_hours else None
        values["outside_hours"] = self.outside_hours.model() if self.outside_hours else None
        values["count"] = self.count.model() if self.count else None
        values["lookup"] = self.lookup.model() if self.lookup else None
        return When(**values)


# ---- actions ------------------------------------------------------------------------------------


def _text(value: str) -> str:
    if not value.strip():
        raise problem('the text to send is empty: write text = "..."')
    return value


def _send_channel(value: Any, info: ValidationInfo) -> str:
    return _choice(value, sorted(options_of(info).send_channels), "cannot be sent on")


def _catalogue_key(value: Any, info: ValidationInfo) -> str:
    keys = options_of(info).catalogue_keys
    if not isinstance(value, str) or value not in keys:
        hint = did_you_mean(str(value), keys) or "see `infobip-events actions ls`"
        raise problem(f"{value!r} is not in the action catalogue: {hint}".strip())
    return value


def _url(value: str) -> str:
    if not re.match(r"^https?://", value):
        raise problem(f"{value!r} is not an http(s) URL")
    return value


SendText = Annotated[Template, AfterValidator(_text)]
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


def _localized(value: Any) -> tuple[tuple[str, str], ...]:
    """A text, or a table of texts by language (`{ en = "...", es = "..." }`): as (code, text)
    pairs, the first the default; a plain text has the code ""."""
    if isinstance(value, str):
        return (("", _text(_variables(value))),)
    if not isinstance(value, dict) or not value:
        raise problem(
            f'expected a text or a table of texts by language, got {value!r}: write text = "..." '
            'or text = { en = "...", es = "..." }'
        )
    out = []
    for code, text in value.items():
        if not _LANGUAGE.match(code):
            raise problem(f"{code!r} is not a language code: use ISO 639-1, e.g. en, es, pt")
        if not isinstance(text, str):
            raise problem(f"expected a string, got {text!r}", code)
        out.append((code, _text(_variables(text, f" in {code}"))))
    return tuple(out)


LocalizedText = Annotated[tuple[tuple[str, str], ...], PlainValidator(_localized)]


def _text_fields(texts: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    """Do's text (the default) and texts (by language, when the rule wrote a table)."""
    return {"text": texts[0][1], "texts": tuple(t for t in texts if t[0])}


class TemplateTable(Table):
    """A pre-approved WhatsApp template, sent when the 24-hour window is closed."""

    name: Annotated[StrictStr, Field(min_length=1)]
    language: Annotated[StrictStr, Field(min_length=2)] = "en"
    placeholders: Annotated[list[Template], Field(default_factory=list)]

    def model(self) -> WhatsAppTemplate:
        return WhatsAppTemplate(self.name, self.language, tuple(self.placeholders))


class ReplyAction(Table):
    """Answer on the event's channel, from the number written to."""

    type: Literal["reply"]
    text: LocalizedText
    subject: Template | None = None
    template: TemplateTable | None = None  # used only when the event is on WhatsApp

    def model(self, options: Options) -> Do:
        return Do(
            type=self.type,
            subject=self.subject,
            template=self.template.model() if self.template else None,
            **_text_fields(self.text),
        )


class SendAction(Table):
    """Send on a channel named here (a fallback, an alert to a fixed address)."""

    type: Literal["send"]
    channel: Annotated[str, PlainValidator(_send_channel)]
    text: LocalizedText
    to: Template | None = None
    sender: Template | None = Field(None, alias="from")
    subject: Template | None = None
    template: TemplateTable | None = None

    @model_validator(mode="after")
    def _complete(self, info: ValidationInfo) -> SendAction:
        options = options_of(info)
        if self.channel in ("whatsapp", "email") and not (
            self.sender or options.senders.get(self.channel)
        ):
            raise problem(
                f'sending on {self.channel} needs a sender: write from = "..." or '
                f"[senders] {self.channel}",
                "from",
            )
        if self.channel == "email" and not self.subject:
            raise problem('an email needs a subject: subject = "..."', "subject")
        if self.template is not None and self.channel not in SESSION_CHANNELS:
            raise problem(
                f"a template is for WhatsApp, and this sends on {self.channel}: remove it",
                "template",
            )
        self.to_key(options.region)  # a fixed number that is not one stops the start
        return self

    def to_key(self, region: str | None) -> str | None:
        """A fixed `to` (no {variables}) as a contact key; None for a template or no `to`."""
        if self.to is None or PLACEHOLDER.search(self.to):
            return None
        try:
            return recipient_key(address_of(self.channel), self.to, region)
        except ContactError as exc:
            raise problem(str(exc), "to") from None

    def model(self, options: Options) -> Do:
        return Do(
            type=self.type,
            channel=self.channel,
            to=self.to,
            to_key=self.to_key(options.region),
            sender=self.sender,
            subject=self.subject,
            template=self.template.model() if self.template else None,
            **_text_fields(self.text),
        )


class CatalogueAction(Table):
    """Run any action of the Membrane catalogue, its input a template."""

    type: Literal["action"]
    key: Annotated[str, PlainValidator(_catalogue_key)]
    input: Annotated[dict[str, Any], AfterValidator(_variables)] | None = None

    def model(self, options: Options) -> Do:
        return Do(type=self.type, key=self.key, input=self.input)


class OptAction(Table):
    """Opt the contact out (or in), on a channel or the event's."""

    type: Literal["opt_out", "opt_in"]
    channel: Channel | None = None

    def model(self, options: Options) -> Do:
        return Do(type=self.type, channel=self.channel)


class ForwardAction(Table):
    """Post the event as JSON to a URL, signed."""

    type: Literal["forward"]
    url: Annotated[Template, AfterValidator(_url)]

    def model(self, options: Options) -> Do:
        return Do(type=self.type, url=self.url)


class TagAction(Table):
    type: Literal["tag"]
    tags: Annotated[Strings, AfterValidator(_variables)]

    def model(self, options: Options) -> Do:
        return Do(type=self.type, tags=self.tags)


def _typed(value: Any) -> Any:
    """An action is a table with a known type (said here, with a hint, before the union)."""
    if not isinstance(value, dict) or "type" not in value:
        raise problem(
            f"expected a table with a type ({', '.join(ACTION_TYPES)}), e.g. "
            '{ type = "reply", text = "Thanks!" }'
        )
    try:
        _choice(value["type"], ACTION_TYPES, "is not an action type", lower=False)
    except PydanticCustomError as exc:
        raise problem(exc.message(), "type") from None
    return value


def _actions(value: Any) -> Any:
    listed = [value] if isinstance(value, dict) else value
    if not isinstance(listed, list) or not listed:
        raise problem('a rule needs at least one action: do = [{ type = "reply", ... }]')
    return listed


AnyAction = Annotated[
    ReplyAction | SendAction | CatalogueAction | OptAction | ForwardAction | TagAction,
    Field(discriminator="type"),
    BeforeValidator(_typed),
]


# ---- rules and the file -------------------------------------------------------------------------


def _name(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise problem('every rule needs a name: name = "..." (decisions are kept by it)')
    return value


class RuleTable(Table):
    name: Annotated[str, PlainValidator(_name)]
    description: StrictStr = ""
    when: WhenTable = WhenTable()
    do: Annotated[list[AnyAction], BeforeValidator(_actions)]
    stage: Annotated[Stage, one(STAGES, "is not a stage", lower=False)] | None = None
    match: Annotated[MatchMode, one(MATCH_MODES, "is not a match mode", lower=False)] = "first"
    dry_run: StrictBool = False
    enabled: StrictBool = True
    cap: CapValue | None = None
    quiet_hours: QuietHoursTable | None = None
    # Run instead when a WhatsApp send is outside the 24-hour window and has no template.
    otherwise: Annotated[list[AnyAction], BeforeValidator(_actions)] | None = Field(
        None, alias="else"
    )

    @model_validator(mode="after")
    def _signable(self, info: ValidationInfo) -> RuleTable:
        forwards = [f"do[{i}]" for i, d in enumerate(self.do) if isinstance(d, ForwardAction)]
        if forwards and self.enabled and not options_of(info).forward_secret_set:
            raise problem(
                f"a forward is always signed, and {FORWARD_SECRET} is not set: set it to a long "
                "random secret that the receiving end checks",
                ", ".join(forwards),
            )
        return self

    def model(self, position: int, options: Options) -> Rule:
        return Rule(
            name=self.name,
            when=self.when.model(),
            do=tuple(action.model(options) for action in self.do),
            stage=self.stage or ("keyword" if self.when.keyworded else "catch_all"),
            match=self.match,
            dry_run=self.dry_run,
            cap=self.cap,
            quiet_hours=self.quiet_hours.model() if self.quiet_hours else None,
            quiet_mode=self.quiet_hours.mode if self.quiet_hours else "defer",
            description=self.description,
            position=position,
            otherwise=tuple(action.model(options) for action in self.otherwise or ()),
        )


class ComplianceTextsTable(Table):
    """[compliance.texts.<language>]: the confirmations and HELP in one language."""

    opt_out: SendText | None = None
    opt_in: SendText | None = None
    help: SendText | None = None

    def model(self) -> ComplianceTexts:
        return ComplianceTexts(self.opt_out, self.opt_in, self.help)


def _languages(value: Any) -> Any:
    if isinstance(value, dict):
        for code in value:
            if not isinstance(code, str) or not _LANGUAGE.match(code):
                raise problem(f"{code!r} is not a language code: use ISO 639-1, e.g. en, es, pt")
    return value


class ComplianceTable(Table):
    texts: Annotated[dict[str, ComplianceTextsTable], BeforeValidator(_languages)] = {}


class RulesFile(Table):
    """The whole file (examples/rules.toml shows every part)."""

    # The author's own label, not used: the version of loaded rules is a hash of the file.
    version: Annotated[str | int | None, PlainValidator(_version)] = None
    own_numbers: Contacts = ()  # never auto-replied to
    limits: LimitsTable = LimitsTable()
    senders: dict[Channel, StrictStr] = {}  # "from" when a rule sends on a channel
    compliance: ComplianceTable = ComplianceTable()
    rules: list[RuleTable] = []
