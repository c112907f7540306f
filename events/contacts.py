"""One key per contact, wherever a contact is compared or stored. Pure.

A phone number is written many ways: Infobip writes international digits without `+`
("41791000011"), people write "+41 79 100 00 11", "0041791000011", "(+41) 79 100 0001",
"+41 (0)79 100 00 01" or, nationally, "079 100 00 01". Every one of them must hit the same
suppression entry, so every number is parsed once by `phonenumbers` into E.164
("+41791000011"): that is the key. What goes to Membrane stays in Infobip's wire format
(digits, no `+`, see `wire`).

Two ways in:

- `parse_phone` / `contact_key` (strict) for what people and files give us: the read/write API,
  the CLI, the rules file, the settings. A writing that is not a possible number raises
  `ContactError` with the reason; a national writing needs the default region.
- `wire_key` (lenient) for what Infobip wrote in a webhook: it is parsed the same way, and when
  it cannot be (a short code, a malformed sender), the value is still keyed on its digits, so
  that an inbound is never lost for its sender's writing and a reply to it is still checked.

Email addresses: trimmed and case-folded (see `email_key`), no plus-stripping. Alphanumeric
sender ids ("InfoSMS") are case-folded.
"""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from events.vocabulary import Address

# What a written phone number may hold besides digits: spaces, dots, dashes, slashes,
# brackets (also around a `(0)` trunk digit or `(+41)`), and one leading `+`.
_PHONE_CHARS = re.compile(r"^[+0-9 ().\-/\u00a0]+$")
_NOT_DIGITS = re.compile(r"[^0-9]")


class ContactError(ValueError):
    """A contact that cannot be keyed; the message says why and what would work."""


def is_email(value: str) -> bool:
    return "@" in value


def email_key(value: str) -> str:
    """Trimmed and case-folded, the local part too: RFC 5321 lets a server tell "John" from
    "john", but mailbox providers do not, and a suppression that misses a capital letter would
    message someone who unsubscribed. No plus-stripping: "a+news@" may be a separate list."""
    text = value.strip()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in text):
        raise ContactError(f"{value!r} is not an email address")
    return text.casefold()


def looks_like_phone(value: str) -> bool:
    text = value.strip()
    return bool(_PHONE_CHARS.match(text)) and any(c.isdigit() for c in text)


@lru_cache(maxsize=65536)
def parse_phone(value: str, region: str | None = None, *, wire: bool = False) -> str:
    """The E.164 key of a written phone number; ContactError when it is not one.

    Digits alone are read both ways when a default region is set: as international (Infobip's
    writing) and as national. From Infobip (`wire`) the international reading wins. From a
    person, two valid readings that are two numbers are refused: in the US "2015552201" is
    +1 201 555 2201 and also a valid Egyptian +20 15552201, and guessing would message a
    stranger while the suppression entry of the person meant stays untouched."""
    text = value.strip()
    if not looks_like_phone(text):
        raise ContactError(f"{value!r} is not a phone number (digits, with + or 00 in front)")
    digits = _NOT_DIGITS.sub("", text)
    explicit = text.lstrip("(").startswith("+")
    if not explicit and digits.startswith("00"):
        # The 00 international prefix; "0041 (0) 79 ..." keeps its trunk digit for the parser.
        text, explicit = "+" + text.lstrip("( ")[2:], True
    if explicit:
        return _e164(_parse(text, None, value), value)
    # Digits alone are Infobip's own writing (international, no `+`); a number written with
    # spaces or brackets and no country code is a person's national writing.
    international = _try("+" + digits, None) if not digits.startswith("0") else None
    national = _try(text, region) if region else None
    candidates = [international, national] if text.isdigit() else [national, international]
    numbers = [n for n in candidates if n is not None]
    if len(numbers) == 1 and phonenumbers.is_possible_number(numbers[0]):
        # One reading only (no region, or a writing only one reading parses): nothing to
        # choose between, so no validity check (a fifth of a cold parse's cost).
        return phonenumbers.format_number(numbers[0], phonenumbers.PhoneNumberFormat.E164)
    if text.isdigit() and not wire and international is not None and national is not None:
        _refuse_two_readings(value, international, national, region)
    for check in (phonenumbers.is_valid_number, phonenumbers.is_possible_number):
        for number in numbers:
            if check(number):
                return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if digits.startswith("0") and not region:
        raise ContactError(
            f"{value!r} is a national writing: write it with its country code (+41 ...) or "
            "set INFOBIP_EVENTS_DEFAULT_REGION (e.g. CH)"
        )
    raise ContactError(f"{value!r} is not a possible phone number (check its length)")


