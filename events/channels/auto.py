"""One URL for everything (POST /webhooks/auto): the decision table, item by item.

The table is not written here: each channel module declares its rows (events/channels/spec.py:
`Auto`, `ObjectRow`, `ItemRow`) and `AutoParser` puts them in order. docs/infobip.md prints the
table with the rows' numbers.

Most bodies name their product by their fields. SMS, MMS, Viber and Push delivery reports (and
WhatsApp/Viber seen reports without a contact block) share one shape: for those the channel
comes from a hint in callbackData ({"channel": "viber"} or "channel=viber"), else the
processor looks for a message already known by that messageId, else the event keeps the first
candidate and says it is uncertain (channel_uncertain, with the candidates in its data).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from events.channels.body import decode_body
from events.channels.envelope import each_item, results_of, unknown_event
from events.channels.event import ParsedEvent, ParseError, Parser, ParseResult
from events.channels.shared import result_kind
from events.channels.spec import ChannelSpec, ItemRow, ObjectRow
from events.channels.values import Item, as_str
from events.vocabulary import Kind

CHANNEL = "auto"
_HINT = re.compile(r"(?:^|[;&,\s])channel\s*[=:]\s*([a-zA-Z_-]+)")

Out = TypeVar("Out")


@dataclass(frozen=True, slots=True)
class Row(Generic[Out]):
    """One row of the table as it is applied: its test, its reader, and the channels it may
    be (more than one for a shape the body cannot tell apart)."""

    number: float
    test: Callable[[Item], bool]
    read: Callable[[Item], Out]
    candidates: tuple[str, ...]


def _ordered(
    declared: Iterable[tuple[str, ObjectRow | ItemRow]], what: str
) -> tuple[Row[Any], ...]:
    """The rows in table order; rows that several channels declare with one number (shared)
    become one row whose candidates are those channels, in registry order."""
    by_number: dict[float, list[tuple[str, ObjectRow | ItemRow]]] = {}
    for channel, row in declared:
        by_number.setdefault(row.row, []).append((channel, row))
    rows = []
    for number in sorted(by_number):
        group = by_number[number]
        first = group[0][1]
        if len(group) > 1 and not all(r.shared and r.test is first.test for _, r in group):
            names = ", ".join(c for c, _ in group)
            raise ValueError(
                f"{what} row {number} is declared by {names}: only shared rows (same test, "
                "shared=True) may be"
            )
        rows.append(Row(number, first.test, first.read, tuple(c for c, _ in group)))
    return tuple(rows)


def _uncertain(
    event: ParsedEvent, candidates: tuple[str, ...], item: Item, hints: frozenset[str]
) -> ParsedEvent:
    """Still uncertain here: the processor first looks for the message already known by this
    id, then takes the callbackData hint, and only then leaves the channel uncertain."""
    data = dict(event.data)
    data["channel_candidates"] = list(candidates)
    hint = channel_hint(item.get("callbackData"), hints)
    if hint is not None:
        data["channel_hint"] = hint
    return dataclasses.replace(event, channel=candidates[0], channel_uncertain=True, data=data)


def channel_hint(callback_data: Any, hints: frozenset[str]) -> str | None:
    """The channel named in callbackData, when the sender put one of `hints` there."""
    text = as_str(callback_data)
    if not text:
        return None
    hint: str | None = None
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict):
            hint = as_str(doc.get("channel"))
    if hint is None:
        match = _HINT.search(text)
        hint = match.group(1) if match else None
    hint = hint.lower() if hint else None
    return hint if hint in hints else None


class AutoParser:
    """The parser of /webhooks/auto, built from the channels' declared rows."""

    def __init__(self, specs: Sequence[ChannelSpec]) -> None:
        autos = [(spec, spec.auto) for spec in specs if spec.auto is not None]
        multipart = [spec.parser for spec, auto in autos if auto.multipart]
        if len(multipart) > 1:
            raise ValueError("more than one channel claims multipart bodies")
        self.multipart: Parser | None = multipart[0] if multipart else None
        self.hints = frozenset(spec.name for spec, auto in autos if auto.hint)
        self.objects: tuple[Row[ParseResult], ...] = _ordered(
            ((spec.name, row) for spec, auto in autos for row in auto.objects), "object"
        )
        items = [(spec.name, row) for spec, auto in autos for row in auto.items]
        self.first: tuple[Row[ParsedEvent], ...] = _ordered(
            ((c, r) for c, r in items if r.kind is None), "item"
        )
        self.by_kind: dict[Kind, tuple[Row[ParsedEvent], ...]] = {
            kind: _ordered(((c, r) for c, r in items if r.kind is kind), f"{kind} item")
            for kind in {r.kind for _, r in items if r.kind is not None}
        }

    def __call__(self, body: bytes, content_type: str | None) -> ParseResult:
        if (
            self.multipart is not None
            and content_type
            and content_type.lower().startswith("multipart/")
        ):
            return self.multipart(body, content_type)
        doc = decode_body(body, content_type)
        items = results_of(doc)
        if items is not None:
            return each_item(CHANNEL, items, self._item)
        if not isinstance(doc, dict):
            raise ParseError(f"body is a JSON {type(doc).__name__}, not an object")
        return self._object(doc)

    def _object(self, doc: Item) -> ParseResult:
        """Bodies that are one object, not a results[] envelope."""
        for row in self.objects:
            if row.test(doc):
                result = row.read(doc)
                if len(row.candidates) == 1:
                    return result
                return ParseResult(
                    events=[_uncertain(e, row.candidates, doc, self.hints) for e in result.events],
                    item_errors=result.item_errors,
                )
        return ParseResult(
            events=[unknown_event(CHANNEL, doc, "no row of the decision table matches")]
        )

    def _item(self, item: Item) -> ParsedEvent:
        """One item of a results[] envelope: the rows that need no kind, then the kind's."""
        for row in self.first:
            if row.test(item):
                return self._read(row, item)
        kind = result_kind(item)
        for row in self.by_kind.get(kind, ()) if kind is not None else ():
            if row.test(item):
                return self._read(row, item)
        return unknown_event(CHANNEL, item, "no row of the decision table matches this item")

    def _read(self, row: Row[ParsedEvent], item: Item) -> ParsedEvent:
        event = row.read(item)
        if len(row.candidates) == 1:
            return event
        return _uncertain(event, row.candidates, item, self.hints)
