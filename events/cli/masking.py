"""masking create/list/end: Number Masking sessions by hand."""

from __future__ import annotations

import argparse
import json
from typing import Any

from events.cli.context import fail, setup


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "masking",
        help="Number Masking sessions",
        description="Pairs of parties that reach each other through a masking number: a call "
        "from one party to the masking number is connected to the other.",
    )
    m_sub = p.add_subparsers(dest="masking_command", required=True, metavar="MASKING_COMMAND")
    q = m_sub.add_parser("create", help="pair two parties", description="Create a session.")
    q.add_argument("party_a", help="a phone number in any writing (+41 79 ..., 0041..., digits)")
    q.add_argument("party_b", help="the other phone number")
    q.add_argument("--number", required=True, help="the masking number they call")
    q.add_argument("--ttl", type=int, default=3600, help="seconds the session lives (3600)")
    q.set_defaults(func=cmd_create)
    q = m_sub.add_parser("list", help="show sessions", description="List live sessions.")
    q.add_argument("--all", action="store_true", help="ended and expired ones too")
    q.set_defaults(func=cmd_list)
    q = m_sub.add_parser("end", help="end a session now", description="End a session.")
    q.add_argument("id", help="the session id")
    q.set_defaults(func=cmd_end)


def cmd_create(args: argparse.Namespace) -> int:
    masking = setup().masking
    try:
        session = masking.create(args.party_a, args.party_b, args.number, ttl_seconds=args.ttl)
    except ValueError as exc:
        fail(str(exc))
    print(json.dumps(session, indent=2))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    sessions = setup().masking.list(include_ended=args.all)
    if not sessions:
        print("no masking sessions" + ("" if args.all else " live (--all shows ended ones)"))
    for s in sessions:
        state = "live" if s["live"] else "ended"
        print(
            f"{s['id']}  {s['party_a']} <-> {s['party_b']} via {s['masking_number']}  "
            f"{state}, expires {s['expires_at']}"
        )
    return 0


def cmd_end(args: argparse.Namespace) -> int:
    if not setup().masking.end(args.id):
        fail(f"no live masking session {args.id}", 1)
    print(f"ended {args.id}")
    return 0
