"""Viber and Viber Bot: every fixture, expected fields, end to end."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.channels.helpers import channel_tests

CHANNEL = "viber"

CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        "delivery report",
        "viber/dlr_delivered.json",
        [
            {
                "kind": "delivery",
                "channel": "viber",
                "sender": "441134960000",
                "price.amount": Decimal("0.15"),
                "data.mccMnc": "22801",
            }
        ],
        {"2250be2d4219-3af1-78856-aabe-1362af1edfd2": "delivered"},
    ),
    (
        "Viber Bot delivery report",
        "viber/dlr_viber_bot_delivered.json",
        [{"kind": "delivery", "recipient": "66855538125", "callback_data": None}],
        {"2250be2d4219-3af1-78856-aabe-1362af1edfd2": "delivered"},
    ),
    (
        "seen report",
        "viber/seen.json",
        [{"kind": "seen", "seen_at": datetime(2023, 4, 5, 11, 22, 10, 251000, tzinfo=UTC)}],
        {"1215f543ab19-345f-adbd-12ad31451ed25f35": "unknown"},
    ),
    (
        "inbound file: sender, not from",
        "viber/inbound_file.json",
        [
            {
                "kind": "inbound",
                "sub_type": "FILE",
                "sender": "385912345678",
                "recipient": "givenClient",
                "data.text": "givenFileName",
                "data.message.trackingData": "givenTrackingData",
            }
        ],
        {"1234567890123456789": "received"},
    ),
]


(
    test_viber_fixture_parses_to_expected_fields,
    test_viber_fixture_is_stored_processed_and_readable,
) = channel_tests(CHANNEL, CASES)
