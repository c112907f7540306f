"""Calls API events: one object with a type (CALL_RECEIVED, CALL_RINGING, CALL_ESTABLISHED,
CALL_FINISHED, CALL_FAILED, DTMF_CAPTURED, CONFERENCE_*, DIALOG_*, PARTICIPANT_*, ...).

Each event joins its call's timeline (message_id is the callId, kind "call"); the processor
keeps a call record per callId with its state, duration and hang-up cause.
"""

from __future__ import annotations

from typing import Any

from events.channels.envelope import each_item, not_known, object_parser
from events.channels.event import ParsedEvent, ParseResult
from events.channels.spec import Auto, ChannelSpec, ObjectRow
from events.channels.values import Item, as_datetime, as_str
from events.vocabulary import Direction, Kind

CHANNEL = "calls"


def _props(doc: Item) -> dict[str, Any]:
    props = doc.get("properties")
    return props if isinstance(props, dict) else {}


_DIRECTIONS = frozenset(Direction)


def _direction(source: Item) -> Direction | None:
    """INBOUND or OUTBOUND as Infobip writes it; anything else is no direction."""
    written = (as_str(source.get("direction")) or "").lower()
    return Direction(written) if written in _DIRECTIONS else None


def call_event(doc: Item) -> ParsedEvent:
    event_type = as_str(doc.get("type"))
    if event_type is None:
        raise ValueError("type is missing")
    props = _props(doc)
    call = props.get("call") if isinstance(props.get("call"), dict) else None
    log = props.get("callLog") if isinstance(props.get("callLog"), dict) else None
    source: dict[str, Any] = call or log or props
    key = (
        as_str(doc.get("callId")) or as_str(doc.get("dialogId")) or as_str(doc.get("conferenceId"))
    )
    return ParsedEvent(
        kind=Kind.CALL,
        channel=CHANNEL,
        discriminator=f"{event_type}:{doc.get('timestamp')}",
        message_id=key,
        direction=_direction(source),
        sub_type=event_type,
        sender=as_str(source.get("from")) or as_str(props.get("sender")),
        recipient=as_str(source.get("to")),
        occurred_at=as_datetime(doc.get("timestamp")),
        data=dict(doc),
    )


def _read(doc: Item) -> ParseResult:
    if isinstance(doc.get("type"), str) and any(
        k in doc for k in ("callId", "conferenceId", "dialogId", "timestamp")
    ):
        return each_item(CHANNEL, [doc], call_event)
    return not_known(CHANNEL, "Calls")(doc)


parse = object_parser(_read)


def _is_call_event(doc: Item) -> bool:
    return isinstance(doc.get("type"), str) and any(
        k in doc for k in ("callId", "conferenceId", "dialogId")
    )


SPEC = ChannelSpec(
    name=CHANNEL,
    kinds=frozenset({Kind.CALL}),
    parser=parse,
    auto=Auto(objects=(ObjectRow(1, _is_call_event, _read),)),
)
