"""Number Masking: the status report after a call (masking_status), and the callback that
asks where to connect a call (masking_callback), which the receiver answers from the masking
sessions before it is processed like any other webhook."""

from __future__ import annotations

from events.channels.envelope import each_item, not_known, object_parser
from events.channels.event import ParsedEvent, ParseResult
from events.channels.spec import Auto, ChannelSpec, ObjectRow
from events.channels.status import Price
from events.channels.values import Item, as_datetime, as_decimal, as_str
from events.vocabulary import Direction, Kind

CHANNEL = "number-masking"


def is_callback(doc: Item) -> bool:
    """nmCorrelationId + correlationId, and no action/status (docs/infobip.md, row 3 of the
    decision table)."""
    return (
        "nmCorrelationId" in doc
        and "correlationId" in doc
        and "action" not in doc
        and "status" not in doc
    )


def callback(doc: Item) -> ParsedEvent:
    return ParsedEvent(
        kind=Kind.MASKING_CALLBACK,
        channel=CHANNEL,
        discriminator=f"{doc.get('correlationId')}:{doc.get('dtmfCaptured', False)}",
        message_id=as_str(doc.get("nmCorrelationId")),
        direction=Direction.INBOUND,
        sub_type="DTMF" if doc.get("dtmfCaptured") else "CALL",
        sender=as_str(doc.get("from")),
        recipient=as_str(doc.get("to")),
        data=dict(doc),
    )


def status_report(doc: Item) -> ParsedEvent:
    # Infobip writes these times as "2018-01-01 12:00:00": no offset, read as UTC.
    return ParsedEvent(
        kind=Kind.MASKING_STATUS,
        channel=CHANNEL,
        discriminator=f"{doc.get('correlationId')}:{doc.get('action')}:{doc.get('status')}",
        message_id=as_str(doc.get("nmCorrelationId")),
        sub_type=as_str(doc.get("status")),
        sender=as_str(doc.get("from")),
        recipient=as_str(doc.get("transferTo")) or as_str(doc.get("to")),
        occurred_at=as_datetime(doc.get("answeredTime")) or as_datetime(doc.get("ringingTime")),
        price=Price(as_decimal(doc.get("pricePerSecond")), as_str(doc.get("currency")))
        if doc.get("pricePerSecond") is not None
        else None,
        data=dict(doc),
    )


def _read(doc: Item) -> ParseResult:
    if is_callback(doc):
        return each_item(CHANNEL, [doc], callback)
    if "nmCorrelationId" in doc and "action" in doc and "status" in doc:
        return each_item(CHANNEL, [doc], status_report)
    return not_known(CHANNEL, "Number Masking")(doc)


parse = object_parser(_read)


def _names_a_session(doc: Item) -> bool:
    return "nmCorrelationId" in doc


SPEC = ChannelSpec(
    name=CHANNEL,
    kinds=frozenset({Kind.MASKING_CALLBACK, Kind.MASKING_STATUS}),
    parser=parse,
    auto=Auto(objects=(ObjectRow(3, _names_a_session, _read),)),
    answers_with_instructions=True,
)
