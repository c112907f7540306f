"""Making a parsed item storable before it reaches the database, so that one odd value never
fails the batch it came in.

JSON allows values that the database (or the JSON encoder in front of it) cannot take:

- integers beyond 64 bits (orjson refuses them; so do SQLite and PostgreSQL integer columns),
  and numbers such as ``1e308`` that become such integers on the way to the JSON column: kept
  as their text in the event's data; a status or error code beyond a 32-bit column is left out
  of its column (it stays in the data);
- a lone UTF-16 surrogate (``"\\ud800"``, which a JSON escape can spell but UTF-8 cannot):
  replaced by U+FFFD;
- NUL (``"\\u0000"``), which PostgreSQL text and jsonb refuse: removed, on SQLite too, so
  that both databases store the same event (invariant 7);
- nesting deeper than the JSON encoder goes: the deep part is replaced by a short text;
- a price amount too long for its column, a currency or channel name longer than theirs.

What was changed is listed in the event's data under ``_storage_notes`` and in its note; the
raw body is never touched, so a replay after a fix reads the original bytes.

Most items need nothing: one orjson encoding of the data (what the storage layer does anyway,
two microseconds for a delivery report) and a scan of the text fields tell, and the event is
returned as it is, without a copy.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import orjson

from events.channels.event import ParsedEvent
from events.channels.status import Error, Price, Status

NOTES_KEY = "_storage_notes"

R = TypeVar("R", Status, Error, Price)

INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)  # the status and error code columns are INTEGER
# Under orjson's own limit of 255 levels, with room for what wraps the item.
MAX_DEPTH = 200
# Column widths (storage/models.py) of the values an event carries.
CHANNEL_WIDTH = 32
CURRENCY_WIDTH = 16
AMOUNT_WIDTH = 64

_TEXT_FIELDS = (
    "message_id",
    "sub_type",
    "sender",
    "recipient",
    "bulk_id",
    "callback_data",
    "application_id",
    "entity_id",
    "discriminator",
    "note",
)
_TIME_FIELDS = ("occurred_at", "sent_at", "done_at", "seen_at")


def _time_is_storable(value: datetime) -> bool:
    """A time at the edge of the calendar (year 1 with a positive offset, 9999 with a negative
    one) has no UTC instant Python can hold: stored, it could not be read back."""
    try:
        value.astimezone(UTC)
    except (OverflowError, ValueError):
        return False
    return True


# ---- text ---------------------------------------------------------------------------------


def _text_is_clean(text: str) -> bool:
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def clean_text(text: str) -> tuple[str, list[str]]:
    """(text without NUL and lone surrogates, what was done)."""
    notes = []
    if "\x00" in text:
        text = text.replace("\x00", "")
        notes.append("NUL removed")
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:
            # A surrogate pair written as two escapes is already one character; what is left
            # is alone, and has no UTF-8 spelling.
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            notes.append("lone surrogate replaced by U+FFFD")
    return text, notes


# ---- JSON values ----------------------------------------------------------------------------


class _Walk:
    """One pass over a decoded value, building a storable copy and its notes."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, path: str, what: str) -> None:
        self.notes.append(f"{path or '$'}: {what}")

    def value(self, value: Any, path: str, depth: int) -> Any:
        if isinstance(value, str):
            text, done = clean_text(value)
            for what in done:
                self.note(path, what)
            return text
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            if INT64[0] <= value <= INT64[1]:
                return value
            self.note(path, "integer beyond 64 bits kept as text")
            return str(value)
        if isinstance(value, Decimal):
            return self.number(value, path)
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                self.note(path, f"{value} kept as text")
                return str(value)
            return value
        if isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                self.note(path, f"nested deeper than {MAX_DEPTH} levels; see the raw body")
                return f"<nested deeper than {MAX_DEPTH} levels>"
            if isinstance(value, list):
                return [self.value(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
            return self.object(value, path, depth)
        return value

    def object(self, value: dict[Any, Any], path: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            clean, done = clean_text(name)
            where = f"{path}.{clean}" if path else clean
            for what in done:
                self.note(where, f"{what} in the key")
            out[clean] = self.value(item, where, depth + 1)
        return out

    def number(self, value: Decimal, path: str) -> Any:
        """A decimal as the storage layer's JSON encoder writes it (a whole number as an
        integer, else a float), or its text when that is out of range."""
        try:
            number = _decimal_default(value)
        except OverflowError:
            number = None
        if number is None or (isinstance(number, int) and not INT64[0] <= number <= INT64[1]):
            self.note(path, "number out of range kept as text")
            return str(value)
        return value


def clean_value(value: Any) -> tuple[Any, list[str]]:
    """(a storable copy of a decoded JSON value, notes): the slow path, one walk."""
    walk = _Walk()
    return walk.value(value, "", 0), walk.notes


def data_is_clean(data: dict[str, Any]) -> bool:
    """True when the storage layer can write this as it is: its JSON encoding succeeds (no
    integer beyond 64 bits, no lone surrogate, not too deep) and holds no NUL."""
    try:
        encoded = orjson.dumps(data, default=_decimal_default)
    except (TypeError, OverflowError, ValueError, RecursionError):
        return False
    return b"\\u0000" not in encoded


def _decimal_default(value: object) -> object:
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= 0:
            return int(value)
        number = float(value)
        if number in (float("inf"), float("-inf")):
            raise OverflowError("decimal beyond a float's range")
        return number
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# ---- events -------------------------------------------------------------------------------


def storable_event(event: ParsedEvent) -> ParsedEvent:
    """The event itself when every value is storable (no copy), else a storable copy whose
    data and note say what was changed."""
    if _event_is_clean(event):
        return event
    return _cleaned(event)


def _event_is_clean(event: ParsedEvent) -> bool:
    texts = [event.channel]
    for name in _TEXT_FIELDS:
        value = getattr(event, name)
        if value is not None:
            texts.append(value)
    for record in (event.status, event.error, event.price):
        if record is not None and not _record_is_clean(record, texts):
            return False
    if not _text_is_clean("\x01".join(texts)) or len(event.channel) > CHANNEL_WIDTH:
        return False
    for name in _TIME_FIELDS:
        value = getattr(event, name)
        if value is not None and not 1 < value.year < 9999:
            return False
    return data_is_clean(event.data)


def _record_is_clean(record: Status | Error | Price, texts: list[str]) -> bool:
    """Its codes fit their columns (texts are gathered for one scan)."""
    if isinstance(record, Price):
        if record.currency is not None:
            texts.append(record.currency)
            if len(record.currency) > CURRENCY_WIDTH:
                return False
        amount = record.amount
        return amount is None or (amount.is_finite() and len(format(amount, "f")) <= AMOUNT_WIDTH)
    for value in (record.group_id, record.id):
        if value is not None and not INT32[0] <= value <= INT32[1]:
            return False
    for text in (record.group_name, record.name, record.description):
        if text is not None:
            texts.append(text)
    return True


def _cleaned(event: ParsedEvent) -> ParsedEvent:
    data, notes = clean_value(event.data)
    changes: dict[str, Any] = {}
    for name in ("channel", *_TEXT_FIELDS):
        value = getattr(event, name)
        if isinstance(value, str):
            text, done = clean_text(value)
            if done:
                changes[name] = text
                notes.extend(f"{name}: {what}" for what in done)
    channel = changes.get("channel", event.channel)
    if len(channel) > CHANNEL_WIDTH:
        changes["channel"] = channel[:CHANNEL_WIDTH]
        notes.append(f"channel: cut to {CHANNEL_WIDTH} characters")
    for name in _TIME_FIELDS:
        value = getattr(event, name)
        if value is not None and not _time_is_storable(value):
            changes[name] = None
            notes.append(f"{name}: {value.isoformat()} has no UTC instant; left out")
    for name in ("status", "error", "price"):
        record = getattr(event, name)
        if record is not None:
            clean = _clean_record(record, name, notes)
            if clean is not record:
                changes[name] = clean
    if not notes:  # nothing to change after all (e.g. NaN, which the encoder writes as null)
        return event
    if not isinstance(data, dict):
        data = {"value": data}
    data[NOTES_KEY] = notes
    summary = "stored with changes: " + "; ".join(notes)
    base = changes.get("note", event.note)
    changes["note"] = f"{base}; {summary}" if base else summary
    return dataclasses.replace(event, data=data, **changes)


def _clean_record(record: R, label: str, notes: list[str]) -> R:
    """A status, error or price whose values fit their columns; what does not is left out of
    the column (the data keeps it)."""
    changes: dict[str, Any] = {}
    for field in dataclasses.fields(record):
        value = getattr(record, field.name)
        where = f"{label}.{field.name}"
        if isinstance(value, str):
            text, done = clean_text(value)
            if field.name == "currency" and len(text) > CURRENCY_WIDTH:
                text = ""
                done.append("longer than a currency code; left out")
            if done:
                changes[field.name] = text or None
                notes.extend(f"{where}: {what}" for what in done)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int) and not INT32[0] <= value <= INT32[1]:
            changes[field.name] = None
            notes.append(f"{where}: beyond a 32-bit column; left out (kept in the data)")
        elif isinstance(value, Decimal) and not (
            value.is_finite() and len(format(value, "f")) <= AMOUNT_WIDTH
        ):
            changes[field.name] = None
            notes.append(f"{where}: longer than {AMOUNT_WIDTH} digits; left out (kept in the data)")
    return dataclasses.replace(record, **changes) if changes else record
