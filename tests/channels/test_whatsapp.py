"""WhatsApp: every fixture, its expected fields, and the same fixture through the service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from tests.channels.helpers import channel_tests

MINUS_THREE = timezone(timedelta(hours=-3))
WAMID = "wamid.HBgLMjc4MTMzMjE0ODIVAgAonoIAUsydhfskYyRDdEMjE4Njg3MzlBMDU2NzI4NgA="
FRANK = {"sender": "385919998888", "recipient": "41793026731", "direction": "inbound"}


def inbound(sub_type: str, **extra: Any) -> list[dict[str, Any]]:
    return [{"kind": "inbound", "sub_type": sub_type, "message_id": WAMID, **FRANK, **extra}]


CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        "delivery report: bulkId empty, offset -0300, contact block",
        "whatsapp/dlr_delivered.json",
        [
            {
                "kind": "delivery",
                "message_id": "fb469d73-d362-463f-b30f-1e959b53badc",
                "bulk_id": None,
                "status.group_name": "DELIVERED",
                "recipient": "41793026731",
                "price.amount": Decimal("0.21"),
                "price.currency": "BRL",
                "done_at": datetime(2019, 4, 9, 16, 1, 56, 494000, tzinfo=MINUS_THREE),
                "data.contact.userId": "US.1349120865530274191",
            },
        ],
        {"fb469d73-d362-463f-b30f-1e959b53badc": "delivered"},
    ),
    (
        "seen report",
        "whatsapp/seen.json",
        [
            {
                "kind": "seen",
                "message_id": "1215f543ab19-345f-adbd-12ad31451ed25f35",
                "seen_at": datetime(2018, 12, 12, 11, 21, 58, 251000, tzinfo=UTC),
                "application_id": "example-application-id",
            },
        ],
        {"1215f543ab19-345f-adbd-12ad31451ed25f35": "unknown"},
    ),
    (
        "inbound text",
        "whatsapp/inbound_text.json",
        inbound("TEXT", **{"data.text": "Hello, World!", "callback_data": "callbackData"}),
        {WAMID: "received"},
    ),
    (
        "inbound text from an ad",
        "whatsapp/inbound_text_with_ad_referral.json",
        inbound("TEXT", **{"data.message.referral.sourceType": "AD"}),
        {WAMID: "received"},
    ),
    (
        "inbound image-like document",
        "whatsapp/inbound_document.json",
        inbound("DOCUMENT"),
        {WAMID: "received"},
    ),
    ("inbound audio", "whatsapp/inbound_audio.json", inbound("AUDIO"), {WAMID: "received"}),
    ("inbound voice", "whatsapp/inbound_voice.json", inbound("VOICE"), {WAMID: "received"}),
    ("inbound video", "whatsapp/inbound_video.json", inbound("VIDEO"), {WAMID: "received"}),
    (
        "inbound contact card",
        "whatsapp/inbound_contact.json",
        inbound(
            "CONTACT",
            **{
                "data.message.contacts.0.name.formattedName": "Frank Bipper",
                "data.message.contacts.0.phones.0.waId": "385918889999",
            },
        ),
        {WAMID: "received"},
    ),
    (
        "inbound button reply",
        "whatsapp/inbound_interactive_button_reply.json",
        inbound("INTERACTIVE_BUTTON_REPLY", **{"data.text": "Button reply title"}),
        {WAMID: "received"},
    ),
    (
        "inbound flow reply",
        "whatsapp/inbound_interactive_flow_reply.json",
        inbound("INTERACTIVE_FLOW_REPLY"),
        {WAMID: "received"},
    ),
    (
        "inbound in-thread authentication reply",
        "whatsapp/inbound_interactive_in_thread_authentication_reply.json",
        inbound("INTERACTIVE_IN_THREAD_AUTHENTICATION_REPLY"),
        {WAMID: "received"},
    ),
    (
        "inbound payment acknowledgement",
        "whatsapp/inbound_interactive_payment_acknowledgement.json",
        inbound("INTERACTIVE_PAYMENT_ACKNOWLEDGEMENT"),
        {WAMID: "received"},
    ),
    (
        "inbound payment confirmation",
        "whatsapp/inbound_interactive_payment_confirmation.json",
        inbound("INTERACTIVE_PAYMENT_CONFIRMATION", **{"data.message.totalAmount.value": 299}),
        {WAMID: "received"},
    ),
    (
        "inbound order with a decimal item price",
        "whatsapp/inbound_order.json",
        inbound(
            "ORDER",
            **{
                "data.text": "I like you store!",
                "data.message.productItems": [
                    {
                        "currency": "EUR",
                        "itemPrice": Decimal("1.99"),
                        "productRetailerId": "product-retailer-id",
                        "quantity": 1,
                    }
                ],
            },
        ),
        {WAMID: "received"},
    ),
    (
        "inbound reaction",
        "whatsapp/inbound_reaction.json",
        inbound("REACTION", **{"data.text": "🤓"}),
        {WAMID: "received"},
    ),
    (
        "inbound infected content",
        "whatsapp/inbound_infected_content.json",
        inbound("INFECTED_CONTENT"),
        {WAMID: "received"},
    ),
    (
        "template approved: entityId and applicationId are numbers here",
        "whatsapp/template_approved.json",
        [
            {
                "kind": "template_update",
                "sub_type": "APPROVED",
                "message_id": None,
                "application_id": "1234567",
                "entity_id": "123456",
                "data.messageTemplateName": "template_name",
            }
        ],
        {},
    ),
    (
        "identity change",
        "whatsapp/identity_change.json",
        [
            {
                "kind": "identity_change",
                "sender": "385919998888",
                "recipient": "41793026731",
                "occurred_at": datetime(2022, 1, 18, 23, 23, 9, 206000, tzinfo=UTC),
            }
        ],
        {},
    ),
    (
        "payment notification",
        "whatsapp/payment_notification.json",
        [
            {
                "kind": "payment",
                "sub_type": "CAPTURED",
                "sender": "447860064555",
                "data.content.paymentId": "fd3e847h2",
            }
        ],
        {},
    ),
    (
        "marketing preference (derived fixture)",
        "whatsapp/derived_marketing_preference_stop.json",
        [{"kind": "marketing_preference", "sub_type": "STOP", "sender": "385919998888"}],
        {},
    ),
]


(
    test_whatsapp_fixture_parses_to_expected_fields,
    test_whatsapp_fixture_is_stored_processed_and_readable,
) = channel_tests("whatsapp", CASES)
