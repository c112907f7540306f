"""MMS: delivery reports (v2 and legacy v1, JSON or XML), inbound MMS (multi-part, group
messages), URL click tracking."""

from __future__ import annotations

from events.channels.common import (
    Item,
    ParsedEvent,
    ParseResult,
    as_datetime,
    as_str,
    each_item,
    not_known,
    price_of,
    report_reader,
    require_message_id,
    results_parser,
    tracking_event,
)

CHANNEL = "mms"


def inbound(item: Item) -> ParsedEvent:
    """Renderer MO_MMS_2: message[] of parts (contentType + url or value), optional group[]."""
    message_id = require_message_id(item)
    parts = item.get("message")
    if not isinstance(parts, list):
        raise ValueError("message parts are missing")
    texts = [
        as_str(p.get("value"))
        for p in parts
        if isinstance(p, dict) and str(p.get("contentType", "")).startswith("text/")
    ]
    data = dict(item)
    text = " ".join(t for t in texts if t)
    if text:
        data["text"] = text
    data["part_types"] = [p.get("contentType") for p in parts if isinstance(p, dict)]
    received_at = as_datetime(item.get("receivedAt"))
    return ParsedEvent(
        kind="inbound",
        channel=CHANNEL,
        discriminator="",
        message_id=message_id,
        direction="inbound",
        sub_type="GROUP" if item.get("group") else "MMS",
        sender=as_str(item.get("from")),
        recipient=as_str(item.get("to")),
        callback_data=as_str(item.get("callbackData")),
        occurred_at=received_at,
        sent_at=received_at,
        price=price_of(item.get("price")),
        data=data,
    )


_item = report_reader(CHANNEL, inbound)


def _others(doc: Item) -> ParseResult:
    if doc.get("notificationType") == "CLICKED":
        return each_item(CHANNEL, [doc], lambda d: tracking_event(d, CHANNEL, "click"))
    return not_known(CHANNEL, "MMS")(doc)


parse = results_parser(CHANNEL, _item, _others)
