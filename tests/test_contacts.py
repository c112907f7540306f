"""One key per contact: every writing of a number that phonenumbers reads as the same number
gives the same key, and hits the same suppression entry."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from events.contacts import (
    ContactError,
    contact_key,
    email_key,
    parse_phone,
    pattern_key,
    wire,
    wire_key,
)
from events.optouts import OptOutPolicy
from storage.db import write_transaction

_NOT_DIGITS = re.compile(r"[^0-9]")

# Regions whose example numbers the property test writes in many ways.
REGIONS = sorted(
    r for r in ("CH", "DE", "FR", "GB", "US", "IT", "ES", "HR", "BR", "IN", "JP", "AU", "NL")
)


@pytest.mark.parametrize(
    ("written", "region", "key"),
    [
        ("41791000011", None, "+41791000011"),  # Infobip's own writing
        ("+41791000011", None, "+41791000011"),
        ("0041791000011", None, "+41791000011"),
        ("+41 79 100 00 11", None, "+41791000011"),
        ("+41-79-100-00-11", None, "+41791000011"),
        ("+41.79.100.00.11", None, "+41791000011"),
        ("(+41) 79 100 0011", None, "+41791000011"),
        ("+41 (0)79 100 00 11", None, "+41791000011"),
        ("0041 (0) 79 100 00 11", None, "+41791000011"),
        ("079 100 00 11", "CH", "+41791000011"),
        ("(212) 555-0123", "US", "+12125550123"),
        ("2125550123", "US", "+12125550123"),
        ("+44 07911 123456", None, "+447911123456"),
        ("+39 06 1234 5678", None, "+390612345678"),  # Italy keeps its leading zero
    ],
)
def test_every_writing_of_a_number_gives_its_e164_key(
    written: str, region: str | None, key: str
) -> None:
    assert parse_phone(written, region) == key
    assert contact_key(written, region) == key
    assert wire_key(written, region) == key


@pytest.mark.parametrize(
    ("written", "region", "reason"),
    [
        ("079 100 00 11", None, "INFOBIP_EVENTS_DEFAULT_REGION"),
        ("12", None, "not a possible phone number"),
        ("+99 123", None, "not a phone number"),
        ("+41 79 abc", None, "neither a phone number"),
        ("", None, "empty"),
    ],
)
def test_a_writing_that_is_not_a_number_is_refused_with_the_reason(
    written: str, region: str | None, reason: str
) -> None:
    with pytest.raises(ContactError, match=reason):
        contact_key(written, region)


def test_digits_a_person_wrote_that_read_as_two_valid_numbers_are_refused() -> None:
    # In the US, "2015552201" is +1 201 555 2201 and a valid Egyptian number, +20 15552201.
    with pytest.raises(ContactError, match=r"two numbers: \+2015552201 .* \+12015552201"):
        contact_key("2015552201", "US")
    assert contact_key("201 555 2201", "US") == "+12015552201"  # spaces: a national writing
    assert contact_key("+1 201 555 2201", "US") == "+12015552201"
    # What Infobip wrote is international digits, by its convention.
    assert wire_key("2015552201", "US") == "+2015552201"


@settings(max_examples=300, deadline=None)
@given(region=st.sampled_from(REGIONS), tail=st.integers(min_value=0, max_value=9999))
def test_national_digits_alone_give_their_own_number_or_are_refused_never_another(
    region: str, tail: int
) -> None:
    number = _varied(region, phonenumbers.PhoneNumberType.MOBILE, f"{tail:04d}")
    if not phonenumbers.is_valid_number(number):
        return
    truth = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = _NOT_DIGITS.sub(
        "", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    )
    try:
        key = contact_key(national, region)
    except ContactError as exc:
        assert "two numbers" in str(exc)
        return
    assert key == truth, (national, region)


def test_what_infobip_wrote_is_always_keyed_even_when_it_is_not_a_number() -> None:
    assert wire_key("12") == "+12"  # keyed on its digits: matched, never lost
    assert wire_key("079 100 00 11") == "+0791000011"
    assert wire_key("InfoSMS") == "infosms"
    assert wire_key("John.Doe@Example.COM") == "john.doe@example.com"


def test_email_addresses_are_trimmed_and_case_folded_without_plus_stripping() -> None:
    assert email_key("  John.Doe+news@Example.COM ") == "john.doe+news@example.com"
    with pytest.raises(ContactError):
        email_key("john doe@example.com")


def test_membrane_gets_infobip_wire_format_and_patterns_are_keys() -> None:
    assert wire("+41791000011") == "41791000011"
    assert wire("infosms") == "infosms"
    assert pattern_key("4179*") == "+4179*"
    assert pattern_key("+41 79 *") == "+4179*"
    assert pattern_key("0041 79*") == "+4179*"
    assert pattern_key("Info*") == "info*"


def _varied(region: str, kind: int, tail: str) -> phonenumbers.PhoneNumber:
    """The region's example number of that kind with its last digits replaced by `tail`."""
    example = phonenumbers.example_number_for_type(region, kind)
    assert example is not None
    digits = str(example.national_number)
    return phonenumbers.parse(f"+{example.country_code}{digits[: -len(tail)]}{tail}", None)


def _writings(number: phonenumbers.PhoneNumber, region: str) -> list[tuple[str, str | None]]:
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    international = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return [
        (e164, None),
        (e164[1:], None),
        ("00" + e164[1:], None),
        (international, None),
        (international.replace(" ", "-"), None),
        (international.replace(" ", "."), None),
        (international.replace("+", "00"), None),
        (f"({international[:3]}) {international[3:]}", None),
        (national, region),
        (e164, region),
    ]


@settings(max_examples=200, deadline=None)
@given(
    region=st.sampled_from(REGIONS),
    kind=st.sampled_from(
        [phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE]
    ),
    tail=st.integers(min_value=0, max_value=99),
)
def test_any_two_writings_phonenumbers_reads_as_one_number_share_one_key(
    region: str, kind: int, tail: int
) -> None:
    varied = _varied(region, kind, f"{tail:02d}")
    if not phonenumbers.is_possible_number(varied):
        return
    truth = phonenumbers.format_number(varied, phonenumbers.PhoneNumberFormat.E164)
    for written, where in _writings(varied, region):
        if (
            phonenumbers.format_number(
                phonenumbers.parse(written, where or region), phonenumbers.PhoneNumberFormat.E164
            )
            != truth
        ):
            continue  # phonenumbers itself reads this writing as another number
        assert contact_key(written, where) == truth, (written, where)


@pytest.mark.parametrize("written", ["0041791000011", "+41 79 100 00 11", "(+41) 79 100 0011"])
def test_an_opt_out_in_one_writing_suppresses_every_other(engine: Engine, written: str) -> None:
    policy = OptOutPolicy(region="CH")
    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        policy.record(conn, "sms", contact_key(written, "CH"), True, now, source="test")
    with engine.connect() as conn:
        for other in ("41791000011", "079 100 00 11", "+41.79.100.00.11"):
            key = contact_key(other, "CH")
            assert policy.blocked(conn, "sms", [key]) == {key}
            assert policy.blocked(conn, "whatsapp", [key]) == {key}  # contact scope
        assert policy.blocked(conn, "email", ["+41791000011"]) == set()
