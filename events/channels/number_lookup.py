"""Number Lookup (HLR) results sent to the notify URL: one lookup record per number.

The status here is the outcome of the lookup, not of a message, so these items never touch the
messages table; the processor keeps them as lookups (network, ported, roaming, outcome).
"""

from __future__ import annotations

from events.channels.envelope import not_known, results_parser
from events.channels.event import ParsedEvent
from events.channels.spec import Auto, ChannelSpec, ItemRow
from events.channels.status import error_of, status_of
from events.channels.values import Item, as_datetime, as_str, fingerprint
from events.vocabulary import Kind

CHANNEL = "number-lookup"


def lookup(item: Item) -> ParsedEvent:
    number = as_str(item.get("to"))
    if number is None:
        raise ValueError("the looked-up number (to) is missing")
    status = status_of(item.get("status"))
    return ParsedEvent(
        kind=Kind.NUMBER_LOOKUP,
        channel=CHANNEL,
        discriminator=fingerprint(item),
        message_id=None,
        sub_type=status.group_name if status else None,
        recipient=number,
        occurred_at=as_datetime(item.get("doneAt")),
        status=status,
        error=error_of(item.get("error")),
        data=dict(item),
    )


parse = results_parser(CHANNEL, lookup, not_known(CHANNEL, "Number Lookup"))


def _is_lookup(item: Item) -> bool:
    """Only a lookup result says what network a number is on (its status is the lookup's
    outcome, not a message's)."""
    return any(k in item for k in ("originalNetwork", "ported", "roaming", "imsi", "servingMSC"))


SPEC = ChannelSpec(
    name=CHANNEL,
    kinds=frozenset({Kind.NUMBER_LOOKUP}),
    parser=parse,
    auto=Auto(items=(ItemRow(10, _is_lookup, lookup),)),
)
