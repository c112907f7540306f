"""tfa setup: find or create the Infobip 2FA application and its SMS message template, and
print the settings that name them."""

from __future__ import annotations

import argparse
from typing import Any

from events.cli.context import err, fail, setup
from events.membrane.catalogue import Action, render
from events.membrane.client import MembraneClient, MembraneError

DEFAULT_NAME = "infobip-events"
DEFAULT_TEXT = "Your verification code is {{pin}}"


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "tfa",
        help="two-factor PINs (Infobip 2FA)",
        description="Set up the Infobip 2FA application and message template that POST "
        "/v1/verify uses.",
    )
    t_sub = p.add_subparsers(dest="tfa_command", required=True, metavar="TFA_COMMAND")
    q = t_sub.add_parser(
        "setup",
        help="find or create the 2FA application and message template",
        description="Looks for a 2FA application of this name (list-tfa-applications) and "
        "creates it when there is none (create-tfa-application); then creates its SMS "
        "message template (create-tfa-message-template), unless --message-id names one. "
        "Prints the INFOBIP_EVENTS_TFA_* settings to configure.",
    )
    q.add_argument("--name", default=DEFAULT_NAME, help=f"the application's name ({DEFAULT_NAME})")
    q.add_argument(
        "--text",
        default=DEFAULT_TEXT,
        help="the message text; {{pin}} is where the PIN goes (Infobip's placeholder)",
    )
    q.add_argument("--pin-length", type=int, default=6, help="digits in a PIN (6)")
    q.add_argument("--message-id", help="an existing template of the application: keep it")
    q.set_defaults(func=cmd_setup)


def run(
    client: MembraneClient, catalogue: dict[str, Action], key: str, values: dict[str, Any]
) -> Any:
    action = catalogue[key]
    try:
        return client.run_action(key, render(action.template, values) or {}).output
    except MembraneError as exc:
        fail(f"{key} failed: {exc}", 1)


def applications(output: Any) -> list[dict[str, Any]]:
    """Infobip's GET /2fa/2/applications answers a bare list; a wrapper is accepted too."""
    if isinstance(output, dict):
        output = output.get("items") or output.get("results") or output.get("applications")
    return [a for a in output or [] if isinstance(a, dict)]


def cmd_setup(args: argparse.Namespace) -> int:
    if "{{pin}}" not in args.text:
        fail("--text must hold {{pin}}, where Infobip puts the PIN")
    services = setup()
    client, catalogue = services.membrane, services.catalogue
    found = [
        a
        for a in applications(run(client, catalogue, "list-tfa-applications", {}))
        if a.get("name") == args.name
    ]
    if found:
        app = found[0]
        err(f"found the 2FA application {args.name!r}")
    else:
        app = run(client, catalogue, "create-tfa-application", {"name": args.name})
        err(f"created the 2FA application {args.name!r}")
    app_id = app.get("applicationId") if isinstance(app, dict) else None
    if not app_id:
        fail(f"Infobip's answer names no applicationId: {app!r}", 1)
    message_id = args.message_id
    if not message_id:
        template = run(
            client,
            catalogue,
            "create-tfa-message-template",
            {"application_id": app_id, "text": args.text, "pin_length": args.pin_length},
        )
        message_id = template.get("messageId") if isinstance(template, dict) else None
        if not message_id:
            fail(f"Infobip's answer names no messageId: {template!r}", 1)
        err("created its SMS message template")
    ttl = (app.get("configuration") or {}).get("pinTimeToLive")
    print(f"INFOBIP_EVENTS_TFA_APPLICATION_ID={app_id}")
    print(f"INFOBIP_EVENTS_TFA_MESSAGE_ID={message_id}")
    if ttl:
        print(f"INFOBIP_EVENTS_TFA_PIN_TTL={ttl}")
    return 0
