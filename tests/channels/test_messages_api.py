"""Messages API: DELIVERY, SEEN, MO and TYPING; records keep the real channel."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.channels.helpers import channel_tests

CHANNEL = "messages-api"

CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        "delivery of a WhatsApp message",
        "messages-api/dlr_whatsapp.json",
        [
            {
                "kind": "delivery",
                "channel": "whatsapp",
                "sender": "senderNumber",
                "recipient": "41793026727",
                "status.group_id": 3,
                "application_id": "my-application-id",
            }
        ],
        {},
    ),
    (
        "seen",
        "messages-api/seen_whatsapp.json",
        [
            {
                "kind": "seen",
                "channel": "whatsapp",
                "seen_at": datetime(2024, 2, 6, 14, 28, 29, 797000, tzinfo=UTC),
            }
        ],
        {},
    ),
    (
        "MO SMS text with keyword",
        "messages-api/mo_text_with_keyword.json",
        [
            {
                "kind": "inbound",
                "channel": "sms",
                "sub_type": "TEXT",
                "sender": "48123234567",
                "recipient": "48123098765",
                "data.keyword": "KWRD",
            }
        ],
        {},
    ),
    (
        "MO image with caption",
        "messages-api/mo_image_with_caption.json",
        [
            {
                "kind": "inbound",
                "channel": "whatsapp",
                "sub_type": "IMAGE",
                "data.text": "Image caption",
            }
        ],
        {},
    ),
    (
        "MO button reply",
        "messages-api/mo_button.json",
        [{"kind": "inbound", "sub_type": "BUTTON_REPLY", "data.text": "Yes"}],
        {},
    ),
    (
        "MO location",
        "messages-api/mo_location_with_url.json",
        [{"kind": "inbound", "sub_type": "LOCATION"}],
        {},
    ),
    (
        "MO MMS with audio, text and subject parts",
        "messages-api/mo_mms_audio_subject_text.json",
        [{"kind": "inbound", "sub_type": "AUDIO+TEXT+SUBJECT"}],
        {},
    ),
    (
        "MO payment response",
        "messages-api/mo_payment_response.json",
        [{"kind": "inbound", "sub_type": "PAYMENT_RESPONSE"}],
        {},
    ),
    (
        "MO reaction",
        "messages-api/mo_reaction.json",
        [{"kind": "inbound", "sub_type": "REACTION"}],
        {},
    ),
    (
        "typing stopped on Apple Messages for Business",
        "messages-api/typing_stopped.json",
        [{"kind": "typing", "channel": "apple_mb", "sub_type": "TYPING_STOPPED"}],
        {},
    ),
]


(
    test_messages_api_fixture_parses_to_expected_fields,
    test_messages_api_fixture_is_stored_processed_and_readable,
) = channel_tests(CHANNEL, CASES)
