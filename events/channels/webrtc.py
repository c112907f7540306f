"""WebRTC call link reports (kind call_link): one object per finished call through a link."""

from __future__ import annotations

from events.channels.envelope import each_item, not_known, object_parser
from events.channels.event import ParsedEvent, ParseResult
from events.channels.spec import Auto, ChannelSpec, ObjectRow
from events.channels.values import Item, as_datetime, as_str, fingerprint
from events.vocabulary import Kind

CHANNEL = "webrtc"


def call_link(doc: Item) -> ParsedEvent:
    details = doc["callDetails"]
    if not isinstance(details, dict):
        raise ValueError("callDetails is not an object")
    caller = details.get("caller") if isinstance(details.get("caller"), dict) else {}
    callee = details.get("callee") if isinstance(details.get("callee"), dict) else {}
    assert isinstance(caller, dict) and isinstance(callee, dict)
    error = doc.get("errorCode") if isinstance(doc.get("errorCode"), dict) else {}
    assert isinstance(error, dict)

    def endpoint(leg: dict[str, object]) -> str | None:
        point = leg.get("endpoint")
        if not isinstance(point, dict):
            return None
        return as_str(point.get("phoneNumber")) or as_str(point.get("identity"))

    return ParsedEvent(
        kind=Kind.CALL_LINK,
        channel=CHANNEL,
        discriminator=as_str(details.get("dialogId")) or fingerprint(doc),
        message_id=as_str(doc.get("callLinkId")),
        sub_type=as_str(error.get("name")),
        sender=endpoint(caller),
        recipient=endpoint(callee),
        occurred_at=as_datetime(caller.get("leaveTime")) or as_datetime(caller.get("startTime")),
        sent_at=as_datetime(caller.get("startTime")),
        data=dict(doc),
    )


def _is_call_link(doc: Item) -> bool:
    return "callLinkId" in doc and isinstance(doc.get("callDetails"), dict)


def _read(doc: Item) -> ParseResult:
    if _is_call_link(doc):
        return each_item(CHANNEL, [doc], call_link)
    return not_known(CHANNEL, "WebRTC")(doc)


parse = object_parser(_read)

SPEC = ChannelSpec(
    name=CHANNEL,
    kinds=frozenset({Kind.CALL_LINK}),
    parser=parse,
    auto=Auto(objects=(ObjectRow(2, _is_call_link, _read),)),
)
