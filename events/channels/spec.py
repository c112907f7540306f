"""What a channel module declares about its channel: one `ChannelSpec`, the module's `SPEC`.

Every fact about a channel is written once, there: its webhook path, the kinds it produces, its
parser, how `/webhooks/auto` recognises its bodies, what the reconciler reads for it, which
actions send on it, how its recipients are addressed and whether its webhook answer carries
instructions. The registry (events/channels/registry.py) lists the specs and derives every
table from them; nothing else names a channel's facts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from events.channels.event import ParsedEvent, Parser, ParseResult
from events.channels.values import Item
from events.vocabulary import Address, Kind

# ---- /webhooks/auto -----------------------------------------------------------------------------


def anything(_: Item) -> bool:
    """The test of a row that takes whatever reaches it (a fallback, or a shared shape)."""
    return True


@dataclass(frozen=True)
class ObjectRow:
    """A row of /webhooks/auto's decision table for bodies that are one object (no results[]).

    `row` places it in the table (docs/infobip.md numbers the rows so): rows are tried in
    ascending order, across channels, and the first whose `test` holds reads the body. A
    `shared` row is one several channels declare with the same number and test: the body
    cannot tell them apart, so it is read by the first of them (in registry order) and the
    events say they are uncertain, naming all of them as candidates.
    """

    row: float
    test: Callable[[Item], bool]
    read: Callable[[Item], ParseResult]
    shared: bool = False


@dataclass(frozen=True)
class ItemRow:
    """A row for the items of a results[] envelope, each read on its own.

    `kind` None: tried before the item's kind is read. A kind: tried among the items that have
    its fields (a `status` object, `seenAt`, `receivedAt`: `result_kind`), after the rows
    without one. Order and sharing as for ObjectRow.
    """

    row: float
    test: Callable[[Item], bool]
    read: Callable[[Item], ParsedEvent]
    kind: Kind | None = None
    shared: bool = False


@dataclass(frozen=True)
class Auto:
    """How /webhooks/auto recognises this channel's callbacks."""

    objects: tuple[ObjectRow, ...] = ()
    items: tuple[ItemRow, ...] = ()
    # A multipart/ body is this channel's, before anything is read (Infobip posts a parsed
    # inbound email as form data).
    multipart: bool = False
    # callbackData may name this channel ({"channel": "viber"} or "channel=viber") to settle a
    # report whose shape it shares with others.
    hint: bool = False


# ---- the reconciler -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Source:
    """How to read one Infobip endpoint: a catalogue action or a proxied request."""

    kind: Literal["action", "request"]
    target: str  # action key or API path
    per_minute: int  # Infobip's throttle for it


@dataclass(frozen=True)
class Reconcile:
    """What the reconciler reads for this channel, each response paced by its Source."""

    # Repeatable, by message id: stale messages are looked up here first (and the window is
    # swept for messages sent by others).
    logs: Source | None = None
    # The one-time reports (each report is returned once).
    reports: Source | None = None
    # Inbound messages, pulled as a backstop when INFOBIP_EVENTS_RECONCILE_INBOUND_BACKSTOP is on.
    inbound: Source | None = None
    # How long after sending a missing report is looked for (INFOBIP_EVENTS_RECONCILE_AFTER
    # overrides it).
    delay: timedelta = timedelta(minutes=15)
    # Logs that take one message id a call are read by bulk id where there is one.
    logs_one_id_a_call: bool = False


# ---- sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """The catalogue actions that send on this channel (POST /v1/send, rules, compliance)."""

    text: str
    template: str | None = None


# ---- the spec -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelSpec:
    """Everything about one channel; its module's `SPEC`, one line of the registry."""

    # The webhook path (POST /webhooks/{name}), and the channel its own events are filed under.
    name: str
    # The kinds its parser produces at its path (its fixtures show each: tests/test_registry.py).
    kinds: frozenset[Kind]
    parser: Parser
    auto: Auto | None = None
    reconcile: Reconcile | None = None
    send: Send | None = None
    # How its recipients are addressed: a send's `to` must be a phone number on a PHONE
    # channel, and one opt-out covers every PHONE channel (events/optouts.py); EMAIL wants an
    # address. None: keyed as written (events/contacts.py).
    address: Address | None = None
    # Its webhook answer carries instructions (Number Masking says where to connect the call),
    # so the receiver computes it instead of the plain acknowledgement.
    answers_with_instructions: bool = False
