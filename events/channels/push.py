"""Mobile push: delivery reports (v3 and legacy v1)."""

from __future__ import annotations

from datetime import timedelta

from events.channels.envelope import not_known, results_parser
from events.channels.event import ParsedEvent
from events.channels.shared import delivery_report, report_reader
from events.channels.spec import Auto, ChannelSpec, ItemRow, Reconcile, Source, anything
from events.channels.values import Item
from events.vocabulary import Kind

CHANNEL = "push"


def _delivery(item: Item) -> ParsedEvent:
    return delivery_report(item, CHANNEL)


parse = results_parser(CHANNEL, report_reader(CHANNEL), not_known(CHANNEL, "push"))

SPEC = ChannelSpec(
    name=CHANNEL,
    kinds=frozenset({Kind.DELIVERY}),
    parser=parse,
    auto=Auto(
        items=(ItemRow(16, anything, _delivery, kind=Kind.DELIVERY, shared=True),),
        hint=True,
    ),
    reconcile=Reconcile(
        logs=Source("request", "/push/3/logs", 60),
        reports=Source("request", "/push/3/reports", 60),
        delay=timedelta(minutes=15),
    ),
)
