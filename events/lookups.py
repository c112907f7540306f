"""Number Lookup (HLR) results as the service reads them, decided here once for the API, the
rules and SKIP_UNREACHABLE (asking Infobip on demand is events/lookups_on_demand.py):

- reachable: the lookup's status group is DELIVERED (the network knows the subscriber);
- not reachable: UNDELIVERABLE, REJECTED or EXPIRED (absent subscriber, unknown number,
  barred...);
- not known: PENDING, or no status.

The network a number is on now is the one it was ported to, else its original one.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from events.contacts import wire
from events.rules.engine import LastLookup
from storage.queries.calls import StoredLookup, latest_lookups

REACHABLE_GROUPS = frozenset({"DELIVERED"})
UNREACHABLE_GROUPS = frozenset({"UNDELIVERABLE", "REJECTED", "EXPIRED"})


def reachable(outcome: str | None) -> bool | None:
    """Whether a lookup's outcome (its status group) says the number can be reached."""
    group = (outcome or "").upper()
    if group in REACHABLE_GROUPS:
        return True
    if group in UNREACHABLE_GROUPS:
        return False
    return None


def current_network(row: StoredLookup) -> str | None:
    """The network the number is on now: the one it was ported to, else its original."""
    return (row.ported_network if row.ported else None) or row.network


def last_lookup(row: StoredLookup) -> LastLookup:
    """What the rules read of a lookup record."""
    names = {n.casefold() for n in (current_network(row), row.mcc_mnc) if n}
    return LastLookup(
        reachable=reachable(row.outcome),
        ported=row.ported,
        roaming=row.roaming,
        networks=frozenset(names),
        looked_up_at=row.looked_up_at,
    )


def unreachable_reason(row: StoredLookup) -> str:
    """Why a lookup says unreachable, as a decision records it."""
    what = row.error_name or row.outcome or "unreachable"
    return f"lookup of {row.looked_up_at.isoformat()} says {what}"


def lookups_of(conn: Connection, keys: Sequence[str]) -> dict[str, StoredLookup]:
    """The last lookup of each of these phone keys (+E.164), by key."""
    phones = [k for k in keys if k.startswith("+")]
    found = latest_lookups(conn, [wire(k) for k in phones])
    return {k: found[wire(k)] for k in phones if wire(k) in found}
