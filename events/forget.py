"""Erasure of one contact (`infobip-events contacts forget`, `DELETE /v1/contacts/{contact}`).

What happens, in this order:

1. In one transaction: the contact's keyed hash joins the erased contacts (events/erasure.py),
   so that from this moment on no automated message reaches it on any channel; the rows *about*
   it are deleted (its messages with their events and tags, its other events, calls, lookups,
   masking sessions, rule decisions, suppression entries and reviews); its opt-out audit rows
   stay, the proof of consent, with the hash in place of the contact.
2. Every text, JSON and binary column of every other row is searched for the contact in any
   writing (E.164, Infobip's digits, 00 and national writings with any separators; an email
   address in any case, also URL-encoded), a page at a time, and what is found is replaced by
   `[erased]`. A processed raw webhook left with no events is deleted instead; an outbox action
   whose only recipient is the contact is deleted, one with other recipients loses the contact.
3. The erasure is audited (who, when, rows per table, the hash), and logged.

Erasing again is harmless (step 2 finds nothing). A webhook that names the contact and arrives
after the erasure is stored like any other: the person is still never messaged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import orjson
import phonenumbers
import structlog
from sqlalchemy import Connection, Engine, Table

from events.contacts import ContactError, contact_key, is_email, is_phone_key
from events.erasure import ErasureKey
from events.outbox import recipients
from storage.db import write_transaction
from storage.models import RAW_IGNORED, RAW_PROCESSED, messages, outbox, raw_webhooks
from storage.queries import erasure as erasure_q

log = structlog.get_logger("events.forget")

PLACEHOLDER = "[erased]"
PAGE = 500
# What people put between the digits of a number (also around a "(0)" trunk digit).
_SEP = "[-. ()/\u00a0]*"

Progress = Callable[[str, int], None]


def _escaped(text: str) -> str:
    """Literal in both Python's and PostgreSQL's regular expressions."""
    return "".join(c if c.isalnum() else "\\" + c for c in text)


def erasable_key(value: str, region: str | None) -> str:
    """The key of a phone number or an email address in any writing; ContactError for
    anything else (a sender id such as "InfoSMS" is a company's, not a person's)."""
    key = contact_key(value, region)
    if not (is_phone_key(key) or is_email(key)):
        raise ContactError(f"{value!r} is not a phone number or an email address")
    return key


def phone_forms(key: str) -> list[str]:
    """The digit strings a phone key is written with: international ("41791000011", which
    also covers +41 and 0041), international with the trunk digit ("+41 (0)79 ...") and
    national ("079 100 00 11")."""
    forms = [key[1:]]
    try:
        number = phonenumbers.parse(key, None)
    except phonenumbers.NumberParseException:
        return forms
    national = re.sub(r"[^0-9]", "", phonenumbers.format_number(number, 2))  # NATIONAL
    if national and national != phonenumbers.national_significant_number(number):
        forms.append(str(number.country_code) + national)
    if len(national) >= 6:
        forms.append(national)
    return list(dict.fromkeys(forms))


def pattern_of(key: str) -> str:
    """One regular expression, the same for Python and PostgreSQL (`~*`), for every writing."""
    if is_email(key):
        local, _, domain = key.rpartition("@")
        return (
            "(?<![A-Za-z0-9._%+-])"
            + _escaped(local)
            + "(?:@|%40)"
            + _escaped(domain)
            + "(?![A-Za-z0-9_-]|\\.[A-Za-z0-9])"
        )
    if is_phone_key(key):
        alternatives = [_SEP.join(form) for form in phone_forms(key)]
        return "(?<![0-9])(?:\\+|00)?(?:" + "|".join(alternatives) + ")(?![0-9])"
    return "(?<![A-Za-z0-9])" + _escaped(key) + "(?![A-Za-z0-9])"


@dataclass(frozen=True)
class Writings:
    """A contact key and every way it may be written; finds and replaces them."""

    key: str

    @cached_property
    def pattern(self) -> str:
        return pattern_of(self.key)

    @cached_property
    def _text(self) -> re.Pattern[str]:
        return re.compile(self.pattern, re.IGNORECASE)

    @cached_property
    def _bytes(self) -> re.Pattern[bytes]:
        return re.compile(self.pattern.encode(), re.IGNORECASE)

    def found_in(self, value: str | bytes) -> bool:
        if isinstance(value, str):
            return self._text.search(value) is not None
        return self._bytes.search(bytes(value)) is not None

    def is_exactly(self, value: str) -> bool:
        return self._text.fullmatch(value.strip()) is not None

    def text(self, value: str) -> str:
        return self._text.sub(PLACEHOLDER, value)

    def json(self, value: Any) -> Any:
        """Every string (keys too) redacted; a number that is the contact becomes the
        placeholder (Infobip writes some numbers as JSON numbers)."""
        if isinstance(value, dict):
            return {self.text(str(k)): self.json(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return PLACEHOLDER if self.is_exactly(str(value)) else value
        return value

    def body(self, body: bytes) -> bytes:
        """A raw body: JSON is rewritten as JSON (so it still parses); anything else (XML,
        form data) has its writings replaced in place."""
        redacted = self._bytes.sub(PLACEHOLDER.encode(), body)
        if body.lstrip()[:1] in (b"{", b"["):
            # Inside JSON strings the replacement keeps it JSON; a number Infobip wrote as a
            # JSON number does not: then the document is rewritten value by value.
            try:
                orjson.loads(redacted)
            except orjson.JSONDecodeError:
                try:
                    return orjson.dumps(self.json(orjson.loads(body)))
                except orjson.JSONDecodeError:
                    pass
        return redacted

    def value(self, value: Any) -> Any:
        if isinstance(value, (bytes, memoryview)):
            return self.body(bytes(value))
        if isinstance(value, str):
            return self.text(value)
        return self.json(value)


@dataclass
class Erased:
    """What an erasure did: rows per table, deleted and redacted."""

    contact_hash: str
    key_id: str
    actor: str
    at: datetime
    rows: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, table: str, what: str, n: int) -> None:
        if n:
            counts = self.rows.setdefault(table, {"deleted": 0, "redacted": 0})
            counts[what] += n

    @property
    def total(self) -> int:
        return sum(n for counts in self.rows.values() for n in counts.values())


def forget(
    engine: Engine,
    key: ErasureKey,
    contact: str,
    *,
    actor: str,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> Erased:
    """Erase a contact key (events/contacts.py) everywhere; see the module's docstring."""
    now = now or datetime.now(UTC)
    done = Erased(key.hash(contact), key.key_id, actor, now)
    with write_transaction(engine) as conn:
        erasure_q.add_erased(conn, done.contact_hash, key.key_id, now)
        for name, n in erasure_q.delete_rows_about(conn, contact).items():
            done.add(name, "deleted", n)
        relabelled = erasure_q.relabel_audit(conn, contact, key.label(contact))
        done.add("opt_out_audit", "redacted", relabelled)
    writings = Writings(contact)
    for table in erasure_q.searched_tables():
        _redact_table(engine, table, writings, done)
        if progress is not None and table.name in done.rows:
            progress(table.name, sum(done.rows[table.name].values()))
    with write_transaction(engine) as conn:
        erasure_q.add_erasure_audit(conn, done.contact_hash, key.key_id, actor, now, done.rows)
    log.info(
        "contact erased",
        contact_hash=done.contact_hash[:16],
        actor=actor,
        rows=done.total,
        **{t: sum(c.values()) for t, c in done.rows.items()},
    )
    return done


