"""db upgrade and db current: the schema; db prune: retention (events/retention.py)."""

from __future__ import annotations

import argparse
from typing import Any

from events import retention
from events.cli.context import check_sqlite_writable, err, settings, setup, upgrade_sqlite
from storage.db import current_revision, head_revision, make_engine, upgrade


def add_commands(sub: Any) -> None:
    p = sub.add_parser("db", help="the database schema", description="Database schema commands.")
    db_sub = p.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    q = db_sub.add_parser(
        "upgrade",
        help="migrate to the latest schema",
        description="Run the migrations (PostgreSQL is never migrated by serve; run this "
        "once per release, before the new receivers and workers start).",
    )
    q.add_argument("--revision", default="head", help="target revision (default head)")
    q.set_defaults(func=cmd_upgrade)
    q = db_sub.add_parser(
        "current",
        help="show the schema revision",
        description="Print the current and the latest revision; exit 1 when they differ.",
    )
    q.set_defaults(func=cmd_current)
    q = db_sub.add_parser(
        "prune",
        help="delete what is past its retention window",
        description="Delete processed raw webhooks older than INFOBIP_EVENTS_RETENTION_RAW_DAYS "
        "(never pending or failed ones) and events, messages, calls, lookups, rule decisions, "
        "settled actions, masking sessions and reconciliation runs older than "
        "INFOBIP_EVENTS_RETENTION_EVENTS_DAYS, a thousand rows per transaction (the workers do "
        "it every hour too). Progress on stderr, totals on stdout.",
    )
    q.add_argument("--dry-run", action="store_true", help="count what would be deleted")
    q.set_defaults(func=cmd_prune)


def cmd_upgrade(args: argparse.Namespace) -> int:
    found = settings()
    if found.is_sqlite:
        check_sqlite_writable(found)
        upgrade_sqlite(found, args.revision)
    else:
        upgrade(found.database_url, args.revision)
    err(f"database at {args.revision}")
    return 0


def cmd_current(_args: argparse.Namespace) -> int:
    url = settings().database_url
    engine = make_engine(url)
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision(url)
    print(f"current: {current or 'none'}\nhead:    {head}")
    return 0 if current == head else 1


def cmd_prune(args: argparse.Namespace) -> int:
    services = setup(schema=True)
    policy = services.retention
    if policy.keeps_everything:
        err("both retention windows are 0: everything is kept")
        return 0
    if args.dry_run:
        counts = retention.count(services.engine, policy)
        for table, n in counts.items():
            print(f"{table}: {n} rows would be deleted")
    else:
        counts = retention.prune(
            services.engine, policy, progress=lambda table, n: err(f"{table}: {n} deleted")
        )
        for table, n in counts.items():
            print(f"{table}: {n} rows deleted")
    services.stop()
    return 0
