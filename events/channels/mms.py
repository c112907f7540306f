"""MMS: delivery reports (v2 and legacy v1, JSON or XML), inbound MMS (multi-part, group
messages), URL click tracking."""

from __future__ import annotations

from datetime import timedelta

from events.channels.envelope import each_item, not_known, results_parser
from events.channels.event import ParsedEvent, ParseResult
from events.channels.shared import delivery_report, is_url_click, report_reader, tracking_event
from events.channels.spec import (
    Auto,
    ChannelSpec,
    ItemRow,
    ObjectRow,
    Reconcile,
    Source,
    anything,
)
from events.channels.status import price_of
from events.channels.values import Item, as_datetime, as_str, require_message_id
from events.vocabulary import Address, Direction, Kind

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
        kind=Kind.INBOUND,
        channel=CHANNEL,
        discriminator="",
        message_id=message_id,
        direction=Direction.INBOUND,
        sub_type="GROUP" if item.get("group") else "MMS",
        sender=as_str(item.get("from")),
        recipient=as_str(item.get("to")),
        callback_data=as_str(item.get("callbackData")),
        occurred_at=received_at,
        sent_at=received_at,
        price=price_of(item.get("price")),
        data=data,
    )


def _delivery(item: Item) -> ParsedEvent:
    return delivery_report(item, CHANNEL)


def _click(doc: Item) -> ParsedEvent:
    return tracking_event(doc, CHANNEL, Kind.CLICK)


def _object(doc: Item) -> ParseResult:
    if is_url_click(doc):
        return each_item(CHANNEL, [doc], _click)
    return not_known(CHANNEL, "MMS")(doc)


def _has_parts(item: Item) -> bool:
    return isinstance(item.get("message"), list)


parse = results_parser(CHANNEL, report_reader(CHANNEL, inbound), _object)

SPEC = ChannelSpec(
    name=CHANNEL,
    kinds=frozenset({Kind.DELIVERY, Kind.INBOUND, Kind.CLICK}),
    parser=parse,
    auto=Auto(
        objects=(ObjectRow(5, is_url_click, _object, shared=True),),
        items=(
            ItemRow(16, anything, _delivery, kind=Kind.DELIVERY, shared=True),
            # Inbound MMS is message[] of parts; the other products' inbound message is one.
            ItemRow(23, _has_parts, inbound, kind=Kind.INBOUND),
        ),
        hint=True,
    ),
    reconcile=Reconcile(
        logs=Source("request", "/mms/2/logs", 60),
        reports=Source("request", "/mms/2/reports", 60),
        inbound=Source("request", "/mms/1/inbox/reports", 60),
        delay=timedelta(minutes=15),
    ),
    address=Address.PHONE,
)
