"""Every condition, table-driven: a rules snippet, the facts of an event, and whether it holds."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from events.rules.engine import Facts, History, matches
from events.rules.load import parse_rules

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday, 12:00 UTC (13:00 in Paris)

BASE: dict[str, Any] = {
    "channel": "sms",
    "kind": "inbound",
    "direction": "inbound",
    "state": "received",
    "sender": "41793026727",
    "recipient": "447860099299",
    "text": "PRICE please",
    "occurred_at": NOW - timedelta(minutes=5),
}


def holds(
    when: str,
    facts: dict[str, Any],
    *,
    now: datetime = NOW,
    history: History | None = None,
    own: str = '["447860099299"]',
) -> bool:
    data = tomllib.loads(
        f"own_numbers = {own}\n[[rules]]\nname = 't'\nwhen = {{ {when} }}\n"
        'do = [{ type = "tag", tags = ["x"] }]\n'
    )
    rules = parse_rules(data)
    return matches(
        rules.rules[0].when, Facts(**{**BASE, **facts}), rules, history or History(), now
    )


CASES: list[tuple[str, str, dict[str, Any], bool]] = [
    # channel, kind, direction, state
    ("channel one of", 'channel = ["sms", "whatsapp"]', {}, True),
    ("channel not in", 'channel = "email"', {}, False),
    ("kind", 'kind = "inbound"', {}, True),
    ("kind not", 'kind = "delivery"', {}, False),
    ("direction", 'direction = "inbound"', {}, True),
    ("direction not", 'direction = "outbound"', {}, False),
    ("state", 'state = "undeliverable"', {"state": "undeliverable"}, True),
    ("state not", 'state = ["undeliverable", "rejected"]', {"state": "delivered"}, False),
    # Infobip status and error
    (
        "status group, any case",
        'status_group = "undeliverable"',
        {"status_group": "UNDELIVERABLE"},
        True,
    ),
    ("status name", 'status_name = "EXPIRED_EXPIRED"', {"status_name": "EXPIRED_EXPIRED"}, True),
    ("status group not", 'status_group = "DELIVERED"', {"status_group": "UNDELIVERABLE"}, False),
    ("error group", 'error_group = "HANDSET_ERRORS"', {"error_group": "HANDSET_ERRORS"}, True),
    (
        "error name",
        'error_name = "EC_ABSENT_SUBSCRIBER"',
        {"error_name": "EC_ABSENT_SUBSCRIBER"},
        True,
    ),
    ("permanent", "permanent = true", {"permanent": True}, True),
    ("permanent not", "permanent = true", {"permanent": False}, False),
    ("permanent unknown", "permanent = false", {"permanent": None}, False),
    # keywords: first word, only word, contains, regex; folding
    ("first word", 'first_word = ["price"]', {}, True),
    ("first word, case and punctuation", 'first_word = ["price"]', {"text": "Price?"}, True),
    ("first word, accents", 'first_word = ["price"]', {"text": "PRÍCE"}, True),
    ("first word, full width", 'first_word = ["price"]', {"text": "ＰＲＩＣＥ"}, True),
    ("first word, look-alikes", 'first_word = ["price"]', {"text": "PR1CE"}, True),
    ("first word, Cyrillic look-alikes", 'first_word = ["stop"]', {"text": "ѕтор now"}, True),
    ("first word written with accents", 'first_word = ["CAFÉ"]', {"text": "cafe"}, True),
    ("not the first word", 'first_word = ["price"]', {"text": "what price"}, False),
    ("not inside a word", 'first_word = ["price"]', {"text": "priceless"}, False),
    ("no text", 'first_word = ["price"]', {"text": None}, False),
    ("only word", 'only_word = ["yes"]', {"text": " Yes! "}, True),
    ("only word, more words", 'only_word = ["yes"]', {"text": "yes please"}, False),
    (
        "contains a phrase",
        'contains = ["opening hours"]',
        {"text": "What are your Opening  Hours?"},
        True,
    ),
    ("contains whole words only", 'contains = ["hour"]', {"text": "opening hours"}, False),
    ("contains, none", 'contains = ["refund"]', {}, False),
    (
        "regex on folded text",
        'regex = "order\\\\s+#?\\\\d{4,}"',
        {"text": "ORDER #12345 late"},
        True,
    ),
    ("regex no match", 'regex = "^order"', {"text": "my order"}, False),
    # sender and recipient, own numbers
    ("sender, written with +", 'sender = ["+41 79 302 67 27"]', {}, True),
    ("sender wildcard", 'sender = ["4179*"]', {}, True),
    ("sender not", 'sender = ["4178*"]', {}, False),
    ("recipient", 'recipient = "447860099299"', {}, True),
    ("recipient is ours", "recipient_is_own = true", {}, True),
    ("sender is ours", "sender_is_own = true", {}, False),
    ("sender is not ours", "sender_is_own = false", {}, True),
    ("sender is ours: a loop", "sender_is_own = true", {"sender": "+447860099299"}, True),
    # callbackData, application and entity
    ("callbackData", 'callback_data = "order-7"', {"callback_data": "order-7"}, True),
    (
        "callbackData, case matters",
        'callback_data = "order-7"',
        {"callback_data": "ORDER-7"},
        False,
    ),
    (
        "callbackData prefix",
        'callback_data_prefix = ["order-"]',
        {"callback_data": "order-7"},
        True,
    ),
    (
        "callbackData regex",
        'callback_data_regex = "^cmp-\\\\d+$"',
        {"callback_data": "cmp-12"},
        True,
    ),
    ("callbackData missing", 'callback_data_prefix = ["order-"]', {}, False),
    ("application id", 'application_id = ["shop"]', {"application_id": "shop"}, True),
    ("entity id", 'entity_id = ["eu"]', {"entity_id": "us"}, False),
    # hours (NOW is Friday 13:00 in Paris)
    (
        "within business hours",
        'within_hours = { start = "09:00", end = "17:00", tz = "Europe/Paris", days = "mon-fri" }',
        {},
        True,
    ),
    (
        "business hours, not on this day",
        'within_hours = { start = "09:00", end = "17:00", tz = "Europe/Paris", days = "sat,sun" }',
        {},
        False,
    ),
    (
        "outside business hours",
        'outside_hours = { start = "09:00", end = "17:00", tz = "Europe/Paris" }',
        {},
        False,
    ),
    (
        "within, another zone: 07:00 in New York",
        'within_hours = { start = "09:00", end = "17:00", tz = "America/New_York" }',
        {},
        False,
    ),
    # the message's age
    ("younger than", 'max_age = "1h"', {}, True),
    ("older than", 'min_age = "1h"', {}, False),
    (
        "age from the message's start",
        'min_age = "1h"',
        {"started_at": NOW - timedelta(hours=3)},
        True,
    ),
    # what compliance read
    ("intent", 'intent = "opt_out"', {"intent": "opt_out"}, True),
    ("intent not", 'intent = "help"', {"intent": None}, False),
]


@pytest.mark.parametrize(("name", "when", "facts", "expected"), CASES, ids=[c[0] for c in CASES])
def test_condition(name: str, when: str, facts: dict[str, Any], expected: bool) -> None:
    assert holds(when, facts) is expected


def test_conditions_all_have_to_hold() -> None:
    when = 'channel = "sms", first_word = ["price"], sender = ["4179*"]'
    assert holds(when, {})
    assert not holds(when, {"channel": "whatsapp"})
    assert not holds(when, {"sender": "41783026727"})


def test_count_of_what_a_contact_did_in_a_window() -> None:
    history = History()
    for minutes in (1, 10, 20, 90):
        history.saw("+41793026727", "inbound", NOW - timedelta(minutes=minutes))
    history.saw("+41793026727", "delivery", NOW - timedelta(minutes=2))
    history.saw("+41790000000", "inbound", NOW)
    when = 'count = { kind = "inbound", within = "1h", at_least = 3 }'
    assert holds(when, {}, history=history)
    assert not holds(
        'count = { kind = "inbound", within = "15m", at_least = 3 }', {}, history=history
    )
    # Any kind: two inbound and one delivery report in the last 15 minutes.
    assert holds('count = { within = "15m", at_most = 3 }', {}, history=history)
    assert not holds('count = { within = "15m", at_most = 2 }', {}, history=history)
    assert not holds('count = { within = "1h", at_most = 3 }', {}, history=history)
