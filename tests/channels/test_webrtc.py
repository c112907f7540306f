"""WebRTC call link reports."""

from __future__ import annotations

from typing import Any

import pytest

from tests.channels.helpers import check_end_to_end, check_parse

CHANNEL = "webrtc"

CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        "phone call through a link, machine detection",
        "webrtc/call_link_phone_machine_detection.json",
        [
            {
                "kind": "call_link",
                "message_id": "r9wpIY",
                "sub_type": "NORMAL_HANGUP",
                "sender": "44790987654",
                "recipient": "jdoe",
                "data.callDetails.machineDetection": "HUMAN",
            }
        ],
        {},
    ),
]


@pytest.mark.parametrize(
    ("label", "fixture", "expected", "states"), CASES, ids=[c[0] for c in CASES]
)
def test_webrtc_fixture_parses_to_expected_fields(
    label: str, fixture: str, expected: list[dict[str, Any]], states: dict[str, str]
) -> None:
    check_parse(CHANNEL, fixture, expected)


@pytest.mark.parametrize(
    ("label", "fixture", "expected", "states"), CASES, ids=[c[0] for c in CASES]
)
def test_webrtc_fixture_is_stored_processed_and_readable(
    client: Any,
    processor: Any,
    label: str,
    fixture: str,
    expected: list[dict[str, Any]],
    states: dict[str, str],
) -> None:
    check_end_to_end(client, processor, CHANNEL, fixture, expected, states)
