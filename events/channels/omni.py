"""Legacy OMNI failover: delivery reports (with the channel that delivered), seen reports
(which misspell sentAt as sendAt) and inbound messages."""

from __future__ import annotations

from events.channels.envelope import not_known, results_parser, unknown_event
from events.channels.event import ParsedEvent
from events.channels.shared import delivery_report, ott_inbound, result_kind, seen_report
from events.channels.sms import inbound as sms_inbound
from events.channels.spec import Auto, ChannelSpec, ItemRow
from events.channels.values import Item, as_str
from events.vocabulary import Kind

CHANNEL = "omni"


def _channel(item: Item) -> str:
    return (as_str(item.get("channel")) or CHANNEL).lower()


def _item(item: Item) -> ParsedEvent:
    kind = result_kind(item)
    if kind is Kind.DELIVERY:
        return delivery_report(item, _channel(item))
    if kind is Kind.SEEN:
        return seen_report(item, _channel(item))
    if kind is Kind.INBOUND:
        if isinstance(item.get("message"), dict):
            return ott_inbound(item, _channel(item))
        return sms_inbound(item, _channel(item))
    return unknown_event(CHANNEL, item, "item has no status, seenAt or receivedAt")


parse = results_parser(CHANNEL, _item, not_known(CHANNEL, "OMNI"))


def _is_report(item: Item) -> bool:
    """OMNI reports name the channel that delivered; Messages API items do too, with event."""
    return "channel" in item and "event" not in item


def _delivery(item: Item) -> ParsedEvent:
    return delivery_report(item, _channel(item))


def _sent_at_misspelt(item: Item) -> bool:
    return "sendAt" in item


def _seen(item: Item) -> ParsedEvent:
    return seen_report(item, CHANNEL)


SPEC = ChannelSpec(
    name=CHANNEL,
    kinds=frozenset({Kind.DELIVERY, Kind.SEEN}),
    parser=parse,
    auto=Auto(
        items=(
            ItemRow(15, _is_report, _delivery, kind=Kind.DELIVERY),
            ItemRow(18, _sent_at_misspelt, _seen, kind=Kind.SEEN),
        ),
    ),
)
