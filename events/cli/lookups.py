"""lookup NUMBER...: Number Lookup (HLR) on demand, through Membrane (events/lookups.py)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from events.cli.context import err, fail, setup
from events.contacts import ContactError
from events.lookups import current_network, reachable
from events.lookups_on_demand import LookupResult


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "lookup",
        help="look phone numbers up (HLR) through Membrane",
        description="Ask Infobip whether numbers can be reached, on which network, ported or "
        "roaming (Number Lookup, through Membrane). A result younger than "
        "INFOBIP_EVENTS_LOOKUP_TTL is reused. With INFOBIP_EVENTS_PUBLIC_URL set the lookup "
        "is asynchronous: the results come to /webhooks/number-lookup. Exits 1 when a lookup "
        "failed.",
    )
    p.add_argument("numbers", nargs="+", metavar="NUMBER", help="phone numbers, any writing")
    p.add_argument("--refresh", action="store_true", help="ask Infobip even when cached")
    p.add_argument("--json", action="store_true", help="one JSON object per number")
    p.set_defaults(func=cmd_lookup)


def describe(result: LookupResult) -> str:
    row = result.lookup
    if result.source == "pending":
        return f"{result.number}  pending: the result comes to /webhooks/number-lookup"
    if row is None:
        return f"{result.number}  {result.source}: {result.error or 'no result'}"
    state = {True: "reachable", False: "unreachable", None: "not known"}[reachable(row.outcome)]
    flags = [f for f, on in (("ported", row.ported), ("roaming", row.roaming)) if on]
    network = current_network(row) or row.mcc_mnc or "network not known"
    why = f" ({row.error_name})" if row.error_name and row.error_name != "NO_ERROR" else ""
    extra = f", {', '.join(flags)}" if flags else ""
    note = f"  [{result.error}]" if result.error else ""
    return (
        f"{result.number}  {state}{why} on {network}{extra}  "
        f"({result.source}, {row.looked_up_at.isoformat()}){note}"
    )


def as_json(result: LookupResult) -> dict[str, Any]:
    row = result.lookup
    return {
        "number": result.number,
        "source": result.source,
        "reachable": reachable(row.outcome) if row else None,
        "network": current_network(row) if row else None,
        "ported": row.ported if row else None,
        "roaming": row.roaming if row else None,
        "outcome": row.outcome if row else None,
        "error": result.error or (row.error_name if row else None),
        "looked_up_at": row.looked_up_at.isoformat() if row else None,
    }


def cmd_lookup(args: argparse.Namespace) -> int:
    services = setup(schema=True)
    try:
        keys = services.lookups.keys(args.numbers)
    except (ContactError, ValueError) as exc:
        fail(str(exc))
    err(f"looking up {len(keys)} number(s)...")
    results = services.lookups.ask(keys, refresh=args.refresh)
    for result in results:
        print(json.dumps(as_json(result)) if args.json else describe(result))
    return 1 if any(r.source == "failed" for r in results) else 0
