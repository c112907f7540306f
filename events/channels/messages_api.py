"""Messages API: DELIVERY, SEEN, MO (typed content parts) and TYPING_* events.

Every item names its real channel (WHATSAPP, SMS, VIBER, APPLE_MB, ...); the records keep that
channel, so a WhatsApp message sent through the Messages API has one timeline with its reports.
Items say sender/destination where the channel APIs say from/to.
"""

from __future__ import annotations

from typing import Any

from events.channels.envelope import not_known, results_parser, unknown_event
from events.channels.event import ParsedEvent
from events.channels.shared import delivery_report, seen_report
from events.channels.spec import Auto, ChannelSpec, ItemRow, Reconcile, Source
from events.channels.status import price_of
from events.channels.values import (
    Item,
    as_datetime,
    as_str,
    fingerprint,
    platform_ids,
    require_message_id,
)
from events.vocabulary import Direction, Kind

CHANNEL = "messages-api"


def real_channel(item: Item) -> str:
    return (as_str(item.get("channel")) or CHANNEL).lower()


def _with_from_to(item: Item) -> dict[str, Any]:
    out = dict(item)
    out.setdefault("to", item.get("destination"))
    out.setdefault("from", item.get("sender"))
    return out


def inbound(item: Item) -> ParsedEvent:
    message_id = require_message_id(item)
    parts = item.get("content") if isinstance(item.get("content"), list) else []
    assert isinstance(parts, list)
    types = [as_str(p.get("type")) for p in parts if isinstance(p, dict)]
    texts = [as_str(p.get("text")) for p in parts if isinstance(p, dict)]
    data = dict(item)
    text = " ".join(t for t in texts if t)
    if text:
        data["text"] = text
    first = parts[0] if parts and isinstance(parts[0], dict) else {}
    if first.get("keyword") is not None:
        data["keyword"] = first.get("keyword")
    received_at = as_datetime(item.get("receivedAt"))
    application_id, entity_id = platform_ids(item)
    return ParsedEvent(
        kind=Kind.INBOUND,
        channel=real_channel(item),
        discriminator="+".join(t or "" for t in types),
        message_id=message_id,
        direction=Direction.INBOUND,
        sub_type="+".join(t for t in types if t) or None,
        sender=as_str(item.get("sender")),
        recipient=as_str(item.get("destination")),
        callback_data=as_str(item.get("callbackData")),
        application_id=application_id,
        entity_id=entity_id,
        occurred_at=received_at,
        sent_at=received_at,
        price=price_of(item.get("price")),
        data=data,
    )


def typing(item: Item) -> ParsedEvent:
    application_id, entity_id = platform_ids(item)
    return ParsedEvent(
        kind=Kind.TYPING,
        channel=real_channel(item),
        discriminator=fingerprint(item),
        message_id=as_str(item.get("messageId")),
        direction=Direction.INBOUND,
        sub_type=as_str(item.get("event")),
        sender=as_str(item.get("sender")),
        recipient=as_str(item.get("destination")),
        application_id=application_id,
        entity_id=entity_id,
        occurred_at=as_datetime(item.get("receivedAt")),
        data=dict(item),
    )


def read_item(item: Item) -> ParsedEvent:
    event = as_str(item.get("event"))
    if event == "DELIVERY":
        report = delivery_report(_with_from_to(item), real_channel(item))
        report.data = dict(item)
        return report
    if event == "SEEN":
        seen = seen_report(_with_from_to(item), real_channel(item))
        seen.data = dict(item)
        return seen
    if event == "MO":
        require_message_id(item)
        return inbound(item)
    if event and event.startswith("TYPING"):
        return typing(item)
    return unknown_event(CHANNEL, item, f"Messages API event {event!r} is not known")


parse = results_parser(CHANNEL, read_item, not_known(CHANNEL, "Messages API"))


def _is_event(item: Item) -> bool:
    """Messages API items say what they are (event) and where they went (channel)."""
    return isinstance(item.get("event"), str) and "channel" in item


SPEC = ChannelSpec(
    name=CHANNEL,
    kinds=frozenset({Kind.DELIVERY, Kind.SEEN, Kind.INBOUND, Kind.TYPING}),
    parser=parse,
    auto=Auto(items=(ItemRow(8, _is_event, read_item),)),
    # Reports but no logs; its items name their real channel.
    reconcile=Reconcile(
        reports=Source("request", "/messages-api/1/reports", 60),
        inbound=Source("request", "/messages-api/1/inbound", 60),
    ),
)
