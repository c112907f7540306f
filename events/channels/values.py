"""Lenient readers of the values in Infobip's bodies, and the traps they step around.

Infobip's published examples disagree on types (docs/infobip.md, "Traps in the payloads"): ids
as numbers or text, the string "null" for no value, several timestamp formats, prices as
decimals. Each reader accepts every spelling seen there and returns None rather than guessing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

# Decoded JSON and XML are plain dicts; checks use dict, not Mapping (an ABC check costs more
# than the rest of reading a field).
Item = Mapping[str, Any]


def as_str(value: Any) -> str | None:
    """Text, or None. A numeric messageId (old email tracking example) becomes its digits; the
    string "null" (a real capture's mccMnc) is no value at all."""
    if type(value) is str:
        # Only a four-letter text can spell null: the lower() is skipped for every other one.
        if len(value) == 4 and value.lower() == "null":
            return None
        return value or None
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    text = str(value)
    if text == "" or text.lower() == "null":
        return None
    return text


def as_int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if number != number.to_integral_value():
        return None
    return int(number)


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
    if isinstance(value, int):
        return bool(value)
    return None


def as_decimal(value: Any) -> Decimal | None:
    """Exact decimals: bodies are decoded with parse_float=Decimal, so 0.0001000000 stays so."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None


def as_datetime(value: Any) -> datetime | None:
    """Every timestamp format Infobip uses, as an aware datetime.

    Seen in Infobip examples: ``2019-11-09T16:00:00.000+0000``, ``...-0300``, ``...Z``,
    ``2018-01-01 12:00:00`` (no offset), ``2015-06-04T13:01:52.933`` (no offset) and epoch
    milliseconds as a number. A time without an offset is read as UTC: the one example that
    mixes both (legacy SMS DLR) has its offset-less sentAt seconds before a ``+0000`` doneAt.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)) or (
        isinstance(value, str) and value.strip().isdigit()
    ):
        number = Decimal(str(value).strip())
        # Infobip sends epoch milliseconds; a seconds value would be before 1973 read as ms.
        seconds = number / 1000 if number > 100_000_000_000 else number
        try:
            return datetime.fromtimestamp(float(seconds), tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or text.lower() == "null":
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def platform_ids(item: Item) -> tuple[str | None, str | None]:
    """(application_id, entity_id): v3 nests them in platform{}, legacy puts them at the top."""
    platform = item.get("platform")
    if isinstance(platform, dict):
        return as_str(platform.get("applicationId")), as_str(platform.get("entityId"))
    return as_str(item.get("applicationId")), as_str(item.get("entityId"))


def fingerprint(item: Any) -> str:
    """A stable digest of an item, for kinds that carry no id of their own."""
    try:
        text = json.dumps(item, sort_keys=True, default=str, separators=(",", ":"))
    except RecursionError:  # nested deeper than the encoder goes: its shape has to do
        text = f"deep {type(item).__name__} of {len(item) if hasattr(item, '__len__') else 1}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def as_data(item: Item) -> dict[str, Any]:
    """The item itself for the events.data column. Prices in it stay Decimal here; the storage
    layer writes them as JSON numbers."""
    return item if isinstance(item, dict) else dict(item)


def require_message_id(item: Item) -> str:
    message_id = as_str(item.get("messageId"))
    if message_id is None:
        raise ValueError("messageId is missing")
    return message_id
