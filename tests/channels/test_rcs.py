"""RCS: reports (and the SMS failover leg), inbound, typing indicators."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.channels.helpers import channel_tests

CHANNEL = "rcs"

CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        "delivery report",
        "rcs/dlr_delivered.json",
        [
            {
                "kind": "delivery",
                "channel": "rcs",
                "price.amount": Decimal("0.005"),
                "data.interactionType": "BASIC_MESSAGE",
                "application_id": "ext-app-001",
            }
        ],
        {"msg-abc123": "delivered"},
    ),
    (
        "undeliverable report in XML",
        "rcs/dlr_failed_unknown_user.xml",
        [{"kind": "delivery", "status.group_id": 2, "error.id": 7002, "error.permanent": True}],
        {"msg-abc123": "undeliverable"},
    ),
    (
        "SMS failover leg joins the SMS message",
        "rcs/dlr_failover_sms_delivered.json",
        [{"kind": "delivery", "channel": "sms", "sender": "InfoSMS"}],
        {},
    ),
    (
        "inbound text with keyword",
        "rcs/inbound_text.json",
        [
            {
                "kind": "inbound",
                "channel": "rcs",
                "sub_type": "TEXT",
                "sender": "385911234567",
                "data.text": "Hello, world!",
                "data.keyword": "START",
            }
        ],
        {"msg-abc123": "received"},
    ),
    (
        "typing indicator",
        "rcs/typing_indicator.json",
        [
            {
                "kind": "typing",
                "sub_type": "TYPING_INDICATOR",
                "sender": "385911234567",
                "occurred_at": datetime(2026, 3, 3, 14, 22, 30, tzinfo=UTC),
            }
        ],
        {},
    ),
]


test_rcs_fixture_parses_to_expected_fields, test_rcs_fixture_is_stored_processed_and_readable = (
    channel_tests(CHANNEL, CASES)
)
