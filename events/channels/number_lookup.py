"""Number Lookup (HLR) results sent to the notify URL: one lookup record per number.

The status here is the outcome of the lookup, not of a message, so these items never touch the
messages table; the processor keeps them as lookups (network, ported, roaming, outcome).
"""

from __future__ import annotations

from events.channels.common import (
    Item,
    ParsedEvent,
    as_datetime,
    as_str,
    error_of,
    fingerprint,
    not_known,
    results_parser,
    status_of,
)

CHANNEL = "number-lookup"


def lookup(item: Item) -> ParsedEvent:
    number = as_str(item.get("to"))
    if number is None:
        raise ValueError("the looked-up number (to) is missing")
    status = status_of(item.get("status"))
    return ParsedEvent(
        kind="number_lookup",
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
