"""The infobip-events command: one module per group of commands, each adding its own parsers
(`add_commands`) and holding its command functions; the set-up every command shares is in
context.py."""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
from collections.abc import Sequence

from events.cli import (
    account,
    contacts,
    db,
    health,
    lookups,
    masking,
    optouts,
    outbox,
    reconcile,
    rules,
    serve,
    tfa,
    webhooks,
)
from events.cli.context import CommandError
from events.config import SettingsError

# The order `infobip-events --help` lists them in.
GROUPS = (
    serve,
    health,
    db,
    webhooks,
    outbox,
    optouts,
    contacts,
    masking,
    reconcile,
    rules,
    account,
    lookups,
    tfa,
)


def _version() -> str:
    try:
        return importlib.metadata.version("infobip-events")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infobip-events",
        description="A callback URL for Infobip that never loses a report. Settings come from "
        "INFOBIP_EVENTS_* environment variables or a .env file (see the README).",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {_version()}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = " ".join(
        str(v) for k, v in vars(args).items() if k == "command" or k.endswith("_command")
    )
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"infobip-events: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"infobip-events {command}: {exc}", file=sys.stderr)
        return exc.code


if __name__ == "__main__":
    raise SystemExit(main())
