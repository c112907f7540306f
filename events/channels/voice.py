"""Voice messages: delivery reports, current and pre-2020 formats, JSON or XML.

An answered call is DELIVERED (group 3) with error VOICE_ANSWERED, which Infobip marks
permanent: the state comes from the status group, never from error.permanent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from events.channels.common import (
    Item,
    ParsedEvent,
    as_datetime,
    as_decimal,
    delivery_report,
    not_known,
    result_kind,
    results_parser,
    unknown_event,
)

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
    if result_kind(item) == "delivery":
        return report(item)
    return unknown_event(CHANNEL, item, "voice result has no status")


parse = results_parser(CHANNEL, _item, not_known(CHANNEL, "voice"))
