"""Viber (and Viber Bot): delivery and seen reports, inbound text and files. Viber inbound
says sender, not from."""

from __future__ import annotations

from datetime import timedelta

from events.channels.envelope import not_known, results_parser
from events.channels.event import ParsedEvent
from events.channels.shared import (
    delivery_report,
    integration_type,
    ott_inbound,
    report_reader,
    seen_report,
)
from events.channels.spec import Auto, ChannelSpec, ItemRow, Reconcile, Source, anything
from events.channels.values import Item
from events.vocabulary import Address, Kind

CHANNEL = "viber"


def inbound(item: Item) -> ParsedEvent:
    return ott_inbound(item, CHANNEL)


def _delivery(item: Item) -> ParsedEvent:
    return delivery_report(item, CHANNEL)


def _seen(item: Item) -> ParsedEvent:
    return seen_report(item, CHANNEL)


def _names_viber(item: Item) -> bool:
    return integration_type(item) == CHANNEL


parse = results_parser(CHANNEL, report_reader(CHANNEL, inbound), not_known(CHANNEL, "Viber"))

SPEC = ChannelSpec(
    name=CHANNEL,
    kinds=frozenset({Kind.DELIVERY, Kind.SEEN, Kind.INBOUND}),
    parser=parse,
    auto=Auto(
        items=(
            ItemRow(16, anything, _delivery, kind=Kind.DELIVERY, shared=True),
            # WhatsApp and Viber seen reports look alike.
            ItemRow(19, anything, _seen, kind=Kind.SEEN, shared=True),
            ItemRow(21, _names_viber, inbound, kind=Kind.INBOUND),
        ),
        hint=True,
    ),
    reconcile=Reconcile(
        logs=Source("request", "/viber/2/logs", 60),
        reports=Source("request", "/viber/2/reports", 60),
        delay=timedelta(minutes=15),
    ),
    address=Address.PHONE,
)
