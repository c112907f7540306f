"""Legacy OMNI failover: reports with their channel, seen reports with sendAt."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.channels.helpers import channel_tests

CHANNEL = "omni"

CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        "delivery over WhatsApp",
        "omni/dlr_whatsapp.json",
        [{"kind": "delivery", "channel": "whatsapp", "price.currency": "BRL"}],
        {},
    ),
    (
        "seen report (sendAt, sic)",
        "omni/seen.json",
        [
            {
                "kind": "seen",
                "channel": "omni",
                "sent_at": datetime(2023, 4, 5, 11, 21, 57, 793000, tzinfo=UTC),
            }
        ],
        {"1215f543ab19-345f-adbd-12ad31451ed25f35": "unknown"},
    ),
]


test_omni_fixture_parses_to_expected_fields, test_omni_fixture_is_stored_processed_and_readable = (
    channel_tests(CHANNEL, CASES)
)
