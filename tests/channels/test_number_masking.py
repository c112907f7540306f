"""Number Masking: the callback and the status report."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from tests.channels.helpers import check_end_to_end, check_parse

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


@pytest.mark.parametrize(
    ("label", "fixture", "expected", "states"), CASES, ids=[c[0] for c in CASES]
)
def test_number_masking_fixture_parses_to_expected_fields(
    label: str, fixture: str, expected: list[dict[str, Any]], states: dict[str, str]
) -> None:
    check_parse(CHANNEL, fixture, expected)


@pytest.mark.parametrize(
    ("label", "fixture", "expected", "states"), CASES, ids=[c[0] for c in CASES]
)
def test_number_masking_fixture_is_stored_processed_and_readable(
    client: Any,
    processor: Any,
    label: str,
    fixture: str,
    expected: list[dict[str, Any]],
    states: dict[str, str],
) -> None:
    check_end_to_end(client, processor, CHANNEL, fixture, expected, states)
