"""WhatsApp: delivery and seen reports, inbound messages of every type, and the account
notifications (template updates, identity changes, payments, marketing preferences)."""

from __future__ import annotations

from typing import Any

from events.channels.common import (
    Item,
    ParsedEvent,
    ParseError,
    ParseResult,
    as_data,
    as_datetime,
    as_str,
    decode_body,
    each_item,
    fingerprint,
    ott_inbound,
    report_reader,
    results_of,
    unknown_event,
)

CHANNEL = "whatsapp"


def inbound(item: Item) -> ParsedEvent:
    return ott_inbound(item, CHANNEL)


_item = report_reader(CHANNEL, inbound)


def template_update(doc: Item) -> ParsedEvent:
    change = doc.get("change") if isinstance(doc.get("change"), dict) else {}
    assert isinstance(change, dict)
    return ParsedEvent(
        kind="template_update",
        channel=CHANNEL,
        discriminator=fingerprint(doc),
        sub_type=as_str(change.get("newStatus")) or as_str(change.get("type")),
        # entityId and applicationId are numbers here, strings elsewhere.
        application_id=as_str(doc.get("applicationId")),
        entity_id=as_str(doc.get("entityId")),
        occurred_at=as_datetime(doc.get("timestamp")),
        data=as_data(doc),
    )


def account_notification(doc: Item) -> ParsedEvent:
    """from + content{} + createdAt: identity change, payment or marketing preference."""
    content = doc["content"]
    content_type = as_str(content.get("type"))
    sub_type = content_type
    if content_type == "user_identity_changed":
        kind = "identity_change"
        sender = as_str(content.get("userNumber"))
    elif content_type == "payment":
        kind = "payment"
        sender = as_str(content.get("from"))
        sub_type = as_str(content.get("paymentStatus"))
    elif "notificationMessagesStatus" in content:
        kind = "marketing_preference"
        sender = as_str(content.get("from")) or as_str(content.get("userNumber"))
        sub_type = as_str(content.get("notificationMessagesStatus"))
    else:
        kind = "unknown"
        sender = None
    return ParsedEvent(
        kind=kind,
        channel=CHANNEL,
        discriminator=fingerprint(doc),
        sub_type=sub_type,
        sender=sender,
        recipient=as_str(doc.get("from")),
        occurred_at=as_datetime(doc.get("createdAt")),
        data=as_data(doc),
        note=None if kind != "unknown" else "content type not recognised",
    )


def parse(body: bytes, content_type: str | None) -> ParseResult:
    doc: Any = decode_body(body, content_type)
    items = results_of(doc)
    if items is not None:
        return each_item(CHANNEL, items, _item)
    if not isinstance(doc, dict):
        raise ParseError(f"body is a JSON {type(doc).__name__}, not an object")
    if "messageTemplateId" in doc and isinstance(doc.get("change"), dict):
        return each_item(CHANNEL, [doc], template_update)
    if isinstance(doc.get("content"), dict) and "from" in doc:
        return each_item(CHANNEL, [doc], account_notification)
    return ParseResult(events=[unknown_event(CHANNEL, doc, "not a known WhatsApp callback")])
