"""RCS: delivery reports (the SMS failover leg too, which joins the SMS message's timeline),
inbound messages, typing indicators."""

from __future__ import annotations

from events.channels.common import (
    Item,
    ParsedEvent,
    as_datetime,
    as_str,
    delivery_report,
    not_known,
    ott_inbound,
    result_kind,
    results_parser,
    seen_report,
    unknown_event,
)

CHANNEL = "rcs"


def typing(item: Item, channel: str = CHANNEL) -> ParsedEvent:
    received_at = as_datetime(item.get("receivedAt"))
    event = item.get("event")
    kind_name = as_str(event.get("type")) if isinstance(event, dict) else as_str(event)
    return ParsedEvent(
        kind="typing",
        channel=channel,
        discriminator=f"{kind_name}:{item.get('receivedAt')}",
        message_id=as_str(item.get("messageId")),
        direction="inbound",
        sub_type=kind_name,
        sender=as_str(item.get("sender")) or as_str(item.get("from")),
        recipient=as_str(item.get("to")) or as_str(item.get("destination")),
        application_id=as_str(item.get("applicationId")),
        entity_id=as_str(item.get("entityId")),
        occurred_at=received_at,
        data=dict(item),
    )


def _item(item: Item) -> ParsedEvent:
    if isinstance(item.get("event"), dict):
        return typing(item)
    kind = result_kind(item)
    if kind == "delivery":
        # A report with channel "SMS" is the failover leg: the SMS that was sent instead.
        leg = (as_str(item.get("channel")) or CHANNEL).lower()
        return delivery_report(item, "sms" if leg == "sms" else CHANNEL)
    if kind == "seen":
        return seen_report(item, CHANNEL)
    if kind == "inbound":
        return ott_inbound(item, CHANNEL)
    return unknown_event(CHANNEL, item, "item has no status, seenAt, receivedAt or event")


parse = results_parser(CHANNEL, _item, not_known(CHANNEL, "RCS"))
