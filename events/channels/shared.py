"""Readers of the item shapes several products share: the delivery report, the seen report, the
tracking notification and the chat-app inbound message, and the usual results[] item reader
that tells the first three kinds apart by their fields."""

from __future__ import annotations

from collections.abc import Callable

from events.channels.envelope import unknown_event
from events.channels.event import ParsedEvent
from events.channels.status import error_of, price_of, status_of
from events.channels.values import (
    Item,
    as_data,
    as_datetime,
    as_str,
    fingerprint,
    platform_ids,
    require_message_id,
)
from events.vocabulary import Direction, Kind

# Bound once: on Python 3.11 reading an enum member off its class goes through EnumType's
# __getattr__ hook, and these are read for every item.
_DELIVERY, _SEEN, _INBOUND = Kind.DELIVERY, Kind.SEEN, Kind.INBOUND
_TO_US, _FROM_US = Direction.INBOUND, Direction.OUTBOUND


def delivery_report(item: Item, channel: str) -> ParsedEvent:
    """A delivery report item of the shared shape (SMS v3 and legacy, MMS, Viber, WhatsApp,
    Push, Email, RCS): results[] of messageId, to, sender/from, status, error, price, ..."""
    message_id = require_message_id(item)
    status = status_of(item.get("status"))
    if status is None:
        raise ValueError("status is missing")
    application_id, entity_id = platform_ids(item)
    done_at = as_datetime(item.get("doneAt"))
    sent_at = as_datetime(item.get("sentAt"))
    return ParsedEvent(
        kind=_DELIVERY,
        channel=channel,
        discriminator=f"{status.group_id}:{status.id}:{status.name}",
        message_id=message_id,
        direction=_FROM_US,
        sub_type=status.name,
        sender=as_str(item.get("sender")) or as_str(item.get("from")),
        recipient=as_str(item.get("to")),
        bulk_id=as_str(item.get("bulkId")),
        callback_data=as_str(item.get("callbackData")),
        application_id=application_id,
        entity_id=entity_id,
        occurred_at=done_at or sent_at,
        sent_at=sent_at,
        done_at=done_at,
        status=status,
        error=error_of(item.get("error")),
        price=price_of(item.get("price")),
        data=as_data(item),
    )


def seen_report(item: Item, channel: str) -> ParsedEvent:
    message_id = require_message_id(item)
    seen_at = as_datetime(item.get("seenAt"))
    application_id, entity_id = platform_ids(item)
    return ParsedEvent(
        kind=_SEEN,
        channel=channel,
        discriminator="seen",
        message_id=message_id,
        direction=_FROM_US,
        # A seen report's from/to are the business (from) and the user (to).
        sender=as_str(item.get("from")) or as_str(item.get("sender")),
        recipient=as_str(item.get("to")),
        application_id=application_id,
        entity_id=entity_id,
        occurred_at=seen_at,
        # OMNI legacy misspells sentAt as sendAt.
        sent_at=as_datetime(item.get("sentAt")) or as_datetime(item.get("sendAt")),
        seen_at=seen_at,
        data=as_data(item),
    )


def tracking_event(item: Item, channel: str, kind: Kind) -> ParsedEvent:
    """Click/open/unsubscribe/complaint/late-bounce notifications (one object, no envelope)."""
    message_id = require_message_id(item)
    event_id = as_str(item.get("eventId"))
    return ParsedEvent(
        kind=kind,
        channel=channel,
        # Infobip's examples reuse one eventId across kinds, so the kind is part of the key.
        discriminator=event_id or fingerprint(item),
        message_id=message_id,
        direction=_FROM_US,
        sub_type=as_str(item.get("notificationType")),
        sender=as_str(item.get("sender")),
        recipient=as_str(item.get("recipient")),
        bulk_id=as_str(item.get("bulkId")),
        callback_data=as_str(item.get("callbackData")),
        application_id=as_str(item.get("applicationId")),
        entity_id=as_str(item.get("entityId")),
        # sendDateTime is when the message was sent (epoch ms), not when it was clicked.
        sent_at=as_datetime(item.get("sendDateTime")),
        data=as_data(item),
    )


def result_kind(item: Item) -> Kind | None:
    """Which kind an item of results[] is, by its fields (docs/infobip.md, the decision table
    of /webhooks/auto)."""
    if isinstance(item.get("status"), dict):
        return _DELIVERY
    if "seenAt" in item:
        return _SEEN
    if "receivedAt" in item:
        return _INBOUND
    return None


# Where the human-readable text of each chat-app inbound type lives (renderer MO_OTT_CONTACT:
# WhatsApp, Viber, RCS).
_TEXT_FIELDS = ("text", "caption", "title", "emoji", "payload", "name", "address", "fileName")


def _message_text(message: Item) -> str | None:
    for name in _TEXT_FIELDS:
        value = as_str(message.get(name))
        if value:
            return value
    return None


def ott_inbound(item: Item, channel: str) -> ParsedEvent:
    """A chat-app inbound item: message{type, ...}; WhatsApp says from, Viber and RCS sender."""
    message_id = require_message_id(item)
    message = item.get("message")
    if not isinstance(message, dict):
        raise ValueError("message is missing")
    received_at = as_datetime(item.get("receivedAt"))
    data = dict(item)
    text = _message_text(message)
    if text is not None:
        data["text"] = text
    application_id, entity_id = platform_ids(item)
    return ParsedEvent(
        kind=_INBOUND,
        channel=channel,
        # Inbound ids are unique per message; the type guards against ids reused across types.
        discriminator=as_str(message.get("type")) or "",
        message_id=message_id,
        direction=_TO_US,
        sub_type=as_str(message.get("type")),
        sender=as_str(item.get("from")) or as_str(item.get("sender")),
        recipient=as_str(item.get("to")),
        callback_data=as_str(item.get("callbackData")),
        application_id=application_id,
        entity_id=entity_id,
        occurred_at=received_at,
        sent_at=received_at,
        price=price_of(item.get("price")),
        data=data,
    )


def report_reader(
    channel: str, inbound: Callable[[Item], ParsedEvent] | None = None
) -> Callable[[Item], ParsedEvent]:
    """The usual item reader of a results[] callback: a delivery report, a seen report, or
    (when the product has one) an inbound message, told apart by their fields."""

    def read(item: Item) -> ParsedEvent:
        kind = result_kind(item)
        if kind is _DELIVERY:
            return delivery_report(item, channel)
        if kind is _SEEN:
            return seen_report(item, channel)
        if kind is _INBOUND and inbound is not None:
            return inbound(item)
        return unknown_event(channel, item, "item has no status, seenAt or receivedAt")

    return read


def is_url_click(doc: Item) -> bool:
    """A URL click notification (notificationType CLICKED). Email's say `domain` too; SMS and
    MMS ones are alike, so /webhooks/auto cannot tell those two apart."""
    return doc.get("notificationType") == "CLICKED"


def integration_type(item: Item) -> str:
    """The chat app an inbound item names in integrationType (lower case), or "" (the channel
    webhooks leave it out: their path says it)."""
    return (as_str(item.get("integrationType")) or "").lower()
