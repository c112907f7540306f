"""The format traps (docs/infobip.md, Traps in the payloads), and parsers that never fail on
arbitrary input."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.channels.event import ParseError
from events.channels.registry import PARSERS
from events.channels.values import as_datetime, as_int, as_str
from tests.conftest import fixture_bytes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-11-09T16:00:00.000+0000", datetime(2019, 11, 9, 16, 0, tzinfo=UTC)),
        (
            "2019-04-09T16:01:56.494-0300",
            datetime(2019, 4, 9, 16, 1, 56, 494000, tzinfo=timezone(timedelta(hours=-3))),
        ),
        ("2026-03-03T14:22:35Z", datetime(2026, 3, 3, 14, 22, 35, tzinfo=UTC)),
        ("2018-01-01 12:00:00", datetime(2018, 1, 1, 12, 0, tzinfo=UTC)),
        ("2015-06-04T13:01:52.933", datetime(2015, 6, 4, 13, 1, 52, 933000, tzinfo=UTC)),
        (1704106800000, datetime(2024, 1, 1, 11, 0, tzinfo=UTC)),
        ("1704106800000", datetime(2024, 1, 1, 11, 0, tzinfo=UTC)),
        ("null", None),
        ("", None),
        ("yesterday", None),
        (None, None),
    ],
)
def test_every_infobip_timestamp_format_becomes_an_aware_datetime(text: Any, expected: Any) -> None:
    assert as_datetime(text) == expected


def test_string_null_is_no_value_and_numbers_become_text() -> None:
    assert as_str("null") is None
    assert as_str("NULL") is None
    assert as_str(1599542877689) == "1599542877689"
    assert as_str(Decimal("0.5")) == "0.5"
    assert as_int("3") == 3
    assert as_int("3.5") is None


def report(**fields: Any) -> bytes:
    item = {
        "messageId": "m-1",
        "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"},
    }
    item.update(fields)
    return json.dumps({"results": [item]}).encode()


def test_delivery_report_with_only_the_required_fields_parses() -> None:
    result = PARSERS["sms"](report(), "application/json")
    event = result.events[0]
    assert (event.kind, event.error, event.price, event.done_at, event.callback_data) == (
        "delivery",
        None,
        None,
        None,
        None,
    )


def test_mccmnc_string_null_and_numeric_message_id_are_tolerated() -> None:
    body = report(
        messageId=1599542877689, mccMnc="null", price={"pricePerMessage": 0, "currency": "EUR"}
    )
    event = PARSERS["sms"](body, "application/json").events[0]
    assert event.message_id == "1599542877689"
    assert event.price is not None and event.price.amount == Decimal("0")


def test_email_tracking_with_numeric_message_id_is_read_as_text() -> None:
    doc = json.loads(fixture_bytes("email/tracking_opened.json"))
    doc["messageId"] = 1599542877689
    event = PARSERS["email"](json.dumps(doc).encode(), "application/json").events[0]
    assert (event.kind, event.message_id) == ("open", "1599542877689")


def test_inbound_email_form_fields_sent_as_json_are_read_too() -> None:
    body = fixture_bytes("email/inbound_form_fields.json")
    event = PARSERS["email"](body, "application/json").events[0]
    assert (event.kind, event.message_id, event.sender) == (
        "inbound",
        "6tood98mthy5cqdf5ixx",
        "johndoe@test.com",
    )
    assert [a["size"] for a in event.data["attachments"]] == [12, 18]


@pytest.mark.parametrize(
    "body",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b"<r>&b;</r>",
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
    ],
    ids=["entity-expansion", "external-entity"],
)
def test_xml_bombs_and_external_entities_are_refused(body: bytes) -> None:
    with pytest.raises(ParseError, match="refused for safety"):
        PARSERS["sms"](body, "application/xml")


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "results",
                    "messageId",
                    "status",
                    "error",
                    "price",
                    "receivedAt",
                    "seenAt",
                    "doneAt",
                    "notificationType",
                    "content",
                    "from",
                    "message",
                    "eventDetails",
                    "groupId",
                    "change",
                    "messageTemplateId",
                    "type",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=6,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(doc=JSON, channel=st.sampled_from(sorted(PARSERS)))
def test_parsers_never_crash_on_arbitrary_json(doc: Any, channel: str) -> None:
    """Bad input gives a ParseError (kept as failed) or unknown events, never a crash."""
    try:
        result = PARSERS[channel](json.dumps(doc).encode(), "application/json")
    except ParseError:
        return
    for event in result.events:
        assert event.kind
        assert len(event.dedupe_key()) == 32


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=200),
    channel=st.sampled_from(sorted(PARSERS)),
    content_type=st.sampled_from(
        ["application/json", "application/xml", None, "multipart/form-data; boundary=x"]
    ),
)
def test_parsers_never_crash_on_arbitrary_bytes(
    body: bytes, channel: str, content_type: str | None
) -> None:
    with contextlib.suppress(ParseError):
        PARSERS[channel](body, content_type)
