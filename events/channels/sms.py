"""SMS: delivery reports (v3 and legacy v1/v2, JSON or XML), inbound SMS (MO), URL clicks."""

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
    price_of,
    report_reader,
    require_message_id,
    results_of,
    tracking_event,
    unknown_event,
)

CHANNEL = "sms"


def inbound(item: Item, channel: str = CHANNEL) -> ParsedEvent:
    """An MO item (renderer MO_JSON_2): text, cleanText, keyword, from, to, receivedAt."""
    message_id = require_message_id(item)
    received_at = as_datetime(item.get("receivedAt"))
    return ParsedEvent(
        kind="inbound",
        channel=channel,
        discriminator="",
        message_id=message_id,
        direction="inbound",
        sub_type="TEXT",
        sender=as_str(item.get("from")),
        recipient=as_str(item.get("to")),
        callback_data=as_str(item.get("callbackData")),
        occurred_at=received_at,
        sent_at=received_at,
        price=price_of(item.get("price")),
        data=as_data(item),
    )


_item = report_reader(CHANNEL, inbound)


def parse(body: bytes, content_type: str | None) -> ParseResult:
    doc: Any = decode_body(body, content_type)
    items = results_of(doc)
    if items is not None:
        return each_item(CHANNEL, items, _item)
    if isinstance(doc, dict) and doc.get("notificationType") == "CLICKED":
        return each_item(CHANNEL, [doc], lambda d: tracking_event(d, CHANNEL, "click"))
    if isinstance(doc, dict):
        return ParseResult(
            events=[unknown_event(CHANNEL, doc, "not a known SMS callback shape")],
            item_errors=[],
        )
    raise ParseError(f"body is a JSON {type(doc).__name__}, not an object")
