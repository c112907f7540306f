"""WebRTC call link reports."""

from __future__ import annotations

from typing import Any

from tests.channels.helpers import channel_tests

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


(
    test_webrtc_fixture_parses_to_expected_fields,
    test_webrtc_fixture_is_stored_processed_and_readable,
) = channel_tests(CHANNEL, CASES)
