"""The `dry-run` transport (the default): nothing leaves the machine and nothing is read.

It keeps the last RECORDED_CALLS calls it was asked to make (in memory, for a look in a
debugger or a test) and answers as Infobip would at the moment a call is accepted:

- a send is accepted: Infobip's response shape with the message id we chose (a made-up one
  when we chose none) and status PENDING, so the dispatcher tracks the outbound message as
  `unknown`, waiting for a report that will never come;
- every read (logs, delivery reports, inbound pulls, a GET through the proxy) finds nothing:
  nothing was sent, so no log or report can say that anything was delivered, and the
  reconciler counts those messages as still missing;
- a 2FA PIN send answers a PIN id, and no PIN verifies (none was sent);
- a Number Lookup query finds nothing (no record is made up), an asynchronous one is
  accepted and never answered; an email address validates as "unknown" (never skipped); an
  SMS preview counts parts and encoding as Infobip would (`sms_parts`);
- the connection's actions are the catalogue's, each with its required fields as its input
  schema, on one connection, so `infobip-events membrane check` has something to check.

The test doubles of Membrane itself (its API, CLI, auth and failures) live in tests/fakes/.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from events.membrane.catalogue import ACTIONS, Action
from events.membrane.client import ActionInfo, MembraneError, RunResult
from storage.ids import new_id

# How many calls are kept: enough to see what `serve` would have done, bounded for a
# long-running process.
RECORDED_CALLS = 1000
CONNECTION_ID = "dry-run"
# Infobip's status of a message it has accepted and not yet delivered.
PENDING = {
    "groupId": 1,
    "groupName": "PENDING",
    "id": 26,
    "name": "PENDING_ACCEPTED",
    "description": "Message sent to next instance",
}


class DryRunClient:
    name = "dry-run"
    connection_id = CONNECTION_ID

    def __init__(self, *, keep: int = RECORDED_CALLS) -> None:
        self.recorded: deque[dict[str, Any]] = deque(maxlen=keep)

    def run_action(self, key: str, input: dict[str, Any]) -> RunResult:
        # A 2FA PIN is kept nowhere, not even here.
        kept = {k: "[redacted]" if k == "pin" else v for k, v in input.items()}
        self.recorded.append({"action": key, "input": kept})
        action = ACTIONS.get(key)
        if action is None or action.http:
            raise MembraneError(f"Action '{key}' not found", status=404)
        missing = [f for f in action.required if f not in input]
        if missing:
            raise MembraneError(f"input is missing {', '.join(missing)}", status=400)
        output = _output(action, input)
        run_id = f"dry-{new_id()}"
        return RunResult(
            output=output, action_run_id=run_id, raw={"output": output, "actionRunId": run_id}
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        self.recorded.append({"request": f"{method.upper()} {path}", "body": body, "query": query})
        if method.upper() == "GET":
            return _account_answer(path) or {"results": []}
        if path.lstrip("/").startswith("number/"):
            return _number_lookup(path, body)
        # Anything else through the proxy is a send (the catalogue's proxies are SMS and
        # WhatsApp): accepted, with the message ids the body chose.
        return _accepted(_recipients(body), single=path.lstrip("/").startswith("whatsapp/"))

    def list_actions(self) -> list[ActionInfo]:
        return [
            ActionInfo(
                key=a.key, id=f"dry-{a.key}", name=a.description, input_schema=a.input_schema()
            )
            for a in ACTIONS.values()
            if not a.http  # the dispatcher's own, not Membrane's
        ]

    def list_connections(self) -> list[dict[str, Any]]:
        return [
            {
                "id": CONNECTION_ID,
                "name": "Infobip (dry run)",
                "key": "infobip",
                "connected": True,
                "disconnected": False,
                "state": "READY",
            }
        ]


def _output(action: Action, input: dict[str, Any]) -> Any:
    """What Infobip answers an accepted call of this action that sent nothing anywhere."""
    key = action.key
    if key in ("send-tfa-pin-sms", "resend-tfa-pin-sms"):
        return {"pinId": f"dry-{new_id()}", "to": input.get("to"), "smsStatus": "MESSAGE_SENT"}
    if key == "verify-tfa-pin":
        return {"pinId": input.get("pinId"), "verified": False, "attemptsRemaining": 0}
    if action.sends:
        to = input.get("to")
        recipients = [
            {"to": t, "messageId": input.get("messageId") if i == 0 else None}
            for i, t in enumerate(to if isinstance(to, list) else [to])
        ]
        return _accepted(recipients, single=action.channel == "whatsapp")
    if key == "preview-sms-message":
        return preview_answer(str(input.get("text", "")))
    if key == "validate-email-addresses":
        return {"to": input.get("to"), "validMailbox": "unknown"}
    if key == "create-tfa-application":
        return {**input, "applicationId": f"dry-{new_id()}"}
    if key == "create-tfa-message-template":
        return {**input, "messageId": f"dry-{new_id()}"}
    # get-*-logs, get-*-delivery-reports, list-tfa-applications: nothing to find.
    return [] if key.startswith("list-") else {"results": []}


def _number_lookup(path: str, body: Any) -> dict[str, Any]:
    """A Number Lookup asked of nobody: the synchronous query knows nothing (no result, so no
    lookup record is made up); the asynchronous one is accepted, and no result will come."""
    if not path.rstrip("/").endswith("notify"):
        return {"results": []}
    numbers = body.get("to", []) if isinstance(body, dict) else []
    return {
        "bulkId": f"dry-{new_id()}",
        "results": [{"to": n, "status": PENDING} for n in numbers if isinstance(n, str)],
    }


def _recipients(body: Any) -> list[dict[str, Any]]:
    """Every object in a request body that names a recipient (`to`), wherever it sits."""
    found: list[dict[str, Any]] = []
    if isinstance(body, dict):
        if "to" in body:
            found.append(body)
        for value in body.values():
            found.extend(_recipients(value))
    elif isinstance(body, list):
        for item in body:
            found.extend(_recipients(item))
    return found


def _accepted(recipients: list[dict[str, Any]], *, single: bool) -> dict[str, Any]:
    """Infobip's answer to an accepted send: a bulk of messages, or (WhatsApp, one recipient)
    the one message. Each keeps the message id it was given, or gets a made-up one."""
    messages = [
        {
            "to": r.get("to"),
            "messageId": str(r.get("messageId") or f"dry-{new_id()}"),
            "status": PENDING,
        }
        for r in recipients or [{}]
    ]
    if single and len(messages) == 1:
        return {**messages[0], "messageCount": 1}
    return {"bulkId": f"dry-{new_id()}", "messages": messages}


# GSM 03.38: the basic set, one septet each, and the extension set, two (escape + char).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
# Characters a part holds: alone, and in a multipart message (the rest is the UDH).
PART_SIZES = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


def sms_parts(text: str) -> tuple[str, int, int]:
    """(encoding, parts, characters remaining in the last part) of a text sent as SMS:
    GSM-7 when every character is in GSM 03.38 (extension characters count two), else UCS-2
    (counted in UTF-16 code units: an emoji takes two)."""
    if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text):
        encoding, length = "GSM-7", sum(2 if c in GSM7_EXTENDED else 1 for c in text)
    else:
        encoding, length = "UCS-2", len(text.encode("utf-16-le")) // 2
    single, multi = PART_SIZES[encoding]
    parts = 1 if length <= single else -(-length // multi)
    size = single if parts == 1 else multi
    return encoding, parts, size * parts - length


def preview_answer(text: str) -> dict[str, Any]:
    """Infobip's preview shape: how the text splits into SMS parts (no transliteration or
    language table asked, so one preview). Infobip does not name the encoding; it shows in
    the characters a part holds."""
    _, parts, remaining = sms_parts(text)
    return {
        "originalText": text,
        "previews": [
            {
                "textPreview": text,
                "messageCount": parts,
                "charactersRemaining": remaining,
                "configuration": {},
            }
        ],
    }


# ---- account reads (balance, numbers, applications, entities) ------------------------------------

# Infobip's answers with nothing in them: no account is behind a dry run, so it owns no number,
# has no application or entity, and its balance is zero (the balance loop is off in dry-run).
_ACCOUNT_ANSWERS: dict[str, dict[str, Any]] = {
    "/account/1/balance": {"balance": 0, "currency": "EUR"},
    "/numbers/1/numbers": {"numbers": [], "numberCount": 0},
    "/provisioning/1/applications": {
        "results": [],
        "paging": {"page": 0, "size": 0, "totalPages": 0, "totalResults": 0},
    },
    "/provisioning/1/entities": {
        "results": [],
        "paging": {"page": 0, "size": 0, "totalPages": 0, "totalResults": 0},
    },
}


def _account_answer(path: str) -> dict[str, Any] | None:
    return _ACCOUNT_ANSWERS.get("/" + path.strip("/"))


# ---- end account reads ---------------------------------------------------------------------------
