"""rules check/test/replay: a rules file validated, tried on a payload, run over history."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from events.channels.registry import PARSERS
from events.cli.context import ensure_schema, err, fail, settings
from events.config import Settings
from events.membrane.catalogue import render
from events.membrane.client import MembraneError
from events.membrane.factory import build_catalogue, build_client
from events.rules.load import RulesError, load_rules
from events.rules.model import RuleSet
from events.rules.simulate import replay, try_payload
from events.services import build_compliance, build_engine, rules_options
from events.times import parse_since


def add_commands(sub: Any) -> None:
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
    q.add_argument(
        "--preview",
        action="store_true",
        help="also ask Infobip (preview-sms-message, through Membrane) how each reply and send "
        "text splits into SMS parts, and in which encoding; exit 1 when a preview fails",
    )
    q.set_defaults(func=cmd_check)
    q = r_sub.add_parser(
        "test",
        help="what a rules file would do with one payload",
        description="Parse PAYLOAD (an Infobip callback body) as --channel would, and print "
        "each rule's decision with its reason. No database, nothing sent; caps start empty.",
    )
    q.add_argument("rules", help="the rules file")
    q.add_argument("payload", help="a file with the callback body (JSON or XML)")
    q.add_argument(
        "--channel", required=True, help=f"its webhook path: {', '.join(sorted(PARSERS))}"
    )
    q.add_argument("--at", help="evaluate at this time (ISO 8601) instead of the event's")
    q.add_argument(
        "--last-inbound",
        help="when the contact last wrote to our WhatsApp sender (ISO 8601, or an age before "
        "--at, e.g. 2h): opens the 24-hour window WhatsApp text needs (an inbound payload "
        "opens its own)",
    )
    q.add_argument("--content-type", help="the body's content type (guessed from the body)")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=cmd_test)
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
    q.set_defaults(func=cmd_replay)


def _load(path: str | None, found: Settings, *, forwards: bool = False) -> RuleSet:
    """The rules of a file checked as serve would check them; exit 1 saying why not.
    `forwards`: a rule may forward without the secret (test and replay forward nothing)."""
    path = path or found.rules_file
    if not path:
        fail("no rules file: name one, or set INFOBIP_EVENTS_RULES_FILE", 1)
    options = rules_options(found, build_catalogue(found))
    if forwards:
        options["forward_secret_set"] = True
    try:
        return load_rules(path, **options)
    except OSError as exc:
        fail(f"cannot read {path}: {exc}", 1)
    except RulesError as exc:
        fail(str(exc), 1)


def cmd_check(args: argparse.Namespace) -> int:
    found = settings()
    rules = _load(args.rules, found)
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
        does = ", ".join(d.type + (" (or template)" if d.template else "") for d in rule.do)
        if rule.otherwise:
            does += f"; else {', '.join(d.type for d in rule.otherwise)}"
        print(f"  {rule.name}: {does}  [{'; '.join(flags)}]")
    return preview_texts(found, rules) if args.preview else 0


# ---- rules check --preview (issue 13, item 7) ---------------------------------------------------
# The answers are printed, not stored: a preview describes a text of ours, not a message or a
# person, and `rules check` runs without a database.


def encoding_of(length: int, parts: int, remaining: int) -> str:
    """The encoding Infobip's preview implies. It does not name one, but the room it leaves
    does: a GSM-7 part holds 160 characters (153 in a multipart message), a UCS-2 part 70
    (67). Extension characters (GSM-7) and emoji (UCS-2) take two, which moves the figure a
    little, never across the line between the two."""
    per_part = (length + remaining) / max(parts, 1)
    return "GSM-7" if per_part > 100 else "UCS-2"


def preview_texts(found: Settings, rules: RuleSet) -> int:
    """One line per reply or send text: its SMS parts and encoding, as Infobip counts them."""
    client = build_client(found)
    action = build_catalogue(found)["preview-sms-message"]
    failed = 0
    print("SMS preview (preview-sms-message):")
    for rule in rules.rules:
        for do in rule.do:
            if do.type not in ("reply", "send") or not do.text:
                continue
            try:
                output = client.run_action(
                    action.key, render(action.template, {"text": do.text}) or {}
                )
            except MembraneError as exc:
                failed += 1
                print(f"  {rule.name}: preview failed: {exc}")
                continue
            print(f"  {rule.name}: {_preview_line(do.text, output.output)}")
    return 1 if failed else 0


def _preview_line(text: str, output: Any) -> str:
    previews = output.get("previews") if isinstance(output, dict) else None
    first = previews[0] if isinstance(previews, list) and previews else None
    if not isinstance(first, dict) or not isinstance(first.get("messageCount"), int):
        return f"no preview in Infobip's answer: {json.dumps(output)[:200]}"
    parts, remaining = first["messageCount"], int(first.get("charactersRemaining") or 0)
    shown = str(first.get("textPreview", text))
    encoding = encoding_of(len(shown), parts, remaining)
    variables = " (its {variables} as written)" if "{" in text else ""
    plural = "part" if parts == 1 else "parts"
    return f"{parts} SMS {plural}, {encoding}, {remaining} characters left{variables}"


def cmd_test(args: argparse.Namespace) -> int:
    if args.channel not in PARSERS:
        fail(f"--channel: use one of {', '.join(sorted(PARSERS))}")
    found = settings()
    rules = _load(args.rules, found, forwards=True)
    try:
        body = Path(args.payload).read_bytes()
        at = parse_since(args.at) if args.at else None
        last_inbound = parse_since(args.last_inbound, at) if args.last_inbound else None
    except (OSError, ValueError) as exc:
        fail(str(exc))
    content_type = args.content_type or (
        "application/xml" if body.lstrip().startswith(b"<") else "application/json"
    )
    try:
        results = try_payload(
            rules,
            PARSERS[args.channel],
            body,
            content_type=content_type,
            at=at,
            compliance=build_compliance(found),
            last_inbound=last_inbound,
        )
    except Exception as exc:
        fail(f"the payload does not parse: {exc}")
    if args.json:
        print(json.dumps([_tried_json(f, d, w) for f, d, w in results], indent=2, default=str))
        return 0
    for facts, decisions, window in results:
        said = f": {facts.text!r}" if facts.text else ""
        who = facts.contact_raw or "-"
        print(f"{facts.channel} {facts.kind} ({facts.state or '-'}) {who}{said}")
        if facts.intent:
            print(f"  compliance reads {facts.intent}: handled before the rules")
        if window:
            print(f"  {window}")
        if not decisions:
            print("  no rule matches: nothing happens")
        for d in decisions:
            print(f"  {d.describe()}")
    return 0


def _tried_json(facts: Any, decisions: list[Any], window: str | None) -> dict[str, Any]:
    return {
        "event": facts.as_json(),
        "intent": facts.intent,
        "session": window,
        "decisions": [
            {
                "rule": d.rule,
                "outcome": d.outcome,
                "reason": d.reason,
                "not_before": d.not_before.isoformat() if d.not_before else None,
                "actions": [p.describe() for p in d.planned],
            }
            for d in decisions
        ],
    }


def cmd_replay(args: argparse.Namespace) -> int:
    found = settings()
    rules = _load(args.rules, found, forwards=True)
    try:
        since = parse_since(args.since)
        until = parse_since(args.until) if args.until else None
    except ValueError as exc:
        fail(str(exc))
    ensure_schema(found)
    engine = build_engine(found)
    try:
        report = replay(
            engine,
            rules,
            since,
            until=until,
            compliance=build_compliance(found),
            progress=lambda n: print(f"\r{n} events replayed", end="", file=sys.stderr),
        )
    finally:
        engine.dispose()
    err("")
    if args.json:
        print(json.dumps(report.as_json(), indent=2, default=str))
        return 0
    _print_replay(report, since, args.limit)
    return 0


def _print_replay(report: Any, since: Any, limit: int) -> None:
    changed = [e for e in report.entries if e.differs]
    for entry in changed[:limit]:
        said = f": {entry.text!r}" if entry.text else ""
        print(f"event {entry.event_id} {entry.channel} {entry.kind} {entry.contact or '-'}{said}")
        if entry.session:
            print(f"  {entry.session}")
        for d in entry.would:
            print(f"  would: {d.describe()}")
        if not entry.would:
            print("  would: nothing")
        for past in entry.did:
            acts = "; ".join(a.get("summary", "") for a in past["actions"]) or "nothing"
            print(f"  did:   {past['rule']}: {past['outcome']} ({past['reason']}) -> {acts}")
        if not entry.did:
            print("  did:   nothing")
    if len(changed) > limit:
        print(f"... and {len(changed) - limit} more (--limit, or --json for all)")
    would = ", ".join(f"{n} {k}" for k, n in sorted(report.would.items())) or "none"
    did = ", ".join(f"{n} {k}" for k, n in sorted(report.did.items())) or "none"
    print(
        f"{report.events} events since {since.isoformat()}: {len(changed)} decided differently. "
        f"Would send {report.would_send} messages ({would}); the rules in force sent "
        f"{report.did_send} ({did}). Nothing was written."
    )
