"""RCS: delivery reports (the SMS failover leg too, which joins the SMS message's timeline),
inbound messages, typing indicators."""

from __future__ import annotations

from events.channels.envelope import not_known, results_parser, unknown_event
from events.channels.event import ParsedEvent
from events.channels.shared import (
    delivery_report,
    integration_type,
    ott_inbound,
    result_kind,
    seen_report,
)
from events.channels.spec import Auto, ChannelSpec, ItemRow
from events.channels.values import Item, as_datetime, as_str
from events.vocabulary import Address, Direction, Kind

CHANNEL = "rcs"


def _is_typing(item: Item) -> bool:
    """RCS typing indicators say event: {type: TYPING_INDICATOR}."""
    return isinstance(item.get("event"), dict)


def typing(item: Item, channel: str = CHANNEL) -> ParsedEvent:
    received_at = as_datetime(item.get("receivedAt"))
    event = item.get("event")
    kind_name = as_str(event.get("type")) if isinstance(event, dict) else as_str(event)
    return ParsedEvent(
        kind=Kind.TYPING,
        channel=channel,
        discriminator=f"{kind_name}:{item.get('receivedAt')}",
        message_id=as_str(item.get("messageId")),
        direction=Direction.INBOUND,
        sub_type=kind_name,
        sender=as_str(item.get("sender")) or as_str(item.get("from")),
        recipient=as_str(item.get("to")) or as_str(item.get("destination")),
        application_id=as_str(item.get("applicationId")),
        entity_id=as_str(item.get("entityId")),
        occurred_at=received_at,
        data=dict(item),
    )


def delivery(item: Item) -> ParsedEvent:
    # A report with channel "SMS" is the failover leg: the SMS that was sent instead.
    leg = (as_str(item.get("channel")) or CHANNEL).lower()
    return delivery_report(item, "sms" if leg == "sms" else CHANNEL)


def inbound(item: Item) -> ParsedEvent:
    return ott_inbound(item, CHANNEL)


def _item(item: Item) -> ParsedEvent:
    if _is_typing(item):
        return typing(item)
    kind = result_kind(item)
    if kind is Kind.DELIVERY:
        return delivery(item)
    if kind is Kind.SEEN:
        return seen_report(item, CHANNEL)
    if kind is Kind.INBOUND:
        return inbound(item)
    return unknown_event(CHANNEL, item, "item has no status, seenAt, receivedAt or event")


parse = results_parser(CHANNEL, _item, not_known(CHANNEL, "RCS"))


def _is_delivery(item: Item) -> bool:
    price = item.get("price")
    return (
        "interactionType" in item
        or "conversation" in item
        or (isinstance(price, dict) and "trafficType" in price)
    )


def _names_rcs(item: Item) -> bool:
    return integration_type(item) == CHANNEL


SPEC = ChannelSpec(
    name=CHANNEL,
    kinds=frozenset({Kind.DELIVERY, Kind.INBOUND, Kind.TYPING}),
    parser=parse,
    auto=Auto(
        items=(
            ItemRow(9, _is_typing, typing),
            ItemRow(14, _is_delivery, delivery, kind=Kind.DELIVERY),
            ItemRow(22, _names_rcs, inbound, kind=Kind.INBOUND),
        ),
        hint=True,
    ),
    address=Address.PHONE,
)
