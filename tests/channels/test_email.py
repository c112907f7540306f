"""Email: every fixture, its expected fields, and the same fixture through the service."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tests.channels.helpers import channel_tests

TRACKED = "14b734recsf69n8zkao5"
TRACKING = {
    "message_id": TRACKED,
    "recipient": "john.doe@some-domain.com",
    "bulk_id": "ikzzmbhu6223bxkhmyrj",
    "direction": "outbound",
    "sent_at": datetime(2024, 1, 1, 11, 0, tzinfo=UTC),
}

CASES: list[tuple[str, str, list[dict[str, Any]], dict[str, str]]] = [
    (
        "delivery report: currency UNKNOWN, smsCount (sic), smtp response",
        "email/dlr_delivered.json",
        [
            {
                "kind": "delivery",
                "message_id": "hgtesn8bcmc71pujp92d",
                "recipient": "john.doe@gmail.com",
                "status.group_id": 3,
                "price.amount": Decimal("0"),
                "price.currency": "UNKNOWN",
                "data.smtp.response": "250 2.0.0 OK",
                "application_id": "marketing-automation-application",
                "done_at": datetime(2020, 9, 8, 5, 27, 59, 256000, tzinfo=UTC),
            }
        ],
        {"hgtesn8bcmc71pujp92d": "delivered"},
    ),
    (
        "opened",
        "email/tracking_opened.json",
        [{"kind": "open", "sub_type": "OPENED", **TRACKING}],
        {TRACKED: "unknown"},
    ),
    (
        "clicked (example has city and country swapped, kept verbatim)",
        "email/tracking_clicked.json",
        [
            {
                "kind": "click",
                "data.url": "https://www.somelink.com",
                "data.geoLocation.city": "United States",
                **TRACKING,
            }
        ],
        {TRACKED: "unknown"},
    ),
    (
        "unsubscribed",
        "email/tracking_unsubscribed.json",
        [{"kind": "unsubscribe", **TRACKING}],
        {TRACKED: "unknown"},
    ),
    (
        "complained (derived fixture)",
        "email/derived_tracking_complained.json",
        [{"kind": "complaint", "sub_type": "COMPLAINED", **TRACKING}],
        {TRACKED: "unknown"},
    ),
    (
        "late bounce alone turns the message undeliverable",
        "email/tracking_late_bounce.json",
        [{"kind": "late_bounce", "sender": "noreply@some-domain.com", **TRACKING}],
        {TRACKED: "undeliverable"},
    ),
    (
        "platform event: high bounce rate block",
        "email/platform_high_bounce_rate_block.json",
        [
            {
                "kind": "email_platform",
                "sub_type": "HIGH_BOUNCE_RATE_BLOCKED",
                "message_id": None,
                "occurred_at": datetime(2026, 1, 1, 23, 0, tzinfo=UTC),
                "data.eventDetails.bounceRate": Decimal("6.6"),
            }
        ],
        {},
    ),
    (
        "inbound email as multipart/form-data (derived fixture)",
        "email/derived_inbound_multipart.bin",
        [
            {
                "kind": "inbound",
                "message_id": "6tood98mthy5cqdf5ixx",
                "direction": "inbound",
                "sender": "johndoe@test.com",
                "recipient": "recipient@example.com",
                "data.subject": "Subject of the email",
                "data.text": "Hello world!",
                "data.spfCheck": "pass",
                "data.dkimCheck.result": "pass",
                "data.attachments": [
                    {
                        "field": "attachment1",
                        "filename": "helloworld.txt",
                        "content_type": "text/plain",
                        "size": 12,
                    },
                    {
                        "field": "attachment2",
                        "filename": "helloworld.pdf",
                        "content_type": "application/pdf",
                        "size": 18,
                    },
                ],
            }
        ],
        {"6tood98mthy5cqdf5ixx": "received"},
    ),
]


(
    test_email_fixture_parses_to_expected_fields,
    test_email_fixture_is_stored_processed_and_readable,
) = channel_tests("email", CASES)


def test_email_late_bounce_after_delivery_turns_message_undeliverable(
    client: Any, processor: Any
) -> None:
    report = (
        b'{"results":[{"messageId":"' + TRACKED.encode() + b'","to":"john.doe@some-domain.com",'
        b'"status":{"groupId":3,"groupName":"DELIVERED","id":5,"name":"DELIVERED_TO_HANDSET"},'
        b'"doneAt":"2024-01-01T11:00:01.000+0000"}]}'
    )
    from tests.conftest import drain, fixture_bytes, post

    assert post(client, "email", report).status_code == 200
    drain(processor)
    assert client.get(f"/v1/messages/{TRACKED}").json()["state"] == "delivered"
    assert (
        post(client, "email", fixture_bytes("email/tracking_late_bounce.json")).status_code == 200
    )
    drain(processor)
    message = client.get(f"/v1/messages/{TRACKED}").json()
    assert message["state"] == "undeliverable"
    assert [e["kind"] for e in message["events"]] == ["delivery", "late_bounce"]
