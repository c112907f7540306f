"""SMS: every fixture, its expected fields, and the same fixture through the whole service."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from tests.channels.helpers import channel_tests

PLUS_ONE = timezone(timedelta(hours=1))

CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        "v3 report, two results in one POST",
        "sms/dlr_v3_delivered_batch_of_2.json",
        [
            {
                "kind": "delivery",
                "message_id": "MESSAGE-ID-123-xyz",
                "status.group_id": 3,
                "status.name": "DELIVERED_TO_HANDSET",
                "error.group_name": "OK",
                "sender": "InfoSMS",
                "recipient": "41793026727",
                "bulk_id": "BULK-ID-123-xyz",
                "callback_data": "callbackData",
                "application_id": "marketing-automation-application",
                "entity_id": "promotional-traffic-entity",
                "price.amount": Decimal("0.01"),
                "price.currency": "EUR",
                "done_at": datetime(2019, 11, 9, 16, 0, tzinfo=PLUS_ONE),
            },
            {
                "kind": "delivery",
                "message_id": "12db39c3-7822-4e72-a3ec-c87442c0ffc5",
                "callback_data": None,
            },
        ],
        {"MESSAGE-ID-123-xyz": "delivered", "12db39c3-7822-4e72-a3ec-c87442c0ffc5": "delivered"},
    ),
    (
        "v3 report in XML, same items",
        "sms/dlr_v3_delivered_batch_of_2.xml",
        [
            {
                "kind": "delivery",
                "message_id": "MESSAGE-ID-123-xyz",
                "status.group_id": 3,
                "error.permanent": False,
                "price.amount": Decimal("0.01"),
                "application_id": "marketing-automation-application",
            },
            {"kind": "delivery", "message_id": "12db39c3-7822-4e72-a3ec-c87442c0ffc5"},
        ],
        {"MESSAGE-ID-123-xyz": "delivered"},
    ),
    (
        "v3 undeliverable, error not permanent but the report is final",
        "sms/dlr_v3_undeliverable_absent_subscriber.json",
        [
            {
                "kind": "delivery",
                "message_id": "MSG-UNDELIV-001",
                "status.group_id": 2,
                "error.name": "EC_ABSENT_SUBSCRIBER",
                "error.permanent": False,
            },
        ],
        {"MSG-UNDELIV-001": "undeliverable"},
    ),
    (
        "legacy v1 report: smsCount, top-level ids, error group 'Ok'",
        "sms/dlr_v1_legacy_delivered_batch_of_2.json",
        [
            {
                "kind": "delivery",
                "message_id": "MESSAGE-ID-123-xyz",
                "error.group_name": "Ok",
                "application_id": "marketing-automation-application",
                "entity_id": "promotional-traffic-entity",
                "sender": None,
            },
            {
                "kind": "delivery",
                "message_id": "12db39c3-7822-4e72-a3ec-c87442c0ffc5",
                "application_id": "default",
                "entity_id": None,
            },
        ],
        {"MESSAGE-ID-123-xyz": "delivered"},
    ),
    (
        "legacy report: sentAt without offset is UTC, ten-decimal price stays exact",
        "sms/dlr_v1_legacy_sentAt_without_offset.json",
        [
            {
                "kind": "delivery",
                "message_id": "c9823180-94d4-4ea0-9bf3-ec907e7534a6",
                "sent_at": datetime(2015, 6, 4, 13, 1, 52, 933000, tzinfo=UTC),
                "price.amount": Decimal("0.0001000000"),
            },
        ],
        {"c9823180-94d4-4ea0-9bf3-ec907e7534a6": "delivered"},
    ),
    (
        "legacy XML <reportResponse>",
        "sms/dlr_legacy_report_response.xml",
        [
            {
                "kind": "delivery",
                "message_id": "MESSAGE-ID-123-xyz",
                "error.group_name": "Ok",
                "status.id": 5,
                "callback_data": "callbackData",
            },
            {"kind": "delivery", "message_id": "12db39c3-7822-4e72-a3ec-c87442c0ffc5"},
        ],
        {"12db39c3-7822-4e72-a3ec-c87442c0ffc5": "delivered"},
    ),
    (
        "inbound MO with keyword",
        "sms/inbound_mo_json_2_keyword_quiz.json",
        [
            {
                "kind": "inbound",
                "direction": "inbound",
                "message_id": "817790313235066447",
                "sender": "385916242493",
                "recipient": "385921004026",
                "data.text": "QUIZ Correct answer is Paris",
                "data.keyword": "QUIZ",
                "price.amount": Decimal("0"),
            },
        ],
        {"817790313235066447": "received"},
    ),
    (
        "URL click: not enveloped, sendDateTime in epoch milliseconds",
        "sms/click_url.json",
        [
            {
                "kind": "click",
                "message_id": "a28dd97c-1ffb-4fcf-99f1-0b557ed381da",
                "recipient": "41793026727",
                "data.url": "https://www.google.com",
                "sent_at": datetime(2024, 1, 1, 11, 0, tzinfo=UTC),
            },
        ],
        {"a28dd97c-1ffb-4fcf-99f1-0b557ed381da": "unknown"},
    ),
]


test_sms_fixture_parses_to_expected_fields, test_sms_fixture_is_stored_processed_and_readable = (
    channel_tests("sms", CASES)
)
