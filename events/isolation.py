"""The second pass for a raw row that could not be written whole: item by item, each in a
savepoint, so that one item the database still refuses (after events/storable.py) costs only
itself. That item is stored as an `unknown` event with the reason; the others are normalized as
usual, and the raw row is processed with the reasons in its error.

The first pass writes a whole batch in one transaction (fast); only a batch that fails comes
here, and only after its rows were retried one by one (events/process.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from events.channels.event import ParsedEvent
from events.storable import NOTES_KEY, clean_text
from events.vocabulary import Kind
from storage.db import is_unavailable, write_transaction
from storage.models import RAW_PROCESSED
from storage.queries.raw import RawOutcome, StoredRaw, mark_raw, raw_by_ids


class _Written(Protocol):
    @property
    def new_events(self) -> int: ...


class Processor(Protocol):
    """What the second pass needs of events.process.Processor (which imports this module)."""

    engine: Engine

    def parse_raw(self, raw: StoredRaw) -> tuple[list[ParsedEvent], str, str | None]: ...

    def write_parsed(
        self,
        conn: Connection,
        parsed_rows: list[tuple[StoredRaw, list[ParsedEvent], str, str | None]],
        *,
        start: int = 0,
        mark: bool = True,
    ) -> Sequence[_Written]: ...


log = structlog.get_logger("events.isolation")


def is_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked": another writer held the lock past the busy timeout."""
    return isinstance(exc, OperationalError) and "locked" in str(exc)


def reason_of(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:500]


def unstorable_event(raw: StoredRaw, event: ParsedEvent, index: int, reason: str) -> ParsedEvent:
    """What stands for an item the database refused: an unknown event of the path's channel
    with the reason; the item itself stays in the raw body. Its key is derived from the item's
    own, so a redelivery of the same body adds no second one."""
    origin, _ = clean_text(f"{event.channel}\x1f{event.kind}\x1f{event.message_id}")
    origin += "\x1f" + clean_text(event.discriminator)[0]
    digest = hashlib.blake2b(origin.encode(), digest_size=16).hexdigest()
    note = f"item {index} could not be stored: {reason}"
    return ParsedEvent(
        kind=Kind.UNKNOWN,
        channel=raw.channel,
        discriminator=f"unstorable:{digest}",
        data={"item_index": index, NOTES_KEY: [note]},
        note=note,
    )


@dataclass(frozen=True, slots=True)
class ItemByItem:
    """What the second pass made of a raw row."""

    raw: StoredRaw
    items: int
    new_events: int
    error: str | None


def store_item_by_item(processor: Processor, raw_id: str) -> ItemByItem | None:
    """Write this raw row's items one at a time and mark it processed; None when its body
    yields no items to write (the caller keeps it as failed). Raises only when the database
    is unavailable."""
    with write_transaction(processor.engine) as conn:
        rows = raw_by_ids(conn, [raw_id])
        if not rows:
            return None
        raw = rows[0]
        items, state, error = processor.parse_raw(raw)
        if state != RAW_PROCESSED:
            return None
        reasons: list[str] = []
        new_events = sum(
            _write_one(processor, conn, raw, event, index, reasons)
            for index, event in enumerate(items)
        )
        error = "; ".join(r for r in (error, *reasons) if r) or None
        outcome: RawOutcome = {
            "raw_id": raw.id,
            "state": RAW_PROCESSED,
            "error": error,
            "item_count": len(items),
            "processed_at": datetime.now(UTC),
        }
        mark_raw(conn, [outcome])
    log.warning("items stored one by one", id=raw.id, items=len(items), refused=len(reasons))
    return ItemByItem(raw, len(items), new_events, error)


def _write_one(
    processor: Processor,
    conn: Connection,
    raw: StoredRaw,
    event: ParsedEvent,
    index: int,
    reasons: list[str],
) -> int:
    """Store one item in a savepoint, or its unknown stand-in; how many new events it made."""
    candidates = [event]
    for attempt in range(2):
        try:
            with conn.begin_nested():
                outcomes = processor.write_parsed(
                    conn,
                    [(raw, candidates[attempt : attempt + 1], RAW_PROCESSED, None)],
                    start=index,
                    mark=False,
                )
            return outcomes[0].new_events
        except Exception as exc:
            if is_unavailable(exc):
                raise
            reason = reason_of(exc)
            if attempt == 0:
                reasons.append(f"item {index} kept as unknown: {reason}")
                candidates.append(unstorable_event(raw, event, index, reason))
            else:
                reasons.append(f"item {index}: its stand-in failed too: {reason}")
    return 0
