"""Legacy OMNI failover: delivery reports (with the channel that delivered), seen reports
(which misspell sentAt as sendAt) and inbound messages."""

from __future__ import annotations

from events.channels.common import (
    Item,
    ParsedEvent,
    as_str,
    delivery_report,
    not_known,
    ott_inbound,
    result_kind,
    results_parser,
    seen_report,
    unknown_event,
)
from events.channels.sms import inbound as sms_inbound

CHANNEL = "omni"


def _channel(item: Item) -> str:
    return (as_str(item.get("channel")) or CHANNEL).lower()


def _item(item: Item) -> ParsedEvent:
    kind = result_kind(item)
    if kind == "delivery":
        return delivery_report(item, _channel(item))
    if kind == "seen":
        return seen_report(item, _channel(item))
    if kind == "inbound":
        if isinstance(item.get("message"), dict):
            return ott_inbound(item, _channel(item))
        return sms_inbound(item, _channel(item))
    return unknown_event(CHANNEL, item, "item has no status, seenAt or receivedAt")


parse = results_parser(CHANNEL, _item, not_known(CHANNEL, "OMNI"))
