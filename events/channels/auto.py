"""One URL for everything (POST /webhooks/auto): FACTS.md's decision table, item by item.

Most bodies name their product by their fields. SMS, MMS, Viber and Push delivery reports (and
WhatsApp/Viber seen reports without a contact block) share one shape: for those the channel
comes from a hint in callbackData ({"channel": "viber"} or "channel=viber"), else the
processor looks for a message already known by that messageId, else the event keeps the first
candidate and says it is uncertain (channel_uncertain, with the candidates in its data).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

from events.channels import (
    calls,
    email,
    messages_api,
    mms,
    number_lookup,
    number_masking,
    rcs,
    sms,
    voice,
    webrtc,
    whatsapp,
)
from events.channels.common import (
    Item,
    ParsedEvent,
    ParseError,
    ParseResult,
    as_str,
    decode_body,
    delivery_report,
    each_item,
    ott_inbound,
    results_of,
    seen_report,
    unknown_event,
)

CHANNEL = "auto"
SHARED_DLR_CHANNELS = ("sms", "mms", "viber", "push")
SHARED_SEEN_CHANNELS = ("whatsapp", "viber")
KNOWN_HINTS = frozenset({"sms", "mms", "whatsapp", "viber", "email", "voice", "push", "rcs"})
_HINT = re.compile(r"(?:^|[;&,\s])channel\s*[=:]\s*([a-zA-Z_-]+)")


def channel_hint(callback_data: Any) -> str | None:
    """The channel named in callbackData, when the sender put one there."""
    text = as_str(callback_data)
    if not text:
        return None
    hint: str | None = None
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            hint = as_str(doc.get("channel"))
    if hint is None:
        match = _HINT.search(text)
        hint = match.group(1) if match else None
    hint = hint.lower() if hint else None
    return hint if hint in KNOWN_HINTS else None


def _uncertain(event: ParsedEvent, candidates: tuple[str, ...], item: Item) -> ParsedEvent:
    """Still uncertain here: the processor first looks for the message already known by this
    id, then takes the callbackData hint, and only then leaves the channel uncertain."""
    data = dict(event.data)
    data["channel_candidates"] = list(candidates)
    hint = channel_hint(item.get("callbackData"))
    if hint is not None:
        data["channel_hint"] = hint
    return dataclasses.replace(event, channel=candidates[0], channel_uncertain=True, data=data)


def _delivery(item: Item) -> ParsedEvent:
    """FACTS.md a.3: which product a delivery report item comes from."""
    price = item.get("price") if isinstance(item.get("price"), dict) else {}
    assert isinstance(price, dict)
    error = item.get("error") if isinstance(item.get("error"), dict) else {}
    assert isinstance(error, dict)
    error_id = error.get("id")
    if (
        isinstance(item.get("voiceCall"), dict)
        or "pricePerSecond" in price
        or "dtmfCodesAsJson" in item
        or (isinstance(error_id, int) and 5000 <= error_id < 6000)
    ):
        return voice.report(item)
    to = as_str(item.get("to")) or ""
    if "@" in to or any(k in item for k in ("browserLink", "sendingIp", "smtp")):
        return delivery_report(item, "email")
    if isinstance(item.get("contact"), dict) and "sender" not in item:
        return delivery_report(item, "whatsapp")
    if "interactionType" in item or "conversation" in item or "trafficType" in price:
        leg = (as_str(item.get("channel")) or "rcs").lower()
        return delivery_report(item, "sms" if leg == "sms" else "rcs")
    if "channel" in item and "event" not in item:
        return delivery_report(item, (as_str(item.get("channel")) or "omni").lower())
    event = delivery_report(item, SHARED_DLR_CHANNELS[0])
    # Legacy SMS v1/v2 and legacy MMS v1 share a shape too: still uncertain.
    return _uncertain(event, SHARED_DLR_CHANNELS, item)


def _seen(item: Item) -> ParsedEvent:
    if isinstance(item.get("contact"), dict):
        return seen_report(item, "whatsapp")
    if "sendAt" in item:  # OMNI's misspelling
        return seen_report(item, "omni")
    return _uncertain(seen_report(item, SHARED_SEEN_CHANNELS[0]), SHARED_SEEN_CHANNELS, item)


def _inbound(item: Item) -> ParsedEvent:
    integration = (as_str(item.get("integrationType")) or "").lower()
    if integration in ("whatsapp", "viber", "rcs"):
        return ott_inbound(item, integration)
    if isinstance(item.get("message"), list):
        return mms.inbound(item)
    return sms.inbound(item)


def _item(item: Item) -> ParsedEvent:
    event = item.get("event")
    if isinstance(event, str) and "channel" in item:
        return messages_api.read_item(item)
    if isinstance(event, dict):
        return rcs.typing(item)
    if any(k in item for k in ("originalNetwork", "ported", "roaming", "imsi", "servingMSC")):
        return number_lookup.lookup(item)
    if isinstance(item.get("status"), dict):
        return _delivery(item)
    if "seenAt" in item:
        return _seen(item)
    if "receivedAt" in item:
        return _inbound(item)
    return unknown_event(CHANNEL, item, "no row of the decision table matches this item")


def _single(doc: Item, body: bytes, content_type: str | None) -> ParseResult:
    """Bodies that are one object, not a results[] envelope (decision table rows 1 to 10)."""
    if isinstance(doc.get("type"), str) and any(
        k in doc for k in ("callId", "conferenceId", "dialogId")
    ):
        return calls.parse(body, content_type)
    if "callLinkId" in doc and isinstance(doc.get("callDetails"), dict):
        return webrtc.parse(body, content_type)
    if "nmCorrelationId" in doc:
        return number_masking.parse(body, content_type)
    notification = as_str(doc.get("notificationType"))
    if notification in email.TRACKING_KINDS and "domain" in doc:
        return email.parse(body, content_type)
    if notification == "CLICKED":
        result = sms.parse(body, content_type)
        return ParseResult(
            events=[_uncertain(e, ("sms", "mms"), doc) for e in result.events],
            item_errors=result.item_errors,
        )
    if isinstance(doc.get("eventDetails"), dict) or "spfCheck" in doc:
        return email.parse(body, content_type)
    if "messageTemplateId" in doc or (isinstance(doc.get("content"), dict) and "from" in doc):
        return whatsapp.parse(body, content_type)
    return ParseResult(events=[unknown_event(CHANNEL, doc, "no row of the decision table matches")])


def parse(body: bytes, content_type: str | None) -> ParseResult:
    if content_type and content_type.lower().startswith("multipart/"):
        return email.parse(body, content_type)
    doc = decode_body(body, content_type)
    items = results_of(doc)
    if items is not None:
        return each_item(CHANNEL, items, _item)
    if not isinstance(doc, dict):
        raise ParseError(f"body is a JSON {type(doc).__name__}, not an object")
    return _single(doc, body, content_type)
