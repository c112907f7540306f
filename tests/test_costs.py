"""The cost ledger's lines from Infobip's real report examples (pure: no database)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from events.channels.registry import PARSERS
from events.costs import cost_line, country_of, ledger_rows, region_of
from tests.conftest import content_type_of, fixture_bytes

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def lines(channel: str, path: str) -> list[dict[str, object]]:
    result = PARSERS[channel](fixture_bytes(path), content_type_of(path))
    return [dict(r) for r in ledger_rows([(e, i) for i, e in enumerate(result.events)], NOW)]


def test_legacy_sms_reports_bill_their_sms_count() -> None:
    found = lines("sms", "sms/dlr_v1_legacy_delivered_batch_of_2.json")
    assert [(r["amount"], r["units"], r["unit"]) for r in found] == [
        (Decimal("0.01"), Decimal(1), "message")
    ] * 2


def test_xml_reports_are_priced_like_json() -> None:
    xml = lines("sms", "sms/dlr_v3_delivered_batch_of_2.xml")
    assert xml and xml == lines("sms", "sms/dlr_v3_delivered_batch_of_2.json")


def test_email_reports_in_currency_unknown_price_nothing() -> None:
    doc = json.loads(fixture_bytes("email/dlr_delivered.json"))
    assert "UNKNOWN" in json.dumps(doc)
    assert lines("email", "email/dlr_delivered.json") == []


def test_a_masked_call_is_priced_per_leg_by_its_seconds() -> None:
    (line,) = lines("number-masking", "number-masking/status_report.json")
    # 0.01 EUR a second, 15 seconds calculated (30 inbound): one line per correlationId.
    assert (line["amount"], line["units"], line["unit"]) == (Decimal("0.15"), Decimal(15), "second")
    assert line["message_id"] == "0f754338-1aff-4e09-a933-7d205ca7aed4"


def test_a_report_without_price_or_currency_makes_no_line() -> None:
    (event,) = PARSERS["sms"](
        json.dumps(
            {
                "results": [
                    {
                        "messageId": "x",
                        "to": "41793026727",
                        "price": {"pricePerMessage": 0.01},
                        "status": {"groupId": 3, "groupName": "DELIVERED"},
                    }
                ]
            }
        ).encode(),
        "application/json",
    ).events
    assert cost_line(event, 1, NOW) is None


def test_countries_come_from_the_calling_code_and_shared_codes_are_parsed() -> None:
    assert [region_of(d) for d in ("41793026727", "12125551234", "16135550123", "79123456789")] == [
        "CH",
        "US",
        "CA",
        "RU",
    ]
    assert region_of("0791000011") is None  # a national writing names no country
    (event,) = PARSERS["sms"](
        fixture_bytes("sms/inbound_mo_json_2_keyword_quiz.json"), None
    ).events[:1]
    assert country_of(event) == "HR"  # an inbound message: the sender's country
