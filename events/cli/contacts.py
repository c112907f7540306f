"""contacts forget: erase a contact everywhere (events/forget.py)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from events.cli.context import err, fail, setup
from events.contacts import ContactError
from events.forget import erasable_key, forget


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "contacts",
        help="one contact across every table",
        description="What the service keeps about one person.",
    )
    c_sub = p.add_subparsers(dest="contacts_command", required=True, metavar="CONTACTS_COMMAND")
    q = c_sub.add_parser(
        "forget",
        help="erase a phone number or an email address everywhere",
        description="Delete the rows about a contact (its messages, events, calls, lookups, "
        "decisions, masking sessions, opt-outs) and replace it by [erased] wherever else it is "
        "written (raw webhooks, other events, outbox actions...), in any writing. It stays "
        "suppressed, as a keyed hash (INFOBIP_EVENTS_ERASURE_KEY): no automated message "
        "reaches it again. Audited: who, when, rows per table. Cannot be undone.",
    )
    q.add_argument(
        "contact", help="a phone number in any writing (+41 79 ..., 0041..., digits) or an email"
    )
    q.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    q.add_argument(
        "--actor", help="who asks, for the audit (default: cli:$USER, the user running this)"
    )
    q.set_defaults(func=cmd_forget)


def cmd_forget(args: argparse.Namespace) -> int:
    services = setup(schema=True)
    key = services.policy.erasure
    if key is None:
        fail(
            "set INFOBIP_EVENTS_ERASURE_KEY first (a secret of 16 characters or more, kept as "
            "long as the database): an erased contact is kept as a hash under it",
            1,
        )
    try:
        contact = erasable_key(args.contact, services.settings.default_region)
    except ContactError as exc:
        fail(str(exc))
    if not args.yes:
        if not sys.stdin.isatty():
            fail("erasing cannot be undone: say --yes (or run it on a terminal to be asked)")
        answer = input(f"Erase {contact} from every table? This cannot be undone. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            err("nothing erased")
            return 1
    actor = args.actor or f"cli:{_user()}"
    done = forget(
        services.engine,
        key,
        contact,
        actor=actor,
        progress=lambda table, n: err(f"{table}: {n} rows"),
    )
    for table, counts in sorted(done.rows.items()):
        print(f"{table:<18} {counts['deleted']:>7} deleted {counts['redacted']:>7} redacted")
    print(f"erased {contact}: {done.total} rows; kept as {done.contact_hash[:16]}... (by {actor})")
    services.stop()
    return 0


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
