"""Mobile push: delivery reports (v3 and legacy v1)."""

from __future__ import annotations

from events.channels.common import (
    Item,
    ParsedEvent,
    delivery_report,
    not_known,
    result_kind,
    results_parser,
    seen_report,
    unknown_event,
)

CHANNEL = "push"


def _item(item: Item) -> ParsedEvent:
    kind = result_kind(item)
    if kind == "delivery":
        return delivery_report(item, CHANNEL)
    if kind == "seen":
        return seen_report(item, CHANNEL)
    return unknown_event(CHANNEL, item, "item has no status or seenAt")


parse = results_parser(CHANNEL, _item, not_known(CHANNEL, "push"))
