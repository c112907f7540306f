"""balance, costs, numbers, applications: the account as Infobip sees it, read through
Membrane (events/account.py), and what it cost (the ledger)."""

from __future__ import annotations

import argparse
import csv
import sys
from typing import Any

from events.account import AccountError
from events.api.account import CostAnswer, cost_answer
from events.cli.context import fail, setup
from events.services import Services
from events.times import parse_since
from storage.queries import account as account_q
from storage.queries import costs as costs_q


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "balance",
        help="read the account balance now, or show its history",
        description="Read the balance through Membrane (GET /account/1/balance), keep it and "
        "alert when it is below INFOBIP_EVENTS_BALANCE_ALERT_BELOW. In dry-run the answer is "
        "shown and nothing is kept.",
    )
    p.add_argument("--history", type=int, metavar="N", help="show the last N readings instead")
    p.set_defaults(func=cmd_balance)
    p = sub.add_parser(
        "costs",
        help="what Infobip priced, summed by a dimension",
        description="The cost ledger summed per group and per currency (currencies are never "
        "added together), and how many messages had no priced report.",
    )
    p.add_argument("--from", dest="since", default="30d", help="since (ISO 8601 or an age: 7d)")
    p.add_argument("--to", dest="until", help="until (ISO 8601 or an age); default now")
    p.add_argument(
        "--group-by", choices=costs_q.GROUPS, default="day", help="the dimension (default day)"
    )
    p.add_argument("--channel", help="only this channel")
    p.add_argument("--application-id", help="only this CPaaS X application")
    p.add_argument("--entity-id", help="only this CPaaS X entity")
    p.add_argument("--csv", action="store_true", help="CSV on stdout, one line per group")
    p.set_defaults(func=cmd_costs)
    for name, what in (
        ("numbers", "own numbers (GET /numbers/1/numbers)"),
        ("applications", "CPaaS X applications and entities (GET /provisioning/1/...)"),
    ):
        p = sub.add_parser(name, help=what, description=f"Sync or list {what}.")
        q_sub = p.add_subparsers(dest=f"{name}_command", required=True, metavar="COMMAND")
        q = q_sub.add_parser("sync", help="read them from Infobip now", description="Sync now.")
        q.set_defaults(func=cmd_sync, what=name)
        q = q_sub.add_parser("list", help="show what was synced", description="List them.")
        q.set_defaults(func=cmd_list, what=name)


def cmd_balance(args: argparse.Namespace) -> int:
    services = setup(schema=True)
    if args.history:
        with services.engine.connect() as conn:
            rows = account_q.balance_history(conn, None, None, args.history)
        if not rows:
            print("no balance read yet: run infobip-events balance")
        for r in rows:
            print(f"{r.checked_at.isoformat()}  {format(r.balance, 'f')} {r.currency}")
        return 0
    try:
        reading = services.account.check_balance()
    except AccountError as exc:
        fail(str(exc), 1)
    hours = (
        "unknown (nothing spent in 24 hours)"
        if reading.hours_left is None
        else (f"{reading.hours_left} at the last 24 hours' spend")
    )
    print(f"balance {format(reading.balance, 'f')} {reading.currency}; hours left: {hours}")
    if not reading.stored:
        print("dry-run: no account is behind it; nothing kept")
    if reading.alerted:
        print(f"below {services.settings.balance_alert_below}: a balance_low event was made")
    services.stop(0)
    return 0


def cmd_costs(args: argparse.Namespace) -> int:
    try:
        since = parse_since(args.since)
        until = parse_since(args.until) if args.until else None
    except ValueError as exc:
        fail(f"--from/--to: {exc}")
    services = setup(schema=True)
    where = costs_q.CostFilter(
        since=since,
        until=until,
        channel=args.channel,
        application_id=args.application_id,
        entity_id=args.entity_id,
    )
    answer = cost_answer(services, where, args.group_by)
    if args.csv:
        _csv(answer)
    else:
        _table(answer)
    return 0


def _csv(answer: CostAnswer) -> None:
    out = csv.writer(sys.stdout)
    out.writerow([answer.group_by, "name", "currency", "messages", "units", "amount"])
    for g in answer.groups:
        out.writerow(
            [g.key or "", g.name or "", g.currency, g.messages, f"{g.units:f}", f"{g.amount:f}"]
        )


def _table(answer: CostAnswer) -> None:
    if not answer.groups:
        print("nothing priced in this window")
    for g in answer.groups:
        name = f" ({g.name})" if g.name else ""
        print(f"{(g.key or '-') + name:<40} {g.messages:>8} msgs  {g.amount:f} {g.currency}")
    for t in answer.totals:
        print(f"{'total':<40} {t.messages:>8} msgs  {t.amount:f} {t.currency}")
    by_channel = ", ".join(f"{c} {n}" for c, n in answer.unpriced.by_channel.items())
    print(
        f"unpriced: {answer.unpriced.messages} messages"
        + (f" ({by_channel})" if by_channel else "")
    )


def cmd_sync(args: argparse.Namespace) -> int:
    services = setup(schema=True)
    account = services.account
    try:
        if args.what == "numbers":
            print(f"{account.sync_numbers()} numbers synced")
        else:
            print(f"{account.sync_directory('application')} applications synced")
            print(f"{account.sync_directory('entity')} entities synced")
    except AccountError as exc:
        fail(str(exc), 1)
    if account.dry_run:
        print("dry-run: no account is behind it; nothing kept")
    services.stop(0)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    services: Services = setup(schema=True)
    with services.engine.connect() as conn:
        if args.what == "numbers":
            numbers = account_q.list_numbers(conn)
            if not numbers:
                print("no numbers synced: run infobip-events numbers sync")
            for n in numbers:
                print(
                    f"{n.number:<18} {n.country or '-':<3} {n.type or '-':<22} "
                    f"{','.join(n.capabilities)}"
                )
            return 0
        for kind in ("application", "entity"):
            for item_id, name, _ in account_q.directory(conn, kind):
                print(f"{kind:<12} {item_id:<40} {name or ''}")
    return 0
