"""The two shapes a callback comes in: a results[] envelope of items, read one by one, or a
single object; and what becomes of an item nobody can read (an `unknown` event, never dropped).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from events.channels.body import decode_body
from events.channels.event import ParsedEvent, ParseError, Parser, ParseResult
from events.channels.values import Item, as_data, as_str, fingerprint
from events.vocabulary import Kind


def results_of(doc: Any) -> list[Any] | None:
    """The results[] list of an enveloped callback, or None when the body is not enveloped."""
    if isinstance(doc, dict) and "results" in doc:
        results = doc["results"]
        if results is None:
            return []
        if isinstance(results, list):
            return results
        if isinstance(results, dict):  # a one-item XML <results> with another child name
            return list(results.values()) if len(results) == 1 else [results]
    return None


# Infobip sends at most 2,000 results in one callback (docs/infobip.md); a body with ten times
# that is not Infobip's, and the raw row's item_count is a SMALLINT.
MAX_ITEMS = 20_000


def too_many_items(count: int) -> str:
    return (
        f"{count} items in one body, more than {MAX_ITEMS} (Infobip sends at most 2,000): "
        "not processed; the body is kept as received"
    )


def each_item(
    channel: str,
    items: Iterable[Any],
    read: Callable[[Item], ParsedEvent],
) -> ParseResult:
    """Read every item on its own: one bad item becomes an 'unknown' event with a note and
    never fails the others."""
    if isinstance(items, list) and len(items) > MAX_ITEMS:
        raise ParseError(too_many_items(len(items)))  # before an event is built for each
    events: list[ParsedEvent] = []
    errors: list[str] = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict):
                raise ValueError(f"item is {type(item).__name__}, not an object")
            events.append(read(item))
        except Exception as exc:  # an odd value (or a reader's bug) costs only its item
            expected = isinstance(exc, (ValueError, TypeError, KeyError, ArithmeticError))
            note = f"item {index}: {exc if expected else f'{type(exc).__name__}: {exc}'}"
            errors.append(note)
            events.append(unknown_event(channel, item, note))
    return ParseResult(events=events, item_errors=errors)


def unknown_event(channel: str, item: Any, note: str | None = None) -> ParsedEvent:
    message_id = as_str(item.get("messageId")) if isinstance(item, dict) else None
    return ParsedEvent(
        kind=Kind.UNKNOWN,
        channel=channel,
        discriminator=fingerprint(item),
        message_id=message_id,
        data=as_data(item) if isinstance(item, dict) else {"value": item},
        note=note,
    )


def object_parser(read: Callable[[Item], ParseResult]) -> Parser:
    """A parser for callbacks that are one JSON (or XML) object."""

    def parse(body: bytes, content_type: str | None) -> ParseResult:
        doc = decode_body(body, content_type)
        if not isinstance(doc, dict):
            raise ParseError(f"body is a JSON {type(doc).__name__}, not an object")
        return read(doc)

    return parse


def results_parser(
    channel: str, read: Callable[[Item], ParsedEvent], others: Callable[[Item], ParseResult]
) -> Parser:
    """A parser for a product whose callbacks are results[] envelopes (read item by item) or,
    for the rest, single objects (others)."""

    def read_doc(doc: Item) -> ParseResult:
        items = results_of(doc)
        if items is not None:
            return each_item(channel, items, read)
        return others(doc)

    return object_parser(read_doc)


def not_known(channel: str, what: str) -> Callable[[Item], ParseResult]:
    def others(doc: Item) -> ParseResult:
        return ParseResult(events=[unknown_event(channel, doc, f"not a known {what} callback")])

    return others
