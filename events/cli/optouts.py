"""optouts ls/add/remove/review: the suppression list by hand."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from events.cli.context import fail, setup
from events.contacts import ContactError, contact_key
from events.optouts import ReviewError
from events.services import Services
from storage.db import write_transaction
from storage.queries.optouts import list_opt_out_reviews, list_opt_outs


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "optouts",
        help="the suppression list",
        description="Contacts who opted out: no automated message reaches them. With "
        "INFOBIP_EVENTS_OPTOUT_SCOPE=contact (the default) an opt-out on one phone channel "
        "holds on all of them.",
    )
    o_sub = p.add_subparsers(dest="optouts_command", required=True, metavar="OPTOUTS_COMMAND")
    q = o_sub.add_parser("ls", help="list who opted out", description="List opted-out contacts.")
    q.add_argument("--channel", help="only opt-outs made on this channel")
    q.add_argument("--limit", type=int, default=200, help="how many (default 200)")
    q.set_defaults(func=cmd_ls)
    q = o_sub.add_parser(
        "review",
        help="uncertain opt-outs: list, confirm or dismiss",
        description="Messages that probably ask to stop keep their sender suppressed until a "
        "person decides. Without ID: list those waiting. With ID: confirm (an opt-out) or "
        "dismiss (the contact may be messaged again).",
    )
    q.add_argument("id", nargs="?", help="the review to decide (from the list)")
    q.add_argument("--confirm", action="store_true", help="it is an opt-out")
    q.add_argument("--dismiss", action="store_true", help="it is not: lift the suppression")
    q.add_argument("--limit", type=int, default=200, help="how many to list (default 200)")
    q.set_defaults(func=cmd_review)
    for name, what in (("add", "opt a contact out"), ("remove", "opt a contact back in")):
        q = o_sub.add_parser(name, help=what, description=what.capitalize() + ".")
        q.add_argument(
            "contact",
            help="a phone number in any writing (+41 79 ..., 0041..., digits) or an email",
        )
        q.add_argument("--channel", default="sms", help="the channel (default sms)")
        q.set_defaults(func=cmd_change, opted_out=name == "add")


def cmd_ls(args: argparse.Namespace) -> int:
    services = setup()
    with services.engine.connect() as conn:
        rows = list_opt_outs(conn, args.channel, args.limit)
    if not rows:
        print("nobody has opted out" + (f" of {args.channel}" if args.channel else ""))
    for r in rows:
        scope = services.policy.scope_of(r.channel)
        print(f"{r.channel:<9} {r.contact:<24} scope {scope:<8} since {r.updated_at.isoformat()}")
    return 0


def cmd_change(args: argparse.Namespace) -> int:
    services = setup()
    try:
        contact = contact_key(args.contact, services.settings.default_region)
    except ContactError as exc:
        fail(str(exc))
    now = datetime.now(UTC)
    with write_transaction(services.engine) as conn:
        services.policy.record(conn, args.channel, contact, args.opted_out, now, source="cli")
    covered = ", ".join(services.policy.channels(args.channel))
    print(f"{contact} {'opted out of' if args.opted_out else 'opted back in to'} {covered}")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    services = setup()
    if args.id is None:
        return _list_reviews(services, args.limit)
    if args.confirm == args.dismiss:
        fail("say --confirm or --dismiss")
    try:
        with write_transaction(services.engine) as conn:
            state = services.policy.decide(conn, args.id, args.confirm, datetime.now(UTC), by="cli")
    except ReviewError as exc:
        fail(str(exc), 1)
    print(f"review {args.id} {state}")
    return 0


def _list_reviews(services: Services, limit: int) -> int:
    with services.engine.connect() as conn:
        rows = list_opt_out_reviews(conn, "pending", limit)
    if not rows:
        print("no uncertain opt-out is waiting for a decision")
    for r in rows:
        print(f"{r.id}  {r.channel:<9} {r.contact:<24} {r.created_at.isoformat()}  {r.words!r}")
    return 0
