"""replay: stored webhooks through the current parsers again."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from events.cli.context import err, fail, setup
from events.times import parse_since
from storage.ids import id_floor
from storage.queries.raw import select_raw_ids


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "replay",
        help="re-run stored webhooks through the current parsers",
        description="Re-run chosen raw webhooks through the current parsers. Idempotent: "
        "events already stored are not stored again, so messages do not move twice.",
    )
    p.add_argument("--failed", action="store_true", help="the webhooks that failed to parse")
    p.add_argument("--since", help="received since a time (ISO 8601) or an age (15m, 24h, 7d)")
    p.add_argument("--id", action="append", help="a webhook id (repeatable)")
    p.add_argument("--channel", help="only this channel")
    p.add_argument("--all", action="store_true", help="every stored webhook")
    p.add_argument("--dry-run", action="store_true", help="list what would be replayed")
    p.set_defaults(func=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    if not (args.failed or args.since or args.id or args.all):
        fail("say which rows: --failed, --since AGE_OR_TIME, --id ID (repeatable) or --all")
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        fail(f"--since: {exc}")
    services = setup()
    with services.engine.connect() as conn:
        ids = select_raw_ids(
            conn,
            states=["failed"] if args.failed else None,
            since=since,
            min_id=id_floor(since) if since else None,
            ids=args.id or None,
            channel=args.channel,
        )
    missing = set(args.id or ()) - set(ids)
    if missing:
        err(f"not found: {', '.join(sorted(missing))}")
    if not ids:
        err("nothing to replay")
    elif args.dry_run:
        err(f"would replay {len(ids)} webhooks")
        print("\n".join(ids))
    else:
        _replay(services.processor, ids)
    services.stop()
    return 0


def _replay(processor: Any, ids: list[str]) -> None:
    counts: Counter[str] = Counter()
    new_events = 0
    step = processor.batch_size
    for start in range(0, len(ids), step):
        outcomes = processor.process_ids(ids[start : start + step])
        counts.update(o.state for o in outcomes)
        new_events += sum(o.new_events for o in outcomes)
        err(f"replayed {min(start + step, len(ids))}/{len(ids)}")
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    print(f"replayed {len(ids)} webhooks: {summary}; {new_events} new events")
