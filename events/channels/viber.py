"""Viber (and Viber Bot): delivery and seen reports, inbound text and files. Viber inbound
says sender, not from."""

from __future__ import annotations

from events.channels.common import (
    Item,
    ParsedEvent,
    delivery_report,
    not_known,
    ott_inbound,
    result_kind,
    results_parser,
    seen_report,
    unknown_event,
)

CHANNEL = "viber"


def _item(item: Item) -> ParsedEvent:
    kind = result_kind(item)
    if kind == "delivery":
        return delivery_report(item, CHANNEL)
    if kind == "seen":
        return seen_report(item, CHANNEL)
    if kind == "inbound":
        return ott_inbound(item, CHANNEL)
    return unknown_event(CHANNEL, item, "item has no status, seenAt or receivedAt")


parse = results_parser(CHANNEL, _item, not_known(CHANNEL, "Viber"))