def _refuse_two_readings(
    value: str,
    international: phonenumbers.PhoneNumber,
    national: phonenumbers.PhoneNumber,
    region: str | None,
) -> None:
    valid = phonenumbers.is_valid_number
    if not (valid(international) and valid(national)):
        return
    fmt = phonenumbers.PhoneNumberFormat.E164
    first = phonenumbers.format_number(international, fmt)
    second = phonenumbers.format_number(national, fmt)
    if first != second:
        raise ContactError(
            f"{value!r} reads as two numbers: {first} (international digits) and {second} "
            f"(national, region {region}); write it with + and its country code"
        )


def _try(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def _parse(text: str, region: str | None, original: str) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise ContactError(f"{original!r} is not a phone number: {exc._msg}") from None


def _e164(number: phonenumbers.PhoneNumber, original: str) -> str:
    if not phonenumbers.is_possible_number(number):
        raise ContactError(f"{original!r} is not a possible phone number (check its length)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def contact_key(value: str, region: str | None = None) -> str:
    """Strict key of any contact people give us: phone number, email address or alphanumeric
    sender id. ContactError for a phone-like writing that is not a possible number."""
    text = value.strip()
    if not text:
        raise ContactError("an empty contact")
    if is_email(text):
        return email_key(text)
    if looks_like_phone(text):
        return parse_phone(text, region)
    if text.isalnum() or re.fullmatch(r"[\w .\-]+", text):
        return text.casefold()
    raise ContactError(f"{value!r} is neither a phone number, an email address nor a sender id")


@lru_cache(maxsize=65536)
def wire_key(value: str, region: str | None = None) -> str:
    """Lenient key of a contact Infobip wrote (a webhook's from/to): parsed like the others;
    a number that does not parse is keyed on its digits; never raises."""
    text = value.strip()
    if is_email(text):
        try:
            return email_key(text)
        except ContactError:
            return text.casefold()
    if looks_like_phone(text):
        try:
            return parse_phone(text, region, wire=True)
        except ContactError:
            return "+" + _NOT_DIGITS.sub("", text)
    return text.casefold()


def phone_key(value: str, region: str | None = None) -> str:
    """Strict key of a phone recipient: a phone number only (an email address or a sender id
    in a phone channel's `to` is an error)."""
    if not looks_like_phone(value):
        raise ContactError(f"{value!r} is not a phone number (digits, with + or 00 in front)")
    return parse_phone(value, region)


def recipient_key(address: Address | None, value: str, region: str | None = None) -> str:
    """Strict key of a send's recipient, by how its channel addresses recipients (each
    channel's spec says: `address_of` in events/channels/registry.py): a phone number, an email
    address (ContactError otherwise), or the value as written, case-folded."""
    if address == Address.EMAIL:
        return email_key(value)
    if address == Address.PHONE:
        return phone_key(value, region)
    return value.strip().casefold()


def wire(key: str) -> str:
    """A phone key in Infobip's wire format: digits, no `+`. Other keys as they are."""
    return key[1:] if key.startswith("+") and key[1:].isdigit() else key


def is_phone_key(key: str) -> bool:
    return key.startswith("+") and key[1:].isdigit()


def pattern_key(pattern: str, region: str | None = None) -> str:
    """A rules file's contact pattern ("4179*", "+41 79 *") in the key's form: exact contacts
    are keyed strictly; a wildcard pattern over a number loses its separators and gains `+`."""
    if "*" not in pattern and "?" not in pattern:
        return contact_key(pattern, region)
    text = pattern.strip()
    body = text.replace("*", "").replace("?", "")
    if body and not looks_like_phone(body):
        return text.casefold()
    compact = re.sub(r"[ ().\-/]", "", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    return compact if compact.startswith("+") or compact[0] in "*?" else "+" + compact
