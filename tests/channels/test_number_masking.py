"""Number Masking: the callback and the status report."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.channels.helpers import channel_tests

CHANNEL = "number-masking"

CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        "callback",
        "number-masking/callback_request.json",
        [
            {
                "kind": "masking_callback",
                "sender": "41793026727",
                "recipient": "41793026731",
                "message_id": "7cb72e4b-cf9f-40b6-9fc4-79588d18a666",
            }
        ],
        {},
    ),
    (
        "status report: times without offset, price per second",
        "number-masking/status_report.json",
        [
            {
                "kind": "masking_status",
                "sub_type": "answered",
                "recipient": "41793026785",
                "occurred_at": datetime(2018, 1, 1, 12, 0, 10, tzinfo=UTC),
                "price.amount": Decimal("0.01"),
                "data.duration": 15,
            }
        ],
        {},
    ),
]


(
    test_number_masking_fixture_parses_to_expected_fields,
    test_number_masking_fixture_is_stored_processed_and_readable,
) = channel_tests(CHANNEL, CASES)
