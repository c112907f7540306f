"""WhatsApp: delivery and seen reports, inbound messages of every type, and the account
notifications (template updates, identity changes, payments, marketing preferences)."""

from __future__ import annotations

from events.channels.envelope import each_item, results_parser, unknown_event
from events.channels.event import ParsedEvent, ParseResult
from events.channels.shared import (
    delivery_report,
    integration_type,
    ott_inbound,
    report_reader,
    seen_report,
)
from events.channels.spec import Auto, ChannelSpec, ItemRow, ObjectRow, Send, anything
from events.channels.values import Item, as_data, as_datetime, as_str, fingerprint
from events.vocabulary import Address, Kind

CHANNEL = "whatsapp"


def inbound(item: Item) -> ParsedEvent:
    return ott_inbound(item, CHANNEL)


def template_update(doc: Item) -> ParsedEvent:
    change = doc.get("change") if isinstance(doc.get("change"), dict) else {}
    assert isinstance(change, dict)
    return ParsedEvent(
        kind=Kind.TEMPLATE_UPDATE,
        channel=CHANNEL,
        discriminator=fingerprint(doc),
        sub_type=as_str(change.get("newStatus")) or as_str(change.get("type")),
        # entityId and applicationId are numbers here, strings elsewhere.
        application_id=as_str(doc.get("applicationId")),
        entity_id=as_str(doc.get("entityId")),
        occurred_at=as_datetime(doc.get("timestamp")),
        data=as_data(doc),
    )


def account_notification(doc: Item) -> ParsedEvent:
    """from + content{} + createdAt: identity change, payment or marketing preference."""
    content = doc["content"]
    content_type = as_str(content.get("type"))
    sub_type = content_type
    kind: Kind
    if content_type == "user_identity_changed":
        kind = Kind.IDENTITY_CHANGE
        sender = as_str(content.get("userNumber"))
    elif content_type == "payment":
        kind = Kind.PAYMENT
        sender = as_str(content.get("from"))
        sub_type = as_str(content.get("paymentStatus"))
    elif "notificationMessagesStatus" in content:
        kind = Kind.MARKETING_PREFERENCE
        sender = as_str(content.get("from")) or as_str(content.get("userNumber"))
        sub_type = as_str(content.get("notificationMessagesStatus"))
    else:
        kind = Kind.UNKNOWN
        sender = None
    return ParsedEvent(
        kind=kind,
        channel=CHANNEL,
        discriminator=fingerprint(doc),
        sub_type=sub_type,
        sender=sender,
        recipient=as_str(doc.get("from")),
        occurred_at=as_datetime(doc.get("createdAt")),
        data=as_data(doc),
        note=None if kind is not Kind.UNKNOWN else "content type not recognised",
    )


def _object(doc: Item) -> ParseResult:
    if "messageTemplateId" in doc and isinstance(doc.get("change"), dict):
        return each_item(CHANNEL, [doc], template_update)
    if isinstance(doc.get("content"), dict) and "from" in doc:
        return each_item(CHANNEL, [doc], account_notification)
    return ParseResult(events=[unknown_event(CHANNEL, doc, "not a known WhatsApp callback")])


def _is_notification(doc: Item) -> bool:
    """A template update or an account notification."""
    return "messageTemplateId" in doc or (isinstance(doc.get("content"), dict) and "from" in doc)


def _has_contact(item: Item) -> bool:
    return isinstance(item.get("contact"), dict)


def _is_delivery(item: Item) -> bool:
    """A report with a contact{} block and no sender is WhatsApp's."""
    return _has_contact(item) and "sender" not in item


def _delivery(item: Item) -> ParsedEvent:
    return delivery_report(item, CHANNEL)


def _seen(item: Item) -> ParsedEvent:
    return seen_report(item, CHANNEL)


def _names_whatsapp(item: Item) -> bool:
    return integration_type(item) == CHANNEL


parse = results_parser(CHANNEL, report_reader(CHANNEL, inbound), _object)

SPEC = ChannelSpec(
    name=CHANNEL,
    kinds=frozenset(
        {
            Kind.DELIVERY,
            Kind.SEEN,
            Kind.INBOUND,
            Kind.TEMPLATE_UPDATE,
            Kind.IDENTITY_CHANGE,
            Kind.MARKETING_PREFERENCE,
            Kind.PAYMENT,
        }
    ),
    parser=parse,
    auto=Auto(
        objects=(ObjectRow(7, _is_notification, _object),),
        items=(
            ItemRow(13, _is_delivery, _delivery, kind=Kind.DELIVERY),
            ItemRow(17, _has_contact, _seen, kind=Kind.SEEN),
            ItemRow(19, anything, _seen, kind=Kind.SEEN, shared=True),
            ItemRow(20, _names_whatsapp, inbound, kind=Kind.INBOUND),
        ),
        hint=True,
    ),
    send=Send(text="send-whatsapp-text-message", template="send-whatsapp-template-message"),
    address=Address.PHONE,
)
