"""reconcile: recover missing reports now, or show the last runs."""

from __future__ import annotations

import argparse
from typing import Any

from events.channels.registry import RECONCILED_CHANNELS
from events.cli.context import err, fail, setup
from events.times import parse_since


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "reconcile",
        help="recover missing reports from Infobip's logs and reports",
        description="Look up the outbound messages whose reports never came (logs first, "
        "then the one-time reports, every response stored before it is processed), record "
        "what was sent by others, and close the 48-hour window.",
    )
    p.add_argument("--channel", choices=sorted(RECONCILED_CHANNELS), help="one channel")
    p.add_argument("--since", help="only messages sent since (ISO 8601 or an age: 6h)")
    p.add_argument("--dry-run", action="store_true", help="say what would be read, read nothing")
    p.add_argument("--runs", type=int, metavar="N", help="show the last N runs instead")
    p.set_defaults(func=cmd_reconcile)


def cmd_reconcile(args: argparse.Namespace) -> int:
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        fail(f"--since: {exc}")
    services = setup(schema=True)
    reconciler = services.reconciler
    if args.runs:
        for run in reconciler.runs(args.runs):
            print(
                f"{run.id}  {run.state:<7} {run.started_at.isoformat()}  checked {run.checked}"
                f"  recovered {run.recovered}  missing {run.still_missing}"
                f"  discovered {run.discovered}  closed {run.closed}  errors {run.errors}"
            )
        return 0
    report = reconciler.run(channel=args.channel, since=since, dry_run=args.dry_run, progress=err)
    if report is None:
        fail("another worker is reconciling now; try again later", 1)
    if args.dry_run:
        for call in report.calls:
            print(call)
    counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in report.counts().items())
    print(f"run {report.id}: {counts}")
    services.stop(0)
    return 0 if report.errors == 0 else 1
