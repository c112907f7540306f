"""Legacy OMNI failover: reports with their channel, seen reports with sendAt."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.channels.helpers import check_end_to_end, check_parse

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


@pytest.mark.parametrize(
    ("label", "fixture", "expected", "states"), CASES, ids=[c[0] for c in CASES]
)
def test_omni_fixture_parses_to_expected_fields(
    label: str, fixture: str, expected: list[dict[str, Any]], states: dict[str, str]
) -> None:
    check_parse(CHANNEL, fixture, expected)


@pytest.mark.parametrize(
    ("label", "fixture", "expected", "states"), CASES, ids=[c[0] for c in CASES]
)
def test_omni_fixture_is_stored_processed_and_readable(
    client: Any,
    processor: Any,
    label: str,
    fixture: str,
    expected: list[dict[str, Any]],
    states: dict[str, str],
) -> None:
    check_end_to_end(client, processor, CHANNEL, fixture, expected, states)
