"""db upgrade and db current: the schema."""

from __future__ import annotations

import argparse
from typing import Any

from events.cli.context import err, settings
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


def cmd_upgrade(args: argparse.Namespace) -> int:
    upgrade(settings().database_url, args.revision)
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
