"""SMS: delivery reports (v3 and legacy v1/v2, JSON or XML), inbound SMS (MO), URL clicks."""

from __future__ import annotations

from datetime import timedelta

from events.channels.envelope import each_item, results_parser, unknown_event
from events.channels.event import ParsedEvent, ParseResult
from events.channels.shared import (
    delivery_report,
    is_url_click,
    report_reader,
    tracking_event,
)
from events.channels.spec import (
    Auto,
    ChannelSpec,
    ItemRow,
    ObjectRow,
    Reconcile,
    Send,
    Source,
    anything,
)
from events.channels.status import price_of
from events.channels.values import Item, as_data, as_datetime, as_str, require_message_id
from events.vocabulary import Address, Direction, Kind

CHANNEL = "sms"


def inbound(item: Item, channel: str = CHANNEL) -> ParsedEvent:
    """An MO item (renderer MO_JSON_2): text, cleanText, keyword, from, to, receivedAt."""
    message_id = require_message_id(item)
    received_at = as_datetime(item.get("receivedAt"))
    return ParsedEvent(
        kind=Kind.INBOUND,
        channel=channel,
        discriminator="",
        message_id=message_id,
        direction=Direction.INBOUND,
        sub_type="TEXT",
        sender=as_str(item.get("from")),
        recipient=as_str(item.get("to")),
        callback_data=as_str(item.get("callbackData")),
        occurred_at=received_at,
        sent_at=received_at,
        price=price_of(item.get("price")),
        data=as_data(item),
    )


def _delivery(item: Item) -> ParsedEvent:
    return delivery_report(item, CHANNEL)


def _click(doc: Item) -> ParsedEvent:
    return tracking_event(doc, CHANNEL, Kind.CLICK)


def _object(doc: Item) -> ParseResult:
    if is_url_click(doc):
        return each_item(CHANNEL, [doc], _click)
    return ParseResult(events=[unknown_event(CHANNEL, doc, "not a known SMS callback shape")])


parse = results_parser(CHANNEL, report_reader(CHANNEL, inbound), _object)

SPEC = ChannelSpec(
    name=CHANNEL,
    kinds=frozenset({Kind.DELIVERY, Kind.INBOUND, Kind.CLICK}),
    parser=parse,
    auto=Auto(
        objects=(ObjectRow(5, is_url_click, _object, shared=True),),
        items=(
            # SMS v3, MMS v2, Viber and Push v3 reports (and legacy SMS and MMS) look alike.
            ItemRow(16, anything, _delivery, kind=Kind.DELIVERY, shared=True),
            # An inbound item that no chat app and no MMS claims is an SMS.
            ItemRow(24, anything, inbound, kind=Kind.INBOUND),
        ),
        hint=True,
    ),
    reconcile=Reconcile(
        logs=Source("action", "get-sms-message-logs", 120),
        reports=Source("action", "get-sms-delivery-reports", 60),
        inbound=Source("request", "/sms/1/inbox/reports", 60),
        delay=timedelta(minutes=15),
    ),
    send=Send(text="send-sms-message"),
    address=Address.PHONE,
)
