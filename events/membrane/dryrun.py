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
# A GSM-7 SMS part holds 160 characters alone and 153 in a multipart message.
SMS_PART, SMS_MULTIPART = 160, 153


class DryRunClient:
    name = "dry-run"
    connection_id = CONNECTION_ID

    def __init__(self, *, keep: int = RECORDED_CALLS) -> None:
        self.recorded: deque[dict[str, Any]] = deque(maxlen=keep)

    def run_action(self, key: str, input: dict[str, Any]) -> RunResult:
        self.recorded.append({"action": key, "input": input})
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
        return _preview(str(input.get("text", "")))
    if key == "validate-email-addresses":
        return {"to": input.get("to"), "validMailbox": "unknown"}
    if key == "create-tfa-application":
        return {**input, "applicationId": f"dry-{new_id()}"}
    if key == "create-tfa-message-template":
        return {**input, "messageId": f"dry-{new_id()}"}
    # get-*-logs, get-*-delivery-reports, list-tfa-applications: nothing to find.
    return [] if key.startswith("list-") else {"results": []}


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


def _preview(text: str) -> dict[str, Any]:
    """How the text splits into SMS parts, counted in GSM-7 characters (an estimate: Infobip's
    own preview also knows when a character needs UCS-2)."""
    parts = 1 if len(text) <= SMS_PART else -(-len(text) // SMS_MULTIPART)
    size = SMS_PART if parts == 1 else SMS_MULTIPART
    return {
        "originalText": text,
        "previews": [
            {
                "textPreview": text,
                "messageCount": parts,
                "charactersRemaining": size * parts - len(text),
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
