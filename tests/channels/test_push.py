"""Mobile push: delivery reports."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.channels.helpers import check_end_to_end, check_parse

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


@pytest.mark.parametrize(
    ("label", "fixture", "expected", "states"), CASES, ids=[c[0] for c in CASES]
)
def test_push_fixture_parses_to_expected_fields(
    label: str, fixture: str, expected: list[dict[str, Any]], states: dict[str, str]
) -> None:
    check_parse(CHANNEL, fixture, expected)


@pytest.mark.parametrize(
    ("label", "fixture", "expected", "states"), CASES, ids=[c[0] for c in CASES]
)
def test_push_fixture_is_stored_processed_and_readable(
    client: Any,
    processor: Any,
    label: str,
    fixture: str,
    expected: list[dict[str, Any]],
    states: dict[str, str],
) -> None:
    check_end_to_end(client, processor, CHANNEL, fixture, expected, states)
