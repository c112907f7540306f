"""Email: delivery reports, tracking events (open, click, unsubscribe, complaint, late bounce),
platform events, and inbound (parsed) email, which arrives as multipart/form-data."""

from __future__ import annotations

import json
from datetime import timedelta
from email import policy
from email.parser import BytesParser
from typing import Any

from events.channels.envelope import each_item, results_parser, unknown_event
from events.channels.event import ParsedEvent, ParseError, ParseResult
from events.channels.shared import delivery_report, result_kind, tracking_event
from events.channels.spec import Auto, ChannelSpec, ItemRow, ObjectRow, Reconcile, Send, Source
from events.channels.values import Item, as_data, as_datetime, as_str, fingerprint
from events.vocabulary import Address, Direction, Kind

CHANNEL = "email"

TRACKING_KINDS = {
    "OPENED": Kind.OPEN,
    "CLICKED": Kind.CLICK,
    "UNSUBSCRIBED": Kind.UNSUBSCRIBE,
    "COMPLAINED": Kind.COMPLAINT,
    "LATE_BOUNCE": Kind.LATE_BOUNCE,
}

# Form fields of a parsed inbound email that hold JSON rather than text.
_JSON_FIELDS = ("dkimCheck", "attachmentInfo", "envelope", "headers")


def _report(item: Item) -> ParsedEvent:
    if result_kind(item) is Kind.DELIVERY:
        return delivery_report(item, CHANNEL)
    return unknown_event(CHANNEL, item, "email result has no status")


def platform_event(doc: Item) -> ParsedEvent:
    details = doc["eventDetails"]
    return ParsedEvent(
        kind=Kind.EMAIL_PLATFORM,
        channel=CHANNEL,
        discriminator=as_str(doc.get("eventId")) or fingerprint(doc),
        sub_type=as_str(details.get("type")),
        occurred_at=as_datetime(doc.get("createdAt")),
        data=as_data(doc),
    )


def _form_fields(body: bytes, content_type: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """multipart/form-data with the standard library's MIME parser (pure, no I/O)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise ParseError("multipart body has no parts (is the boundary right?)")
    fields: dict[str, Any] = {}
    files: list[dict[str, Any]] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            # Attachments stay in the raw row; the event records what they are.
            files.append(
                {
                    "field": name,
                    "filename": filename,
                    "content_type": part.get_content_type(),
                    "size": len(raw),
                }
            )
            continue
        text = raw.decode(part.get_content_charset() or "utf-8", errors="replace")
        if name in _JSON_FIELDS:
            try:
                fields[name] = json.loads(text)
                continue
            except (ValueError, RecursionError):  # too deep: kept as the text it is
                pass
        fields[name] = text
    return fields, files


def inbound_email(body: bytes, content_type: str) -> ParsedEvent:
    fields, files = _form_fields(body, content_type)
    return _inbound_from_fields(fields, files)


def _json_form_fields(doc: Item) -> ParsedEvent:
    """The same form fields sent as JSON (the spec shows them so; attachments are byte
    arrays there)."""
    fields: dict[str, Any] = {}
    files: list[dict[str, Any]] = []
    info = {i.get("name"): i for i in doc.get("attachmentInfo") or [] if isinstance(i, dict)}
    for name, value in doc.items():
        if name in info and isinstance(value, list):
            files.append(
                {
                    "field": name,
                    "filename": info[name].get("filename"),
                    "content_type": info[name].get("contentType"),
                    "size": len(value),
                }
            )
        else:
            fields[name] = value
    return _inbound_from_fields(fields, files)


def _inbound_from_fields(fields: dict[str, Any], files: list[dict[str, Any]]) -> ParsedEvent:
    envelope = fields.get("envelope") if isinstance(fields.get("envelope"), dict) else {}
    assert isinstance(envelope, dict)
    message_id = as_str(fields.get("id"))
    if message_id is None:
        raise ParseError("inbound email has no id field")
    data: dict[str, Any] = {k: v for k, v in fields.items() if k not in ("html",)}
    data["attachments"] = files
    data["has_html"] = "html" in fields
    if "text" in fields:
        data["text"] = fields["text"]
    return ParsedEvent(
        kind=Kind.INBOUND,
        channel=CHANNEL,
        discriminator="",
        message_id=message_id,
        direction=Direction.INBOUND,
        sub_type="EMAIL",
        sender=as_str(envelope.get("from")) or as_str(fields.get("from")),
        recipient=as_str(envelope.get("to")) or as_str(fields.get("to")),
        data=data,
    )


def _object(doc: Item) -> ParseResult:
    notification = as_str(doc.get("notificationType"))
    if notification in TRACKING_KINDS:
        kind = TRACKING_KINDS[notification]
        return each_item(CHANNEL, [doc], lambda d: tracking_event(d, CHANNEL, kind))
    if isinstance(doc.get("eventDetails"), dict):
        return each_item(CHANNEL, [doc], platform_event)
    if "spfCheck" in doc or "attachmentInfo" in doc or isinstance(doc.get("envelope"), dict):
        return each_item(CHANNEL, [doc], _json_form_fields)
    return ParseResult(events=[unknown_event(CHANNEL, doc, "not a known email callback")])


_parse_json = results_parser(CHANNEL, _report, _object)


def parse(body: bytes, content_type: str | None) -> ParseResult:
    if content_type and content_type.lower().startswith("multipart/"):
        return ParseResult(events=[inbound_email(body, content_type)])
    return _parse_json(body, content_type)


def _is_tracking(doc: Item) -> bool:
    """Email's tracking notifications say the `domain`; SMS and MMS URL clicks do not."""
    return as_str(doc.get("notificationType")) in TRACKING_KINDS and "domain" in doc


def _is_platform_or_form(doc: Item) -> bool:
    """A platform event, or an inbound email sent as JSON form fields."""
    return isinstance(doc.get("eventDetails"), dict) or "spfCheck" in doc


def _is_delivery(item: Item) -> bool:
    to = as_str(item.get("to")) or ""
    return "@" in to or any(k in item for k in ("browserLink", "sendingIp", "smtp"))


def _delivery(item: Item) -> ParsedEvent:
    return delivery_report(item, CHANNEL)


SPEC = ChannelSpec(
    name=CHANNEL,
    kinds=frozenset(
        {
            Kind.DELIVERY,
            Kind.OPEN,
            Kind.CLICK,
            Kind.UNSUBSCRIBE,
            Kind.COMPLAINT,
            Kind.LATE_BOUNCE,
            Kind.EMAIL_PLATFORM,
            Kind.INBOUND,
        }
    ),
    parser=parse,
    auto=Auto(
        objects=(ObjectRow(4, _is_tracking, _object), ObjectRow(6, _is_platform_or_form, _object)),
        items=(ItemRow(12, _is_delivery, _delivery, kind=Kind.DELIVERY),),
        multipart=True,
        hint=True,
    ),
    reconcile=Reconcile(
        logs=Source("action", "get-email-logs", 60),
        reports=Source("action", "get-email-delivery-reports", 60),
        delay=timedelta(hours=1),
        logs_one_id_a_call=True,
    ),
    send=Send(text="send-email"),
    address=Address.EMAIL,
)
