"""Number Lookup results: one lookup record per number."""

from __future__ import annotations

from typing import Any

import pytest

from tests.channels.helpers import check_end_to_end, check_parse

CHANNEL = "number-lookup"

CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        "absent subscriber",
        "number-lookup/absent_subscriber_sdk_example.json",
        [
            {
                "kind": "number_lookup",
                "recipient": "41793026727",
                "sub_type": "UNDELIVERABLE",
                "error.name": "EC_ABSENT_SUBSCRIBER",
                "message_id": None,
            }
        ],
        {},
    ),
    (
        "ported",
        "number-lookup/query_response_ported.json",
        [
            {
                "kind": "number_lookup",
                "data.ported": True,
                "data.portedNetwork.networkName": "Sunrise",
            }
        ],
        {},
    ),
    (
        "roaming",
        "number-lookup/query_response_roaming.json",
        [{"kind": "number_lookup", "data.roaming": True}],
        {},
    ),
]


@pytest.mark.parametrize(
    ("label", "fixture", "expected", "states"), CASES, ids=[c[0] for c in CASES]
)
def test_number_lookup_fixture_parses_to_expected_fields(
    label: str, fixture: str, expected: list[dict[str, Any]], states: dict[str, str]
) -> None:
    check_parse(CHANNEL, fixture, expected)


@pytest.mark.parametrize(
    ("label", "fixture", "expected", "states"), CASES, ids=[c[0] for c in CASES]
)
def test_number_lookup_fixture_is_stored_processed_and_readable(
    client: Any,
    processor: Any,
    label: str,
    fixture: str,
    expected: list[dict[str, Any]],
    states: dict[str, str],
) -> None:
    check_end_to_end(client, processor, CHANNEL, fixture, expected, states)
