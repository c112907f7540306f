"""Mobile push: delivery reports."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.channels.helpers import channel_tests

CHANNEL = "push"

CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        "legacy v1 report",
        "push/dlr_legacy_v1_delivered.json",
        [
            {
                "kind": "delivery",
                "channel": "push",
                "recipient": "385981178",
                "price.amount": Decimal("0.01"),
            }
        ],
        {"ff4804ef-6ab6-4abd-984d-ab3b1387e852": "delivered"},
    ),
]


test_push_fixture_parses_to_expected_fields, test_push_fixture_is_stored_processed_and_readable = (
    channel_tests(CHANNEL, CASES)
)
