"""What every channel parser shares: records, lenient field readers, JSON and XML decoding.

Parsers are pure: bytes and a content type in, records out. No I/O, no clock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

# Event kinds: the contract's vocabulary (DESIGN.md).
KINDS = (
    "delivery",
    "seen",
    "inbound",
    "click",
    "open",
    "unsubscribe",
    "complaint",
    "late_bounce",
    "email_platform",
    "call",
    "call_link",
    "masking_callback",
    "masking_status",
    "number_lookup",
    "typing",
    "template_update",
    "identity_change",
    "marketing_preference",
    "payment",
    "unknown",
)

# Kinds that belong to a message's timeline (and so create the message if it is new).
MESSAGE_KINDS = frozenset(
    {"delivery", "seen", "inbound", "click", "open", "unsubscribe", "complaint", "late_bounce"}
)

# Decoded JSON and XML are plain dicts; checks use dict, not Mapping (an ABC check costs more
# than the rest of reading a field).
Item = Mapping[str, Any]


class ParseError(ValueError):
    """The body as a whole cannot be read. The raw row is kept as failed with this reason."""


@dataclass(frozen=True, slots=True)
class Status:
    group_id: int | None
    group_name: str | None
    id: int | None
    name: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class Error:
    group_id: int | None
    group_name: str | None
    id: int | None
    name: str | None
    description: str | None
    permanent: bool | None


@dataclass(frozen=True, slots=True)
class Price:
    amount: Decimal | None
    currency: str | None


@dataclass(slots=True)  # not frozen: a frozen dataclass is twice as slow to build
class ParsedEvent:
    """One normalized item of a callback."""

    kind: str
    channel: str
    # What makes this item unique within (channel, kind, message_id): see dedupe_key().
    discriminator: str
    message_id: str | None = None
    direction: str | None = None
    sub_type: str | None = None
    sender: str | None = None
    recipient: str | None = None
    bulk_id: str | None = None
    callback_data: str | None = None
    application_id: str | None = None
    entity_id: str | None = None
    occurred_at: datetime | None = None
    sent_at: datetime | None = None
    done_at: datetime | None = None
    seen_at: datetime | None = None
    status: Status | None = None
    error: Error | None = None
    price: Price | None = None
    data: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    channel_uncertain: bool = False

    def dedupe_key(self) -> str:
        """The unique key that makes a redelivered item a no-op (enforced by the database)."""
        raw = "\x1f".join(
            (self.channel, self.kind, self.message_id or "", self.discriminator)
        ).encode()
        return hashlib.blake2b(raw, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class ParseResult:
    events: list[ParsedEvent]
    # Items that could not be read; each is also in events as kind "unknown".
    item_errors: list[str] = field(default_factory=list)


Parser = Callable[[bytes, str | None], ParseResult]


# ---------------------------------------------------------------------------------------------
# Lenient readers. Infobip's published examples disagree on types (see FACTS.md a.5), so each
# reader accepts every spelling seen there and returns None rather than guessing.
# ---------------------------------------------------------------------------------------------


def as_str(value: Any) -> str | None:
    """Text, or None. A numeric messageId (old email tracking example) becomes its digits; the
    string "null" (a real capture's mccMnc) is no value at all."""
    if type(value) is str:
        return None if value == "" or value == "null" or value.lower() == "null" else value
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    text = str(value)
    if text == "" or text.lower() == "null":
        return None
    return text


def as_int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if number != number.to_integral_value():
        return None
    return int(number)


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    if isinstance(value, int):
        return bool(value)
    return None


def as_decimal(value: Any) -> Decimal | None:
    """Exact decimals: bodies are decoded with parse_float=Decimal, so 0.0001000000 stays so."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def as_datetime(value: Any) -> datetime | None:
    """Every timestamp format Infobip uses, as an aware datetime.

    Seen in Infobip examples: ``2019-11-09T16:00:00.000+0000``, ``...-0300``, ``...Z``,
    ``2018-01-01 12:00:00`` (no offset), ``2015-06-04T13:01:52.933`` (no offset) and epoch
    milliseconds as a number. A time without an offset is read as UTC: the one example that
    mixes both (legacy SMS DLR) has its offset-less sentAt seconds before a ``+0000`` doneAt.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)) or (
        isinstance(value, str) and value.strip().isdigit()
    ):
        number = Decimal(str(value).strip())
        # Infobip sends epoch milliseconds; a seconds value would be before 1973 read as ms.
        seconds = number / 1000 if number > 100_000_000_000 else number
        try:
            return datetime.fromtimestamp(float(seconds), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or text.lower() == "null":
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def status_of(value: Any) -> Status | None:
    if not isinstance(value, dict):
        return None
    return Status(
        group_id=as_int(value.get("groupId")),
        group_name=as_str(value.get("groupName")),
        id=as_int(value.get("id")),
        name=as_str(value.get("name")),
        description=as_str(value.get("description")),
    )


def error_of(value: Any) -> Error | None:
    if not isinstance(value, dict):
        return None
    return Error(
        group_id=as_int(value.get("groupId")),
        # Legacy SMS reports say "Ok" where current ones say "OK"; keep what was sent.
        group_name=as_str(value.get("groupName")),
        id=as_int(value.get("id")),
        name=as_str(value.get("name")),
        description=as_str(value.get("description")),
        permanent=as_bool(value.get("permanent")),
    )


def price_of(value: Any) -> Price | None:
    if not isinstance(value, dict):
        return None
    amount = value.get("pricePerMessage")
    if amount is None:
        amount = value.get("pricePerSecond")  # voice
    return Price(amount=as_decimal(amount), currency=as_str(value.get("currency")))


def platform_ids(item: Item) -> tuple[str | None, str | None]:
    """(application_id, entity_id): v3 nests them in platform{}, legacy puts them at the top."""
    platform = item.get("platform")
    if isinstance(platform, dict):
        return as_str(platform.get("applicationId")), as_str(platform.get("entityId"))
    return as_str(item.get("applicationId")), as_str(item.get("entityId"))


def fingerprint(item: Any) -> str:
    """A stable digest of an item, for kinds that carry no id of their own."""
    text = json.dumps(item, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def as_data(item: Item) -> dict[str, Any]:
    """The item itself for the events.data column. Prices in it stay Decimal here; the storage
    layer writes them as JSON numbers."""
    return item if isinstance(item, dict) else dict(item)


# ---------------------------------------------------------------------------------------------
# Body decoding
# ---------------------------------------------------------------------------------------------


def carries_inbound(body: bytes, content_type: str | None) -> bool:
    """Whether a body carries inbound messages (the raw inbox claims those first). Inbound
    items are the ones with receivedAt (FACTS.md a.2 row 15); inbound email is
    multipart/form-data. A byte search, not a parse: the ack waits for it."""
    if b"receivedAt" in body:
        return True
    return bool(content_type and content_type.startswith("multipart/"))


def is_xml(body: bytes, content_type: str | None) -> bool:
    if content_type and "xml" in content_type.lower():
        return True
    return body.lstrip()[:1] == b"<"


def decode_json(body: bytes) -> Any:
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(f"body is not valid JSON: {exc}") from None


def _xml_value(element: Element) -> Any:
    children = list(element)
    if not children:
        text = (element.text or "").strip()
        return text if text else None
    # Infobip XML wraps repeated items as <results><result/>...</results>.
    # (the legacy voice report nests <results><results>...</results></results>: the inner one
    # holds fields, not items).
    tags = [c.tag for c in children]
    holds_items = all(len(c) > 0 for c in children)
    if (element.tag == "results" and holds_items) or (len(tags) > 1 and len(set(tags)) == 1):
        return [_xml_value(c) for c in children]
    out: dict[str, Any] = {}
    for child in children:
        out[child.tag] = _xml_value(child)
    return out


def decode_xml(body: bytes) -> dict[str, Any]:
    """XML to the same dict shape as the JSON bodies, with no entity expansion (defusedxml)."""
    try:
        root = SafeET.fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise ParseError(f"XML refused for safety ({type(exc).__name__})") from None
    except SafeET.ParseError as exc:
        raise ParseError(f"body is not well-formed XML: {exc}") from None
    value = _xml_value(root)
    if not isinstance(value, dict):
        raise ParseError(f"XML root <{root.tag}> holds no fields")
    return value


def decode_body(body: bytes, content_type: str | None) -> Any:
    if not body.strip():
        raise ParseError("empty body")
    if is_xml(body, content_type):
        return decode_xml(body)
    return decode_json(body)


def results_of(doc: Any) -> list[Any] | None:
    """The results[] list of an enveloped callback, or None when the body is not enveloped."""
    if isinstance(doc, dict) and "results" in doc:
        results = doc["results"]
        if results is None:
            return []
        if isinstance(results, list):
            return results
        if isinstance(results, dict):  # a one-item XML <results> with another child name
            return list(results.values()) if len(results) == 1 else [results]
    return None


def each_item(
    channel: str,
    items: Iterable[Any],
    read: Callable[[Item], ParsedEvent],
) -> ParseResult:
    """Read every item on its own: one bad item becomes an 'unknown' event with a note and
    never fails the others."""
    events: list[ParsedEvent] = []
    errors: list[str] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ValueError(f"item is {type(item).__name__}, not an object")
            events.append(read(item))
        except (ValueError, TypeError, KeyError, ArithmeticError) as exc:
            note = f"item {index}: {exc}"
            errors.append(note)
            events.append(unknown_event(channel, item, note))
    return ParseResult(events=events, item_errors=errors)


def unknown_event(channel: str, item: Any, note: str | None = None) -> ParsedEvent:
    message_id = as_str(item.get("messageId")) if isinstance(item, dict) else None
    return ParsedEvent(
        kind="unknown",
        channel=channel,
        discriminator=fingerprint(item),
        message_id=message_id,
        data=as_data(item) if isinstance(item, dict) else {"value": item},
        note=note,
    )


def require_message_id(item: Item) -> str:
    message_id = as_str(item.get("messageId"))
    if message_id is None:
        raise ValueError("messageId is missing")
    return message_id


def delivery_report(item: Item, channel: str) -> ParsedEvent:
    """A delivery report item of the shared shape (SMS v3 and legacy, MMS, Viber, WhatsApp,
    Push, Email, RCS): results[] of messageId, to, sender/from, status, error, price, ..."""
    message_id = require_message_id(item)
    status = status_of(item.get("status"))
    if status is None:
        raise ValueError("status is missing")
    application_id, entity_id = platform_ids(item)
    done_at = as_datetime(item.get("doneAt"))
    sent_at = as_datetime(item.get("sentAt"))
    return ParsedEvent(
        kind="delivery",
        channel=channel,
        discriminator=f"{status.group_id}:{status.id}:{status.name}",
        message_id=message_id,
        direction="outbound",
        sub_type=status.name,
        sender=as_str(item.get("sender")) or as_str(item.get("from")),
        recipient=as_str(item.get("to")),
        bulk_id=as_str(item.get("bulkId")),
        callback_data=as_str(item.get("callbackData")),
        application_id=application_id,
        entity_id=entity_id,
        occurred_at=done_at or sent_at,
        sent_at=sent_at,
        done_at=done_at,
        status=status,
        error=error_of(item.get("error")),
        price=price_of(item.get("price")),
        data=as_data(item),
    )


def seen_report(item: Item, channel: str) -> ParsedEvent:
    message_id = require_message_id(item)
    seen_at = as_datetime(item.get("seenAt"))
    application_id, entity_id = platform_ids(item)
    return ParsedEvent(
        kind="seen",
        channel=channel,
        discriminator="seen",
        message_id=message_id,
        direction="outbound",
        # A seen report's from/to are the business (from) and the user (to).
        sender=as_str(item.get("from")) or as_str(item.get("sender")),
        recipient=as_str(item.get("to")),
        application_id=application_id,
        entity_id=entity_id,
        occurred_at=seen_at,
        # OMNI legacy misspells sentAt as sendAt.
        sent_at=as_datetime(item.get("sentAt")) or as_datetime(item.get("sendAt")),
        seen_at=seen_at,
        data=as_data(item),
    )


def tracking_event(item: Item, channel: str, kind: str) -> ParsedEvent:
    """Click/open/unsubscribe/complaint/late-bounce notifications (one object, no envelope)."""
    message_id = require_message_id(item)
    event_id = as_str(item.get("eventId"))
    return ParsedEvent(
        kind=kind,
        channel=channel,
        # Infobip's examples reuse one eventId across kinds, so the kind is part of the key.
        discriminator=event_id or fingerprint(item),
        message_id=message_id,
        direction="outbound",
        sub_type=as_str(item.get("notificationType")),
        sender=as_str(item.get("sender")),
        recipient=as_str(item.get("recipient")),
        bulk_id=as_str(item.get("bulkId")),
        callback_data=as_str(item.get("callbackData")),
        application_id=as_str(item.get("applicationId")),
        entity_id=as_str(item.get("entityId")),
        # sendDateTime is when the message was sent (epoch ms), not when it was clicked.
        sent_at=as_datetime(item.get("sendDateTime")),
        data=as_data(item),
    )


def result_kind(item: Item) -> str | None:
    """Which kind an item of results[] is, by its fields (FACTS.md a.2, rows 13 to 15)."""
    if isinstance(item.get("status"), dict):
        return "delivery"
    if "seenAt" in item:
        return "seen"
    if "receivedAt" in item:
        return "inbound"
    return None


# Where the human-readable text of each chat-app inbound type lives (renderer MO_OTT_CONTACT:
# WhatsApp, Viber, RCS).
_TEXT_FIELDS = ("text", "caption", "title", "emoji", "payload", "name", "address", "fileName")


def _message_text(message: Item) -> str | None:
    for name in _TEXT_FIELDS:
        value = as_str(message.get(name))
        if value:
            return value
    return None


def ott_inbound(item: Item, channel: str) -> ParsedEvent:
    """A chat-app inbound item: message{type, ...}; WhatsApp says from, Viber and RCS sender."""
    message_id = require_message_id(item)
    message = item.get("message")
    if not isinstance(message, dict):
        raise ValueError("message is missing")
    received_at = as_datetime(item.get("receivedAt"))
    data = dict(item)
    text = _message_text(message)
    if text is not None:
        data["text"] = text
    application_id, entity_id = platform_ids(item)
    return ParsedEvent(
        kind="inbound",
        channel=channel,
        # Inbound ids are unique per message; the type guards against ids reused across types.
        discriminator=as_str(message.get("type")) or "",
        message_id=message_id,
        direction="inbound",
        sub_type=as_str(message.get("type")),
        sender=as_str(item.get("from")) or as_str(item.get("sender")),
        recipient=as_str(item.get("to")),
        callback_data=as_str(item.get("callbackData")),
        application_id=application_id,
        entity_id=entity_id,
        occurred_at=received_at,
        sent_at=received_at,
        price=price_of(item.get("price")),
        data=data,
    )


def object_parser(read: Callable[[Item], ParseResult]) -> Parser:
    """A parser for callbacks that are one JSON (or XML) object."""

    def parse(body: bytes, content_type: str | None) -> ParseResult:
        doc = decode_body(body, content_type)
        if not isinstance(doc, dict):
            raise ParseError(f"body is a JSON {type(doc).__name__}, not an object")
        return read(doc)

    return parse


def results_parser(
    channel: str, read: Callable[[Item], ParsedEvent], others: Callable[[Item], ParseResult]
) -> Parser:
    """A parser for a product whose callbacks are results[] envelopes (read item by item) or,
    for the rest, single objects (others)."""

    def read_doc(doc: Item) -> ParseResult:
        items = results_of(doc)
        if items is not None:
            return each_item(channel, items, read)
        return others(doc)

    return object_parser(read_doc)


def not_known(channel: str, what: str) -> Callable[[Item], ParseResult]:
    def others(doc: Item) -> ParseResult:
        return ParseResult(events=[unknown_event(channel, doc, f"not a known {what} callback")])

    return others


def report_reader(
    channel: str, inbound: Callable[[Item], ParsedEvent] | None = None
) -> Callable[[Item], ParsedEvent]:
    """The usual item reader of a results[] callback: a delivery report, a seen report, or
    (when the product has one) an inbound message, told apart by their fields."""

    def read(item: Item) -> ParsedEvent:
        kind = result_kind(item)
        if kind == "delivery":
            return delivery_report(item, channel)
        if kind == "seen":
            return seen_report(item, channel)
        if kind == "inbound" and inbound is not None:
            return inbound(item)
        return unknown_event(channel, item, "item has no status, seenAt or receivedAt")

    return read