def _redact_table(engine: Engine, table: Table, writings: Writings, done: Erased) -> None:
    after = None
    while True:
        with write_transaction(engine) as conn:
            rows = erasure_q.rows_naming(
                conn, table, writings.pattern, writings.found_in, after, PAGE
            )
            for row in rows:
                key = row.pop("_key")
                if _whole_row_goes(conn, table, key, row, writings):
                    erasure_q.delete_row(conn, table, key)
                    done.add(table.name, "deleted", 1)
                    continue
                redacted = {c: _redacted(table, c, v, writings) for c, v in row.items()}
                changed = {c: v for c, v in redacted.items() if v != row[c]}
                if changed:
                    erasure_q.rewrite_row(conn, table, key, changed)
                    done.add(table.name, "redacted", 1)
        if len(rows) < PAGE:
            return
        after = key


def _whole_row_goes(
    conn: Connection, table: Table, key: Any, row: dict[str, Any], writings: Writings
) -> bool:
    """A row about the contact (its sender, recipient, number, party... in any writing); a
    processed raw webhook whose events are all gone (they were the contact's); an action whose
    every recipient is the contact."""
    about = erasure_q.CONTACT_COLUMNS.get(table.name, ())
    if any(isinstance(row.get(c), str) and writings.is_exactly(row[c]) for c in about):
        if table is messages:
            erasure_q.delete_tags_of(conn, row["channel"], row["message_id"])
        return True
    if table is raw_webhooks:
        done = row.get("state") in (RAW_PROCESSED, RAW_IGNORED)
        return done and not erasure_q.raw_has_events(conn, str(key))
    if table is outbox and isinstance(row.get("input"), dict):
        named = recipients(row["input"])
        return bool(named) and all(writings.is_exactly(r) for r in named)
    return False


def _redacted(table: Table, column: str, value: Any, writings: Writings) -> Any:
    if value is None:
        return None
    if table is outbox and column == "input" and isinstance(value, dict):
        to = value.get("to")
        if isinstance(to, list):  # the other recipients still get their message
            value = {**value, "to": [t for t in to if not writings.is_exactly(str(t))]}
    return writings.value(value)
