"""Calls API events: each joins its call's timeline."""

from __future__ import annotations

from typing import Any

from tests.channels.helpers import channel_tests

CHANNEL = "calls"

CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        "call established (verbatim)",
        "calls/call_established.json",
        [
            {
                "kind": "call",
                "sub_type": "CALL_ESTABLISHED",
                "message_id": "123e4567-e89b-12d3-a456-426614174000",
                "sender": "441134960000",
            }
        ],
        {},
    ),
    (
        "call received",
        "calls/derived_call_received.json",
        [{"kind": "call", "sub_type": "CALL_RECEIVED", "direction": "inbound"}],
        {},
    ),
    (
        "call ringing",
        "calls/derived_call_ringing.json",
        [{"kind": "call", "sub_type": "CALL_RINGING"}],
        {},
    ),
    (
        "DTMF captured",
        "calls/derived_dtmf_captured.json",
        [{"kind": "call", "sub_type": "DTMF_CAPTURED", "data.properties.dtmf": "12#"}],
        {},
    ),
    (
        "call finished with its log",
        "calls/derived_call_finished.json",
        [{"kind": "call", "sub_type": "CALL_FINISHED", "recipient": "441134960001"}],
        {},
    ),
    (
        "conference created: keyed by conferenceId",
        "calls/derived_conference_created.json",
        [{"kind": "call", "sub_type": "CONFERENCE_CREATED", "message_id": "conf-1"}],
        {},
    ),
    (
        "dialog established: keyed by dialogId",
        "calls/derived_dialog_established.json",
        [{"kind": "call", "sub_type": "DIALOG_ESTABLISHED", "message_id": "dialog-1"}],
        {},
    ),
    (
        "call failed",
        "calls/derived_call_failed.json",
        [{"kind": "call", "sub_type": "CALL_FAILED", "direction": "outbound"}],
        {},
    ),
]


(
    test_calls_fixture_parses_to_expected_fields,
    test_calls_fixture_is_stored_processed_and_readable,
) = channel_tests(CHANNEL, CASES)
