"""The cost ledger's lines, from the prices Infobip reports. Pure.

A priced report is one line per message: `price.pricePerMessage` times the parts billed
(`messageCount`; legacy SMS says `smsCount`, MMS `mmsCount`), in `price.currency`. Voice
reports price by the second (`price.pricePerSecond`) and a Number Masking status report by
its own top-level `pricePerSecond`: times the charged seconds (`chargedDuration`, else the
duration). A later report of the same message replaces its line (storage/queries/costs.py).

Infobip's quirk: email reports carry `{"pricePerMessage": 0, "currency": "UNKNOWN"}`, which
prices nothing, so such a message stays unpriced rather than priced at zero in no currency.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from events.channels.event import ParsedEvent
from events.channels.values import as_decimal
from events.contacts import is_phone_key, wire_key
from events.vocabulary import Direction
from storage.queries.costs import UNIT_DIGITS, CostRow, to_units

NO_CURRENCY = frozenset({"", "UNKNOWN"})
# phonenumbers' region for a number of no country ("001": satellite, international services).
UNKNOWN_REGION = "001"
_QUANTUM = Decimal(1).scaleb(-UNIT_DIGITS)
_MAX_UNITS = 2**63 - 1


def cost_line(event: ParsedEvent, event_id: int | None, received_at: datetime) -> CostRow | None:
    """The ledger line of a priced event, or None when it carries no usable price."""
    price = event.price
    if price is None or price.amount is None or event.message_id is None:
        return None
    currency = (price.currency or "").strip().upper()
    if currency in NO_CURRENCY:
        return None
    units, unit = billed_units(event)
    try:
        amount = (price.amount * units).quantize(_QUANTUM)
        amount_units = to_units(amount)
    except InvalidOperation:
        return None  # a price or count no ledger can hold (a broken report): left unpriced
    if abs(amount_units) > _MAX_UNITS:  # beyond a 64-bit column: the same
        return None
    message_id = event.message_id
    if event.channel == "number-masking":
        # Each leg of a masked call has its own correlationId and price.
        message_id = str(event.data.get("correlationId") or message_id)
    return {
        "channel": event.channel,
        "message_id": message_id,
        "currency": currency,
        "amount": amount,
        "amount_units": amount_units,
        "unit_price": price.amount,
        "units": units,
        "unit": unit,
        "country": country_of(event),
        "application_id": event.application_id,
        "entity_id": event.entity_id,
        "sender": event.sender,
        "priced_at": event.done_at or event.occurred_at or received_at,
        "source_event_id": event_id,
        "updated_at": received_at,
    }


def billed_units(event: ParsedEvent) -> tuple[Decimal, str]:
    """(how many units the price is for, "message" or "second")."""
    data = event.data
    price = data.get("price")
    if isinstance(price, dict) and "pricePerSecond" in price and "pricePerMessage" not in price:
        call = data.get("call")
        if not isinstance(call, dict):
            call = {}
        seconds = _first(call.get("charged_seconds"), call.get("duration_seconds"))
        return seconds if seconds is not None else Decimal(0), "second"
    if "pricePerSecond" in data:  # Number Masking: the price sits at the top level
        seconds = _first(data.get("calculatedDuration"), data.get("duration"))
        return seconds if seconds is not None else Decimal(0), "second"
    count = _first(data.get("messageCount"), data.get("smsCount"), data.get("mmsCount"))
    return count if count is not None and count > 0 else Decimal(1), "message"


def _first(*values: Any) -> Decimal | None:
    for value in values:
        found = as_decimal(value)
        if found is not None:
            return found
    return None


def country_of(event: ParsedEvent) -> str | None:
    """The ISO region of the contact's number (the recipient of an outbound message, the
    sender of an inbound one); None for an address that is not a phone number."""
    contact = event.sender if event.direction == Direction.INBOUND else event.recipient
    if not contact:
        return None
    text = contact.strip()
    # Infobip writes numbers as international digits without "+": no need to parse those.
    digits = text[1:] if text.startswith("+") else text
    if not digits.isdigit():
        key = wire_key(text)
        if not is_phone_key(key):
            return None
        digits = key[1:]
    return region_of(digits)


@lru_cache(maxsize=65536)
def region_of(digits: str) -> str | None:
    """The region of an international number by its country calling code; a code that several
    regions share (+1, +7, +44...) is settled by phonenumbers' full parse. Cheap, because every
    report of a busy ledger has a number of its own."""
    for size in (1, 2, 3):
        regions = COUNTRY_CODE_TO_REGION_CODE.get(int(digits[:size]))
        if regions:
            break
    else:
        return None
    if len(regions) == 1:
        return regions[0] if regions[0] != UNKNOWN_REGION else None
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse("+" + digits))
    except phonenumbers.NumberParseException:
        return None
    return region if region and region != UNKNOWN_REGION else None


def ledger_rows(
    new_events: Iterable[tuple[ParsedEvent, int | None]], received_at: datetime
) -> list[CostRow]:
    """The ledger lines of a batch's new events."""
    rows = []
    for event, event_id in new_events:
        if event.price is not None:
            row = cost_line(event, event_id, received_at)
            if row is not None:
                rows.append(row)
    return rows
