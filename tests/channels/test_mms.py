"""MMS: every fixture, its expected fields, and the same fixture through the service."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.channels.helpers import channel_tests

CHANNEL = "mms"

CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        "v2 report",
        "mms/dlr_v2_delivery_report.json",
        [
            {
                "kind": "delivery",
                "channel": "mms",
                "message_id": "43u2ih-6453jbh-897kfs90u2nj",
                "sender": "441134960000",
                "price.amount": Decimal("1"),
                "status.group_id": 3,
            }
        ],
        {"43u2ih-6453jbh-897kfs90u2nj": "delivered"},
    ),
    (
        "v2 report in XML",
        "mms/dlr_v2_delivery_report.xml",
        [
            {
                "kind": "delivery",
                "message_id": "43u2ih-6453jbh-897kfs90u2nj",
                "status.id": 5,
                "done_at": datetime(2026, 7, 7, 6, 32, 15, 101000, tzinfo=UTC),
            }
        ],
        {"43u2ih-6453jbh-897kfs90u2nj": "delivered"},
    ),
    (
        "legacy v1 report, two results",
        "mms/dlr_v1_legacy_report_batch_of_2.json",
        [
            {"kind": "delivery", "application_id": "my-application-id"},
            {"kind": "delivery", "message_id": "12db39c3-7822-4e72-a3ec-c87442c0ffc5"},
        ],
        {"45db39c3-7822-4e72-a3ec-c87442c0ffz9": "delivered"},
    ),
    (
        "inbound, multi-part, part of a group",
        "mms/inbound_part_of_group.json",
        [
            {
                "kind": "inbound",
                "sub_type": "GROUP",
                "sender": "41793026727",
                "recipient": "25256",
                "data.text": "This is message text",
                "data.part_types": ["image/jpeg", "text/plain"],
            }
        ],
        {"817790313235066447": "received"},
    ),
    (
        "URL click",
        "mms/click_url.json",
        [{"kind": "click", "data.url": "https://www.google.com"}],
        {"a28dd97c-1ffb-4fcf-99f1-0b557ed381da": "unknown"},
    ),
]


test_mms_fixture_parses_to_expected_fields, test_mms_fixture_is_stored_processed_and_readable = (
    channel_tests(CHANNEL, CASES)
)
