"""What the processor keeps for the account with each batch, in the batch's transaction: the
cost ledger's lines (events/costs.py), and a mark on every inbound message that reached a
number that is not one of ours.

Own numbers are the ones synced from Infobip's Numbers API (events/account.py), read from the
database at most once a minute, so that every worker sees a sync made by any of them. They
join the rules file's and INFOBIP_EVENTS_OWN_NUMBERS' own_numbers, so the rules' loop guard
and `recipient_is_own` know them too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from events.automation import RulesHolder
from events.channels.event import ParsedEvent
from events.contacts import is_phone_key, wire_key
from events.costs import ledger_rows
from events.vocabulary import Direction
from storage.queries.account import own_number_keys
from storage.queries.costs import upsert_costs

# The channels whose inbound messages arrive on a number the Numbers API lists (its
# capabilities are SMS, MMS and VOICE); a WhatsApp or Viber sender is registered elsewhere,
# so an inbound message there is never judged by this list.
NUMBER_CHANNELS = frozenset({"sms", "mms"})
REFRESH_SECONDS = 60.0


class Bookkeeping:
    """The processor's account hooks: mark() before the events are written, record() after."""

    def __init__(
        self,
        holder: RulesHolder | None = None,
        *,
        region: str | None = None,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self.holder = holder
        self.region = region
        self.refresh_seconds = refresh_seconds
        self.synced: frozenset[str] = frozenset()
        self._read_at: float | None = None
        self._lock = threading.Lock()
        # Inbound messages to a number that is not ours, since start (for a metric).
        self.not_ours = 0

    def refresh(self, conn: Connection, *, force: bool = False) -> frozenset[str]:
        """The synced numbers, read again when they are older than refresh_seconds."""
        now = time.monotonic()
        if not force and self._read_at is not None and now - self._read_at < self.refresh_seconds:
            return self.synced
        found = own_number_keys(conn)
        self._read_at = now
        if found != self.synced:
            self.synced = found
            if self.holder is not None:
                self.holder.set_synced_own_numbers(found)
        return found

    def mark(self, conn: Connection, events: Sequence[ParsedEvent]) -> int:
        """Mark the inbound messages to a number that is not ours (`not_our_number` in the
        event's data). Nothing is marked until numbers have been synced: without that list
        every number would look foreign. Returns how many were marked."""
        synced = self.refresh(conn)  # also keeps the rules' own numbers current
        inbound = [
            e
            for e in events
            if e.direction == Direction.INBOUND and e.channel in NUMBER_CHANNELS and e.recipient
        ]
        if not inbound or not synced:
            return 0
        own = synced | (self.holder.current.own_numbers if self.holder else frozenset())
        marked = 0
        for event in inbound:
            assert event.recipient is not None
            key = wire_key(event.recipient, self.region)
            if is_phone_key(key) and key not in own:
                event.data = {**event.data, "not_our_number": True}
                marked += 1
        with self._lock:
            self.not_ours += marked
        return marked

    def record(
        self, conn: Connection, new_events: Sequence[tuple[ParsedEvent, int]], now: datetime
    ) -> int:
        """The ledger lines of the batch's new priced events, one statement. How many."""
        rows = ledger_rows(new_events, now)
        upsert_costs(conn, rows)
        return len(rows)
