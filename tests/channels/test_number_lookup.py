"""Number Lookup results: one lookup record per number."""

from __future__ import annotations

from typing import Any

from tests.channels.helpers import channel_tests

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


(
    test_number_lookup_fixture_parses_to_expected_fields,
    test_number_lookup_fixture_is_stored_processed_and_readable,
) = channel_tests(CHANNEL, CASES)
