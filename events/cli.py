"""The infobip-events command."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from events.config import Settings, SettingsError, load_settings
from events.logs import configure_logging

if TYPE_CHECKING:
    from events.masking import MaskingSessions


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"infobip-events: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _check_schema(settings: Settings) -> None:
    """PostgreSQL is upgraded on purpose (db upgrade); SQLite, the embedded default, by itself."""
    from storage.db import current_revision, head_revision, make_engine, upgrade

    if settings.is_sqlite:
        upgrade(settings.database_url)
        return
    engine = make_engine(settings.database_url, connect_timeout=settings.db_connect_timeout_seconds)
    try:
        current = current_revision(engine)
    except Exception as exc:
        print(f"infobip-events: cannot reach the database: {exc}".splitlines()[0], file=sys.stderr)
        raise SystemExit(1) from None
    finally:
        engine.dispose()
    head = head_revision(settings.database_url)
    if current != head:
        print(
            f"infobip-events: the database schema is at {current or 'nothing'}, not {head}. "
            "Run: infobip-events db upgrade",
            file=sys.stderr,
        )
        raise SystemExit(1)


def _serve(args: argparse.Namespace, *, processor: bool) -> int:
    import uvicorn

    from events.app import create_app

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    if processor:
        from events.app import build_rules

        build_rules(settings)  # a bad rules file stops the start here, with every problem
    _check_schema(settings)
    app = create_app(settings, run_processor=processor, auto_migrate=False)
    uvicorn.run(
        app,
        host=args.host or settings.host,
        port=args.port if args.port is not None else settings.port,
        access_log=False,
        log_level="warning",
        # X-Forwarded-For is judged by the service itself, against TRUSTED_PROXIES.
        proxy_headers=False,
        # Infobip holds connections open; keep them alive a little longer than the default.
        timeout_keep_alive=30,
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    return _serve(args, processor=not args.no_processor)


def cmd_receiver(args: argparse.Namespace) -> int:
    return _serve(args, processor=False)


def cmd_worker(args: argparse.Namespace) -> int:
    import signal

    from events.app import build_dispatcher, build_engine, build_processor, build_reconciler

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    _check_schema(settings)
    engine = build_engine(settings, background_checkpoints=not args.once)
    dispatcher = build_dispatcher(settings, engine)
    processor = build_processor(settings, engine, catalogue=dispatcher.catalogue)
    if processor.automation is not None:
        processor.automation.on_enqueue = dispatcher.wake
    signal.signal(signal.SIGHUP, processor.request_rules_reload)
    reconciler = build_reconciler(
        settings, engine, processor, client=dispatcher.client, catalogue=dispatcher.catalogue
    )
    if args.once:
        total = 0
        while True:
            outcomes = processor.run_once()
            total += len(outcomes)
            if len(outcomes) < processor.batch_size:
                break
        ran = 0
        while (n := dispatcher.run_once()) > 0:
            ran += n
        print(f"processed {total} webhooks, ran {ran} actions", file=sys.stderr)
        return 0
    from events.background import Checkpointer

    checkpoints = Checkpointer(engine)
    checkpoints.start()
    dispatcher.start()
    reconciler.start()

    def stop(*_: object) -> None:
        checkpoints.stop(0)
        processor.stop(0)
        dispatcher.stop(0)
        reconciler.stop(0)

    signal.signal(signal.SIGTERM, stop)
    with contextlib.suppress(KeyboardInterrupt):
        processor.run_forever()
    dispatcher.stop()
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from storage.db import upgrade

    settings = _settings()
    upgrade(settings.database_url, args.revision)
    print(f"database at {args.revision}", file=sys.stderr)
    return 0


def cmd_db_current(_args: argparse.Namespace) -> int:
    from storage.db import current_revision, head_revision, make_engine

    settings = _settings()
    engine = make_engine(settings.database_url)
    current = current_revision(engine)
    engine.dispose()
    head = head_revision(settings.database_url)
    print(f"current: {current or 'none'}\nhead:    {head}")
    return 0 if current == head else 1


def cmd_replay(args: argparse.Namespace) -> int:
    from events.app import build_engine, build_processor
    from events.when import parse_since
    from storage.ids import id_floor
    from storage.queries import select_raw_ids

    if not (args.failed or args.since or args.id or args.all):
        print(
            "infobip-events replay: say which rows: --failed, --since AGE_OR_TIME, --id ID "
            "(repeatable) or --all",
            file=sys.stderr,
        )
        return 2
    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"infobip-events replay: --since: {exc}", file=sys.stderr)
        return 2
    engine = build_engine(settings)
    with engine.connect() as conn:
        ids = select_raw_ids(
            conn,
            states=["failed"] if args.failed else None,
            since=since,
            min_id=id_floor(since) if since else None,
            ids=args.id or None,
            channel=args.channel,
        )
    if args.id:
        missing = set(args.id) - set(ids)
        if missing:
            print(f"not found: {', '.join(sorted(missing))}", file=sys.stderr)
    if not ids:
        print("nothing to replay", file=sys.stderr)
        return 0
    if args.dry_run:
        print(f"would replay {len(ids)} webhooks", file=sys.stderr)
        for raw_id in ids:
            print(raw_id)
        return 0
    processor = build_processor(settings, engine)
    counts: Counter[str] = Counter()
    new_events = 0
    step = processor.batch_size
    for start in range(0, len(ids), step):
        outcomes = processor.process_ids(ids[start : start + step])
        counts.update(o.state for o in outcomes)
        new_events += sum(o.new_events for o in outcomes)
        print(f"replayed {min(start + step, len(ids))}/{len(ids)}", file=sys.stderr)
    engine.dispose()
    summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
    print(f"replayed {len(ids)} webhooks: {summary}; {new_events} new events")
    return 0


def _masking() -> MaskingSessions:
    from events.app import build_engine
    from events.masking import MaskingSessions

    settings = _settings()
    return MaskingSessions(build_engine(settings), region=settings.default_region)


def cmd_masking_create(args: argparse.Namespace) -> int:
    try:
        session = _masking().create(args.party_a, args.party_b, args.number, ttl_seconds=args.ttl)
    except ValueError as exc:
        print(f"infobip-events masking create: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(session, indent=2))
    return 0


def cmd_masking_list(args: argparse.Namespace) -> int:
    sessions = _masking().list(include_ended=args.all)
    if not sessions:
        print("no masking sessions" + ("" if args.all else " live (--all shows ended ones)"))
    for s in sessions:
        state = "live" if s["live"] else "ended"
        print(
            f"{s['id']}  {s['party_a']} <-> {s['party_b']} via {s['masking_number']}  "
            f"{state}, expires {s['expires_at']}"
        )
    return 0


def cmd_masking_end(args: argparse.Namespace) -> int:
    if not _masking().end(args.id):
        print(f"no live masking session {args.id}", file=sys.stderr)
        return 1
    print(f"ended {args.id}")
    return 0


def _enqueue_and_run(action_key: str, values: dict[str, object], run: bool) -> int:
    """Put an action in the outbox; with run, dispatch until it has an outcome. A send whose
    recipient cannot be read exits 2; one to a suppressed contact is refused (exit 1)."""
    from datetime import UTC, datetime

    from events.app import action_json, build_dispatcher, build_engine
    from events.outbox import action_row, refusals
    from storage.db import write_transaction
    from storage.ids import new_id
    from storage.queries import enqueue_action, get_action

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    _check_schema(settings)
    engine = build_engine(settings)
    dispatcher = build_dispatcher(settings, engine)
    try:
        queued = action_row(
            dispatcher.catalogue,
            action_key,
            values,
            idempotency_key=f"cli:{new_id()}",
            max_attempts=settings.dispatch_max_attempts,
            region=settings.default_region,
        )
    except ValueError as exc:
        print(f"infobip-events: {exc}", file=sys.stderr)
        return 2
    action_id = queued["id"]
    with write_transaction(engine) as conn:
        now = datetime.now(UTC)
        refused = refusals(conn, [queued], dispatcher.catalogue, dispatcher.policy, now, "cli")
        if not refused:
            enqueue_action(conn, queued)
    if refused:
        # Only the refusal's audit row was written.
        print(f"infobip-events: not queued: {refused[action_id]}", file=sys.stderr)
        return 1
    print(
        f"queued {action_key} as {action_id} (transport {dispatcher.client.name})", file=sys.stderr
    )
    if run:
        dispatcher.run_once()
    with engine.connect() as conn:
        row = get_action(conn, action_id)
    assert row is not None
    print(json.dumps(action_json(row), indent=2))
    dispatcher.stop(0)
    return 0 if row.state in ("done", "pending") else 1


def cmd_send(args: argparse.Namespace) -> int:
    from events.app import send_request

    doc = {
        "channel": args.channel,
        "to": args.to,
        "text": args.text,
        "from": args.sender,
        "subject": args.subject,
        "html": args.html,
        "template": args.template,
        "callback_data": args.callback_data,
    }
    try:
        action_key, values = send_request({k: v for k, v in doc.items() if v is not None})
    except ValueError as exc:
        print(f"infobip-events send: {exc}", file=sys.stderr)
        return 2
    return _enqueue_and_run(action_key, values, run=not args.queue_only)


def cmd_actions_run(args: argparse.Namespace) -> int:
    try:
        values = json.loads(args.input)
    except ValueError as exc:
        print(f"infobip-events actions run: --input is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(values, dict):
        print("infobip-events actions run: --input must be a JSON object", file=sys.stderr)
        return 2
    return _enqueue_and_run(args.key, values, run=not args.queue_only)


def cmd_actions_ls(args: argparse.Namespace) -> int:
    from events.app import build_engine
    from storage.queries import list_actions

    settings = _settings()
    engine = build_engine(settings)
    with engine.connect() as conn:
        rows = list_actions(conn, args.state, None, args.limit)
    if not rows:
        print("no actions" + (f" in state {args.state}" if args.state else ""))
    for r in rows:
        error = f"  {r.last_error[:80]}" if r.last_error else ""
        print(f"{r.id}  {r.state:<15} {r.action:<32} attempts {r.attempts}{error}")
    return 0


def cmd_actions_retry(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from events.app import build_engine
    from storage.db import write_transaction
    from storage.queries import retry_action

    settings = _settings()
    engine = build_engine(settings)
    with write_transaction(engine) as conn:
        ok = retry_action(conn, args.id, datetime.now(UTC))
    if not ok:
        print(f"no failed, dead or unknown-outcome action {args.id}", file=sys.stderr)
        return 1
    print(f"{args.id} is pending again")
    return 0


def cmd_membrane_check(_args: argparse.Namespace) -> int:
    from events.membrane.check import check

    settings = _settings()
    lines, ok = check(settings)
    print("\n".join(lines))
    return 0 if ok else 1


def cmd_optouts(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from events.app import build_engine, build_policy
    from events.contacts import ContactError, contact_key
    from storage.db import write_transaction
    from storage.queries import list_opt_outs

    settings = _settings()
    engine = build_engine(settings)
    policy = build_policy(settings)
    if args.optouts_command == "ls":
        with engine.connect() as conn:
            rows = list_opt_outs(conn, args.channel, args.limit)
        if not rows:
            print("nobody has opted out" + (f" of {args.channel}" if args.channel else ""))
        for r in rows:
            scope = policy.scope_of(r.channel)
            print(
                f"{r.channel:<9} {r.contact:<24} scope {scope:<8} since {r.updated_at.isoformat()}"
            )
        return 0
    if args.optouts_command == "review":
        return _optouts_review(args, engine, policy)
    opted_out = args.optouts_command == "add"
    try:
        contact = contact_key(args.contact, settings.default_region)
    except ContactError as exc:
        print(f"infobip-events optouts {args.optouts_command}: {exc}", file=sys.stderr)
        return 2
    with write_transaction(engine) as conn:
        policy.record(conn, args.channel, contact, opted_out, datetime.now(UTC), source="cli")
    covered = ", ".join(policy.channels(args.channel))
    print(f"{contact} {'opted out of' if opted_out else 'opted back in to'} {covered}")
    return 0


def _optouts_review(args: argparse.Namespace, engine: Any, policy: Any) -> int:
    """List the uncertain opt-outs waiting for a person, or decide one."""
    from datetime import UTC, datetime

    from events.optouts import ReviewError
    from storage.db import write_transaction
    from storage.queries import list_opt_out_reviews

    if args.id is None:
        with engine.connect() as conn:
            rows = list_opt_out_reviews(conn, "pending", args.limit)
        if not rows:
            print("no uncertain opt-out is waiting for a decision")
        for r in rows:
            print(f"{r.id}  {r.channel:<9} {r.contact:<24} {r.created_at.isoformat()}  {r.words!r}")
        return 0
    if args.confirm == args.dismiss:
        print("infobip-events optouts review ID: say --confirm or --dismiss", file=sys.stderr)
        return 2
    try:
        with write_transaction(engine) as conn:
            state = policy.decide(conn, args.id, args.confirm, datetime.now(UTC), by="cli")
    except ReviewError as exc:
        print(f"infobip-events optouts review: {exc}", file=sys.stderr)
        return 1
    print(f"review {args.id} {state}")
    return 0


def cmd_reconcile(args: argparse.Namespace) -> int:
    from events.app import build_engine, build_processor, build_reconciler
    from events.when import parse_since

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    _check_schema(settings)
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"infobip-events reconcile: --since: {exc}", file=sys.stderr)
        return 2
    engine = build_engine(settings)
    reconciler = build_reconciler(settings, engine, build_processor(settings, engine))
    if args.runs:
        for run in reconciler.runs(args.runs):
            print(
                f"{run.id}  {run.state:<7} {run.started_at.isoformat()}  checked {run.checked}"
                f"  recovered {run.recovered}  missing {run.still_missing}"
                f"  discovered {run.discovered}  closed {run.closed}  errors {run.errors}"
            )
        return 0
    report = reconciler.run(
        channel=args.channel,
        since=since,
        dry_run=args.dry_run,
        progress=lambda line: print(line, file=sys.stderr),
    )
    if report is None:
        print("another worker is reconciling now; try again later", file=sys.stderr)
        return 1
    if args.dry_run:
        for call in report.calls:
            print(call)
    counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in report.counts().items())
    print(f"run {report.id}: {counts}")
    return 0 if report.errors == 0 else 1


def _load_rules_file(path: str | None, settings: Settings, command: str) -> Any:
    """The rules of a file checked as serve would check them, or None after saying why."""
    from events.app import rules_options
    from events.membrane.factory import build_catalogue
    from events.rules.load import RulesError, load_rules

    path = path or settings.rules_file
    if not path:
        print(
            f"infobip-events rules {command}: no rules file: name one, or set "
            "INFOBIP_EVENTS_RULES_FILE",
            file=sys.stderr,
        )
        return None
    try:
        return load_rules(path, **rules_options(settings, build_catalogue(settings)))
    except OSError as exc:
        print(f"infobip-events rules {command}: cannot read {path}: {exc}", file=sys.stderr)
    except RulesError as exc:
        print(str(exc), file=sys.stderr)
    return None


def cmd_rules_check(args: argparse.Namespace) -> int:
    settings = _settings()
    rules = _load_rules_file(args.rules, settings, "check")
    if rules is None:
        return 1
    by_stage = Counter(r.stage for r in rules.rules)
    stages = ", ".join(f"{n} {stage}" for stage, n in by_stage.items())
    print(
        f"ok: {rules.source}: {len(rules.rules)} rules ({stages or 'none'}), "
        f"version {rules.version}"
    )
    for rule in rules.rules:
        flags = [rule.stage, f"match {rule.match}"]
        flags += ["DRY RUN"] if rule.dry_run else []
        flags += [f"cap {rule.cap}"] if rule.cap else []
        flags += [f"quiet {rule.quiet_hours} ({rule.quiet_mode})"] if rule.quiet_hours else []
        print(f"  {rule.name}: {', '.join(d.type for d in rule.do)}  [{'; '.join(flags)}]")
    forwards = any(d.type == "forward" for r in rules.rules for d in r.do)
    if forwards and settings.forward_hmac_secret is None:
        print(
            "problem: some rules forward to URLs, which are always signed: set "
            "INFOBIP_EVENTS_FORWARD_HMAC_SECRET",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_rules_test(args: argparse.Namespace) -> int:
    from events.app import build_compliance
    from events.channels.registry import PARSERS
    from events.tryout import try_payload
    from events.when import parse_since

    settings = _settings()
    rules = _load_rules_file(args.rules, settings, "test")
    if rules is None:
        return 1
    parser = PARSERS.get(args.channel)
    if parser is None:
        print(f"--channel: use one of {', '.join(sorted(PARSERS))}", file=sys.stderr)
        return 2
    try:
        body = Path(args.payload).read_bytes()
        at = parse_since(args.at) if args.at else None
    except (OSError, ValueError) as exc:
        print(f"infobip-events rules test: {exc}", file=sys.stderr)
        return 2
    content_type = args.content_type or (
        "application/xml" if body.lstrip().startswith(b"<") else "application/json"
    )
    try:
        results = try_payload(
            rules,
            parser,
            body,
            content_type=content_type,
            at=at,
            compliance=build_compliance(settings),
        )
    except Exception as exc:
        print(f"infobip-events rules test: the payload does not parse: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "event": facts.as_json(),
                        "intent": facts.intent,
                        "decisions": [_decision_json(d) for d in decisions],
                    }
                    for facts, decisions in results
                ],
                indent=2,
                default=str,
            )
        )
        return 0
    for facts, decisions in results:
        who = facts.contact_raw or "-"
        said = f": {facts.text!r}" if facts.text else ""
        print(f"{facts.channel} {facts.kind} ({facts.state or '-'}) {who}{said}")
        if facts.intent:
            print(f"  compliance reads {facts.intent}: handled before the rules")
        if not decisions:
            print("  no rule matches: nothing happens")
        for d in decisions:
            print(f"  {d.describe()}")
    return 0


def _decision_json(d: Any) -> dict[str, Any]:
    return {
        "rule": d.rule,
        "outcome": d.outcome,
        "reason": d.reason,
        "not_before": d.not_before.isoformat() if d.not_before else None,
        "actions": [p.describe() for p in d.planned],
    }


def cmd_rules_replay(args: argparse.Namespace) -> int:
    from events.app import build_compliance, build_engine
    from events.tryout import replay
    from events.when import parse_since

    settings = _settings()
    rules = _load_rules_file(args.rules, settings, "replay")
    if rules is None:
        return 1
    try:
        since = parse_since(args.since)
        until = parse_since(args.until) if args.until else None
    except ValueError as exc:
        print(f"infobip-events rules replay: {exc}", file=sys.stderr)
        return 2
    _check_schema(settings)
    engine = build_engine(settings)
    try:
        report = replay(
            engine,
            rules,
            since,
            until=until,
            compliance=build_compliance(settings),
            progress=lambda n: print(f"\r{n} events replayed", end="", file=sys.stderr),
        )
    finally:
        engine.dispose()
    print(file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_json(), indent=2, default=str))
        return 0
    changed = [e for e in report.entries if e.differs]
    for entry in changed[: args.limit]:
        said = f": {entry.text!r}" if entry.text else ""
        print(f"event {entry.event_id} {entry.channel} {entry.kind} {entry.contact or '-'}{said}")
        for d in entry.would:
            print(f"  would: {d.describe()}")
        if not entry.would:
            print("  would: nothing")
        for past in entry.did:
            acts = "; ".join(a.get("summary", "") for a in past["actions"]) or "nothing"
            print(f"  did:   {past['rule']}: {past['outcome']} ({past['reason']}) -> {acts}")
        if not entry.did:
            print("  did:   nothing")
    if len(changed) > args.limit:
        print(f"... and {len(changed) - args.limit} more (--limit, or --json for all)")
    would = ", ".join(f"{n} {k}" for k, n in sorted(report.would.items())) or "none"
    did = ", ".join(f"{n} {k}" for k, n in sorted(report.did.items())) or "none"
    print(
        f"{report.events} events since {since.isoformat()}: {len(changed)} decided differently. "
        f"Would send {report.would_send} messages ({would}); the rules in force sent "
        f"{report.did_send} ({did}). Nothing was written."
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infobip-events",
        description="A callback URL for Infobip that never loses a report. Settings come from "
        "INFOBIP_EVENTS_* environment variables or a .env file (see the README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def http_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", help="address to listen on (default INFOBIP_EVENTS_HOST)")
        p.add_argument("--port", type=int, help="port (default INFOBIP_EVENTS_PORT, 8080)")

    p = sub.add_parser(
        "serve",
        help="receiver and processor in one process (the embedded default)",
        description="Run the webhook receiver, the read API and the processor in one process. "
        "On SQLite the database file is created and migrated by itself.",
    )
    http_args(p)
    p.add_argument("--no-processor", action="store_true", help="receive only")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "receiver",
        help="the webhook receiver and read API alone (scale out with workers)",
        description="Receive and store webhooks; leave processing to `infobip-events worker`.",
    )
    http_args(p)
    p.set_defaults(func=cmd_receiver)

    p = sub.add_parser(
        "worker",
        help="process stored webhooks (safe to run several against one PostgreSQL)",
        description="Claim pending raw webhooks in batches and turn them into messages and "
        "events. Several workers can share one PostgreSQL (FOR UPDATE SKIP LOCKED).",
    )
    p.add_argument("--once", action="store_true", help="drain what is pending, then exit")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("db", help="database schema", description="Database schema commands.")
    db_sub = p.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    q = db_sub.add_parser(
        "upgrade", help="migrate to the latest schema", description="Run the migrations."
    )
    q.add_argument("--revision", default="head", help="target revision (default head)")
    q.set_defaults(func=cmd_db_upgrade)
    q = db_sub.add_parser(
        "current",
        help="show the schema revision",
        description="Print the current and the latest revision; exit 1 when they differ.",
    )
    q.set_defaults(func=cmd_db_current)

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

    p = sub.add_parser(
        "masking",
        help="Number Masking sessions",
        description="Pairs of parties that reach each other through a masking number: a call "
        "from one party to the masking number is connected to the other.",
    )
    m_sub = p.add_subparsers(dest="masking_command", required=True, metavar="MASKING_COMMAND")
    q = m_sub.add_parser("create", help="pair two parties", description="Create a session.")
    q.add_argument("party_a", help="a phone number (digits, + allowed)")
    q.add_argument("party_b", help="the other phone number")
    q.add_argument("--number", required=True, help="the masking number they call")
    q.add_argument("--ttl", type=int, default=3600, help="seconds the session lives (3600)")
    q.set_defaults(func=cmd_masking_create)
    q = m_sub.add_parser("list", help="show sessions", description="List live sessions.")
    q.add_argument("--all", action="store_true", help="ended and expired ones too")
    q.set_defaults(func=cmd_masking_list)
    q = m_sub.add_parser("end", help="end a session now", description="End a session.")
    q.add_argument("id", help="the session id")
    q.set_defaults(func=cmd_masking_end)

    p = sub.add_parser(
        "send",
        help="send a message through Membrane (via the outbox)",
        description="Queue a message in the outbox and dispatch it through Membrane (the "
        "transport of INFOBIP_EVENTS_MEMBRANE_TRANSPORT; dry-run by default).",
    )
    p.add_argument("--channel", required=True, choices=["sms", "email", "whatsapp", "voice"])
    p.add_argument("--to", required=True)
    p.add_argument("--text")
    p.add_argument("--from", dest="sender", help="sender id, number or address")
    p.add_argument("--subject", help="email subject")
    p.add_argument("--html", help="email HTML body")
    p.add_argument("--template", help="WhatsApp template name")
    p.add_argument("--callback-data")
    p.add_argument("--queue-only", action="store_true", help="leave it to the dispatcher")
    p.set_defaults(func=cmd_send)

    p = sub.add_parser("actions", help="the outbox", description="Outbox actions.")
    a_sub = p.add_subparsers(dest="actions_command", required=True, metavar="ACTIONS_COMMAND")
    q = a_sub.add_parser(
        "run",
        help="run a catalogue action",
        description="Queue a catalogue action (KEY, e.g. get-sms-message-logs) with the values "
        "its template takes (--input '{\"to\": ...}') and run it.",
    )
    q.add_argument("key")
    q.add_argument("--input", default="{}", help="JSON object of template values")
    q.add_argument("--queue-only", action="store_true")
    q.set_defaults(func=cmd_actions_run)
    q = a_sub.add_parser("ls", help="list actions", description="List actions, newest first.")
    q.add_argument(
        "--state", choices=["pending", "running", "done", "failed", "dead", "unknown_outcome"]
    )
    q.add_argument("--limit", type=int, default=50)
    q.set_defaults(func=cmd_actions_ls)
    q = a_sub.add_parser(
        "retry",
        help="queue a failed, dead or unknown-outcome action again",
        description="Put an action back in the queue. For an unknown outcome this sends again: "
        "check first that Infobip did not send it.",
    )
    q.add_argument("id")
    q.set_defaults(func=cmd_actions_retry)

    p = sub.add_parser(
        "rules",
        help="check, test and replay rules files",
        description="Rules files (TOML; see examples/rules.toml): validate one, see what it "
        "would do with a payload, or run it over the stored history without sending anything.",
    )
    r_sub = p.add_subparsers(dest="rules_command", required=True, metavar="RULES_COMMAND")
    q = r_sub.add_parser(
        "check",
        help="validate a rules file",
        description="Validate a rules file (default INFOBIP_EVENTS_RULES_FILE) as serve does at "
        "start; every problem names the rule, the field and the fix. Exit 1 on problems.",
    )
    q.add_argument("rules", nargs="?", help="the rules file (default INFOBIP_EVENTS_RULES_FILE)")
    q.set_defaults(func=cmd_rules_check)
    q = r_sub.add_parser(
        "test",
        help="what a rules file would do with one payload",
        description="Parse PAYLOAD (an Infobip callback body) as --channel would, and print "
        "each rule's decision with its reason. No database, nothing sent; caps start empty.",
    )
    q.add_argument("rules", help="the rules file")
    q.add_argument("payload", help="a file with the callback body (JSON or XML)")
    q.add_argument("--channel", required=True, help="the webhook path's channel, e.g. sms")
    q.add_argument("--at", help="evaluate at this time (ISO 8601) instead of the event's")
    q.add_argument("--content-type", help="the body's content type (guessed from the body)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=cmd_rules_test)
    q = r_sub.add_parser(
        "replay",
        help="run a rules file over the stored history, read-only",
        description="Evaluate a rules file over the events stored since --since, in order, as "
        "if each had just arrived, and report what it would have sent, to whom and why, against "
        "what the rules in force decided. Read-only: nothing is written or sent.",
    )
    q.add_argument("rules", help="the rules file")
    q.add_argument("--since", required=True, help="ISO 8601 or an age (24h, 7d)")
    q.add_argument("--until", help="ISO 8601 or an age")
    q.add_argument("--limit", type=int, default=50, help="events to show (default 50)")
    q.add_argument("--json", action="store_true", help="print the whole report as JSON")
    q.set_defaults(func=cmd_rules_replay)

    p = sub.add_parser(
        "optouts",
        help="the suppression list",
        description="Contacts who opted out: no automated message reaches them.",
    )
    o_sub = p.add_subparsers(dest="optouts_command", required=True, metavar="OPTOUTS_COMMAND")
    q = o_sub.add_parser("ls", help="list who opted out", description="List opted-out contacts.")
    q.add_argument("--channel")
    q.add_argument("--limit", type=int, default=200)
    q.set_defaults(func=cmd_optouts)
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
    q.set_defaults(func=cmd_optouts)
    for name, what in (("add", "opt a contact out"), ("remove", "opt a contact back in")):
        q = o_sub.add_parser(name, help=what, description=what.capitalize() + ".")
        q.add_argument(
            "contact",
            help="a phone number in any writing (+41 79 ..., 0041..., digits) or an email",
        )
        q.add_argument("--channel", default="sms")
        q.set_defaults(func=cmd_optouts)

    p = sub.add_parser(
        "reconcile",
        help="recover missing reports from Infobip's logs and reports",
        description="Look up the outbound messages whose reports never came (logs first, "
        "then the one-time reports, every response stored before it is processed), record "
        "what was sent by others, and close the 48-hour window.",
    )
    p.add_argument(
        "--channel", choices=["sms", "mms", "viber", "email", "voice", "push", "messages-api"]
    )
    p.add_argument("--since", help="only messages sent since (ISO 8601 or an age: 6h)")
    p.add_argument("--dry-run", action="store_true", help="say what would be read, read nothing")
    p.add_argument("--runs", type=int, metavar="N", help="show the last N runs instead")
    p.set_defaults(func=cmd_reconcile)

    p = sub.add_parser("membrane", help="Membrane", description="Membrane commands.")
    m2 = p.add_subparsers(dest="membrane_command", required=True, metavar="MEMBRANE_COMMAND")
    q = m2.add_parser(
        "check",
        help="validate the action templates against the connection's schemas",
        description="List the connection's actions and validate every catalogue template "
        "against the action's inputSchema (jsonschema), saying what does not fit.",
    )
    q.set_defaults(func=cmd_membrane_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"infobip-events: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
