"""send, actions run/ls/retry and membrane check: the outbox and Membrane by hand."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from events.api.models import OutboxAction, SendRequest
from events.channels.registry import SEND_ACTIONS
from events.cli.context import err, fail, settings, setup
from events.outbox import action_row, refusals
from events.services import Services
from events.sessions import audit_forced, window_refusal
from storage.db import write_transaction
from storage.ids import new_id
from storage.queries.outbox import (
    ActionRow,
    enqueue_action,
    get_action,
    list_actions,
    retry_action,
)


def add_commands(sub: Any) -> None:
    _add_send(sub)
    p = sub.add_parser("actions", help="the outbox", description="Outbox actions.")
    a_sub = p.add_subparsers(dest="actions_command", required=True, metavar="ACTIONS_COMMAND")
    q = a_sub.add_parser(
        "run",
        help="run a catalogue action",
        description="Queue a catalogue action (KEY, e.g. get-sms-message-logs) with the values "
        "its template takes (--input '{\"to\": ...}') and run it. A send is refused to a "
        "contact on the suppression list (exit 1) and to a recipient that is not a number "
        "(exit 2).",
    )
    q.add_argument("key", help="the catalogue key (infobip-events membrane check lists them)")
    q.add_argument("--input", default="{}", help="the template's values, a JSON object")
    q.add_argument("--queue-only", action="store_true", help="leave it to the dispatcher")
    q.set_defaults(func=cmd_run)
    q = a_sub.add_parser("ls", help="list actions", description="List outbox actions.")
    q.add_argument("--state", help="pending, running, done, failed, dead or unknown_outcome")
    q.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    q.set_defaults(func=cmd_ls)
    q = a_sub.add_parser(
        "retry",
        help="queue a failed, dead or unknown-outcome action again",
        description="Put an action back in the queue. For an unknown outcome this sends again: "
        "check first that Infobip did not send it.",
    )
    q.add_argument("id", help="the action's id")
    q.set_defaults(func=cmd_retry)
    p = sub.add_parser("membrane", help="Membrane", description="Membrane commands.")
    m_sub = p.add_subparsers(dest="membrane_command", required=True, metavar="MEMBRANE_COMMAND")
    q = m_sub.add_parser(
        "check",
        help="validate the action templates against the connection's schemas",
        description="List the connection's actions and validate every catalogue template "
        "against the action's inputSchema (jsonschema), saying what does not fit.",
    )
    q.set_defaults(func=cmd_membrane_check)


def _add_send(sub: Any) -> None:
    p = sub.add_parser(
        "send",
        help="send a message through Membrane (via the outbox)",
        description="Queue a message in the outbox and dispatch it through Membrane (the "
        "transport of INFOBIP_EVENTS_MEMBRANE_TRANSPORT; dry-run by default). Refused to a "
        "contact on the suppression list (exit 1) and to a number that cannot be read (exit 2).",
    )
    p.add_argument("--channel", required=True, choices=sorted(SEND_ACTIONS), help="the channel")
    p.add_argument("--to", required=True, help="recipient: a number in any writing, or an email")
    p.add_argument("--text", help="the text")
    p.add_argument("--from", dest="sender", help="sender id, number or address")
    p.add_argument("--subject", help="email subject")
    p.add_argument("--html", help="email HTML body")
    p.add_argument(
        "--template", help="WhatsApp template name (what goes outside the 24-hour window)"
    )
    p.add_argument("--language", help="the WhatsApp template's language (e.g. en, es)")
    p.add_argument(
        "--placeholder",
        action="append",
        dest="placeholders",
        help="a WhatsApp template placeholder, in order (repeat the option)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="send WhatsApp text even outside the 24-hour window (audited; needs --reason)",
    )
    p.add_argument("--reason", help="why --force overrides the window (kept in the audit)")
    p.add_argument("--callback-data", help="returned by Infobip with the delivery report")
    p.add_argument("--queue-only", action="store_true", help="leave it to the dispatcher")
    p.set_defaults(func=cmd_send)


def cmd_send(args: argparse.Namespace) -> int:
    doc = {
        "channel": args.channel,
        "to": args.to,
        "text": args.text,
        "from": args.sender,
        "subject": args.subject,
        "html": args.html,
        "template": args.template,
        "language": args.language,
        "placeholders": args.placeholders,
        "callback_data": args.callback_data,
        "force": args.force or None,
        "reason": args.reason,
    }
    try:
        key, values = SendRequest.model_validate(
            {k: v for k, v in doc.items() if v is not None}
        ).action()
    except (ValidationError, ValueError) as exc:
        fail(str(exc).splitlines()[-1] if isinstance(exc, ValidationError) else str(exc))
    force = args.reason if args.force else None
    return _queue_and_run(key, values, run=not args.queue_only, force=force)


def cmd_run(args: argparse.Namespace) -> int:
    try:
        values = json.loads(args.input)
    except ValueError as exc:
        fail(f"--input is not JSON: {exc}")
    if not isinstance(values, dict):
        fail("--input must be a JSON object")
    return _queue_and_run(args.key, values, run=not args.queue_only)


def _queue_and_run(
    action_key: str, values: dict[str, Any], run: bool, force: str | None = None
) -> int:
    """Queue an action (refused, audited, when it sends to a suppressed contact; refused when
    it is WhatsApp text outside the 24-hour window, unless forced); with run, dispatch until it
    has an outcome."""
    services = setup(schema=True)
    try:
        queued = action_row(
            services.catalogue,
            action_key,
            values,
            idempotency_key=f"cli:{new_id()}",
            max_attempts=services.settings.dispatch_max_attempts,
            region=services.settings.default_region,
        )
    except ValueError as exc:
        fail(str(exc))
    refused = _enqueue_unless_refused(services, queued, force)
    if refused:
        fail(f"not queued: {refused}", 1)
    dispatcher = services.dispatcher
    err(f"queued {action_key} as {queued['id']} (transport {dispatcher.client.name})")
    if run:
        dispatcher.run_once()
    with services.engine.connect() as conn:
        row = get_action(conn, queued["id"])
    assert row is not None
    print(OutboxAction.from_row(row).model_dump_json(indent=2))
    services.stop(0)
    return 0 if row.state in ("done", "pending") else 1


def _enqueue_unless_refused(services: Services, queued: ActionRow, force: str | None) -> str | None:
    now = datetime.now(UTC)
    region = services.settings.default_region
    with write_transaction(services.engine) as conn:
        refused = refusals(conn, [queued], services.catalogue, services.policy, now, "cli")
        if refused:
            return refused[queued["id"]]
        values = queued["input"]
        outside = window_refusal(conn, queued["action"], values, region, now)
        if outside is not None and force is None:
            return (
                f"{outside}: give --template (with --language, --placeholder), or --force "
                "with --reason (audited)"
            )
        if outside is not None and force is not None:
            channel = queued["channel"] or ""
            audit_forced(conn, channel, values.get("to"), outside, "cli", now, force)
        enqueue_action(conn, queued)
    return None


def cmd_ls(args: argparse.Namespace) -> int:
    services = setup()
    with services.engine.connect() as conn:
        rows = list_actions(conn, args.state, None, args.limit)
    if not rows:
        print("no actions" + (f" in state {args.state}" if args.state else ""))
    for r in rows:
        error = f"  {r.last_error[:80]}" if r.last_error else ""
        print(f"{r.id}  {r.state:<15} {r.action:<32} attempts {r.attempts}{error}")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    services = setup()
    with write_transaction(services.engine) as conn:
        ok = retry_action(conn, args.id, datetime.now(UTC))
    if not ok:
        fail(f"no failed, dead or unknown-outcome action {args.id}", 1)
    print(f"{args.id} is pending again")
    return 0


def cmd_membrane_check(_args: argparse.Namespace) -> int:
    from events.membrane.check import check

    lines, ok = check(settings())
    print("\n".join(lines))
    return 0 if ok else 1
