"""Voice: current and pre-2020 reports, JSON and XML; answered is delivered."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.channels.helpers import channel_tests

CHANNEL = "voice"

CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        "current format, answered (error permanent but group DELIVERED)",
        "voice/dlr_current_answered.json",
        [
            {
                "kind": "delivery",
                "channel": "voice",
                "status.group_id": 3,
                "error.id": 5000,
                "error.permanent": True,
                "price.amount": Decimal("0.01"),
                "sender": "385333444",
                "data.call.duration_seconds": 10,
                "data.call.charged_seconds": 30,
                "done_at": datetime(2018, 6, 25, 13, 38, 28, 316000, tzinfo=UTC),
            }
        ],
        {"ff4804ef-6ab6-4abd-984d-ab3b1387e852": "delivered"},
    ),
    (
        "pre-2020 format, times in epoch milliseconds",
        "voice/dlr_deprecated_pre_2020_format.json",
        [
            {
                "kind": "delivery",
                "data.call.duration_seconds": 14,
                "data.call.start_time": "2020-04-22T02:18:30+00:00",
                "done_at": datetime(2020, 4, 22, 2, 19, 2, 355000, tzinfo=UTC),
            }
        ],
        {"ff4804ef-6ab6-4abd-984d-ab3b1387e852": "delivered"},
    ),
    (
        "pre-2020 format in XML (nested results, repeated sentAt)",
        "voice/dlr_deprecated_pre_2020_format.xml",
        [
            {
                "kind": "delivery",
                "callback_data": "DLRcallbackdata",
                "error.permanent": True,
                "data.call.duration_seconds": 10,
                "done_at": datetime(2018, 6, 25, 13, 38, 28, 316000, tzinfo=UTC),
            }
        ],
        {"ff4804ef-6ab6-4abd-984d-ab3b1387e852": "delivered"},
    ),
]


(
    test_voice_fixture_parses_to_expected_fields,
    test_voice_fixture_is_stored_processed_and_readable,
) = channel_tests(CHANNEL, CASES)
