"""Voice messages: delivery reports, current and pre-2020 formats, JSON or XML.

An answered call is DELIVERED (group 3) with error VOICE_ANSWERED, which Infobip marks
permanent: the state comes from the status group, never from error.permanent.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from events.channels.envelope import not_known, results_parser, unknown_event
from events.channels.event import ParsedEvent
from events.channels.shared import delivery_report, result_kind
from events.channels.spec import Auto, ChannelSpec, ItemRow, Reconcile, Send, Source
from events.channels.values import Item, as_datetime, as_decimal
from events.vocabulary import Address, Kind

CHANNEL = "voice"


def report(item: Item) -> ParsedEvent:
    event = delivery_report(item, CHANNEL)
    call = item.get("voiceCall") if isinstance(item.get("voiceCall"), dict) else item
    assert isinstance(call, dict)
    # Current format: voiceCall{startTime, answerTime, endTime, duration}; the deprecated one
    # has the same fields flat, times as epoch milliseconds, and no doneAt in older examples.
    ended = as_datetime(call.get("endTime"))
    duration = as_decimal(call.get("duration"))
    data: dict[str, Any] = dict(item)
    data["call"] = {
        "start_time": _iso(as_datetime(call.get("startTime"))),
        "answer_time": _iso(as_datetime(call.get("answerTime"))),
        "end_time": _iso(ended),
        "duration_seconds": _number(duration),
        "charged_seconds": _number(as_decimal(call.get("chargedDuration"))),
    }
    event.data = data
    if event.done_at is None:
        event.done_at = ended
        event.occurred_at = ended or event.occurred_at
    return event


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _item(item: Item) -> ParsedEvent:
    if result_kind(item) is Kind.DELIVERY:
        return report(item)
    return unknown_event(CHANNEL, item, "voice result has no status")


def _is_report(item: Item) -> bool:
    """A voice report: a voiceCall{}, a price per second, the pre-2020 format's
    dtmfCodesAsJson, or a voice error (ids 5000 to 5999)."""
    price = item.get("price")
    error = item.get("error")
    error_id = error.get("id") if isinstance(error, dict) else None
    return (
        isinstance(item.get("voiceCall"), dict)
        or (isinstance(price, dict) and "pricePerSecond" in price)
        or "dtmfCodesAsJson" in item
        or (isinstance(error_id, int) and 5000 <= error_id < 6000)
    )


parse = results_parser(CHANNEL, _item, not_known(CHANNEL, "voice"))

SPEC = ChannelSpec(
    name=CHANNEL,
    kinds=frozenset({Kind.DELIVERY}),
    parser=parse,
    auto=Auto(items=(ItemRow(11, _is_report, report, kind=Kind.DELIVERY),), hint=True),
    reconcile=Reconcile(
        logs=Source("request", "/tts/3/logs", 60),
        reports=Source("action", "get-voice-delivery-reports", 60),
        delay=timedelta(minutes=30),
    ),
    send=Send(text="send-voice-message-tts"),
    address=Address.PHONE,
)
