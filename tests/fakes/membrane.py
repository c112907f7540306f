"""A fake Membrane and a fake Infobip behind it, for tests and benchmarks (never imported by
the product: the `dry-run` transport is events/membrane/dryrun.py).

FakeInfobip answers like Infobip (message ids, reports once, logs again and again, using the
real pull-API responses of tests/fixtures/pull as seeds); FakeMembrane puts Membrane's shapes,
auth and errors around it (docs/membrane.md, The fake Membrane); `membrane_api.py` serves it
over HTTP and `membrane_cli.py` as an executable. Knobs: latency, hangs, failures, 429 with
Retry-After, garbage output, and "apply then hang" (the send happens, the answer never comes).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt

from events.membrane.catalogue import ACTIONS
from tests.fakes import infobip_more
from tests.fakes.infobip_account import FakeAccount

PULL_RESPONSES = Path(__file__).resolve().parent.parent / "fixtures" / "pull"
REPORT_EXAMPLES = {
    "sms": "sms_v3_reports.json",
    "mms": "mms_v2_reports.json",
    "viber": "viber_v2_reports.json",
    "messages-api": "messages_api_reports.json",
    "voice": "voice_v1_reports.json",
}
INBOX_EXAMPLES = {"sms": "sms_v1_inbox_reports.json"}
PENDING = {
    "groupId": 1,
    "groupName": "PENDING",
    "id": 26,
    "name": "PENDING_ACCEPTED",
    "description": "Message sent to next instance",
}
DELIVERED = {
    "groupId": 3,
    "groupName": "DELIVERED",
    "id": 5,
    "name": "DELIVERED_TO_HANDSET",
    "description": "Message delivered to handset",
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


@dataclass
class FakeInfobip:
    """What Infobip keeps: sent messages, and which reports were already handed out."""

    sent: dict[str, dict[str, Any]] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The account's balance, numbers, applications and entities (tests/fakes/infobip_account.py).
    account: FakeAccount = field(default_factory=FakeAccount)
    # ---- issue 13: Number Lookup, 2FA, email validation (tests/fakes/infobip_more.py) ----
    hlr: dict[str, dict[str, Any]] = field(default_factory=dict)  # number -> result fields
    notified: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (url, body)
    pins: dict[str, dict[str, Any]] = field(default_factory=dict)  # pinId -> the PIN and state
    tfa_apps: list[dict[str, Any]] = field(default_factory=list)
    tfa_templates: list[dict[str, Any]] = field(default_factory=list)
    invalid_emails: dict[str, str] = field(default_factory=dict)  # address -> reasons
    # ---- end of issue 13 ----

    def send(self, channel: str, to: Any, fields: dict[str, Any]) -> dict[str, Any]:
        recipients = to if isinstance(to, list) else [to]
        with self.lock:
            bulk_id = f"fake-bulk-{next(self.counter)}"
            messages = []
            for number in recipients:
                message_id = fields.get("messageId") or f"fake-{next(self.counter)}"
                self.sent[message_id] = {
                    "channel": channel,
                    "to": number,
                    "bulkId": bulk_id,
                    "sentAt": _now(),
                    **fields,
                }
                messages.append(
                    {
                        "messageId": message_id,
                        "status": PENDING,
                        "destination": number,
                        "to": number,
                    }
                )
        if channel == "whatsapp" and len(messages) == 1:
            return {
                "to": messages[0]["to"],
                "messageCount": 1,
                "messageId": messages[0]["messageId"],
                "status": PENDING,
            }
        return {"bulkId": bulk_id, "messages": messages}

    def logs(self, ids: list[str], channel: str | None = None) -> dict[str, Any]:
        """The logs of these ids; with no ids, of everything sent on the channel (a sweep)."""
        with self.lock:
            if not ids:
                ids = [i for i, m in self.sent.items() if channel in (None, m["channel"])]
            found = [
                (i, self.sent[i])
                for i in ids
                if i in self.sent and channel in (None, self.sent[i]["channel"])
            ]
        return {
            "results": [
                {
                    "messageId": i,
                    "destination": m["to"],
                    "bulkId": m["bulkId"],
                    "sentAt": m["sentAt"],
                    "doneAt": m["sentAt"],
                    "status": DELIVERED,
                    "messageCount": 1,
                }
                for i, m in found
            ]
        }

    def reports(self, channel: str) -> dict[str, Any]:
        """Each report once (as Infobip does), for what was sent on this channel; the first
        call also hands out the real pull-API example of that channel."""
        with self.lock:
            fresh = [
                (i, m)
                for i, m in self.sent.items()
                if m["channel"] == channel and i not in self.reported
            ]
            self.reported.update(i for i, _ in fresh)
            seeded = self._once(f"reports:{channel}", REPORT_EXAMPLES.get(channel))
        return {
            "results": seeded.get("results", [])
            + [
                {
                    "messageId": i,
                    "to": m["to"],
                    "bulkId": m["bulkId"],
                    "sentAt": m["sentAt"],
                    "doneAt": _now(),
                    "status": DELIVERED,
                    "messageCount": 1,
                    "callbackData": m.get("callbackData"),
                }
                for i, m in fresh
            ]
        }

    def by_bulk(self, bulk_id: str) -> list[str]:
        with self.lock:
            return [i for i, m in self.sent.items() if m["bulkId"] == bulk_id]

    def inbox(self, path: str) -> dict[str, Any]:
        """The one-time inbound pulls: the real example of the product, once."""
        with self.lock:
            doc = self._once(f"inbox:{path}", INBOX_EXAMPLES.get(path.strip("/").split("/")[0]))
        return doc or {"results": [], "messageCount": 0, "pendingMessageCount": 0}

    def _once(self, key: str, name: str | None) -> dict[str, Any]:
        """A real pull-API response from the fixtures, the first time only (Infobip hands each
        report out once)."""
        if name is None or key in self.reported:
            return {}
        self.reported.add(key)
        doc = json.loads((PULL_RESPONSES / name).read_text())
        return doc if isinstance(doc, dict) else {}


@dataclass
class Knobs:
    latency: float = 0.0
    hang: bool = False
    fail_status: int | None = None  # answer this status (500, 404, ...)
    rate_limit: bool = False
    retry_after: float | None = None
    garbage: bool = False
    apply_then_hang: bool = False  # the send happens, the answer never comes
    fail_times: int = 0  # fail this many calls, then work
    # Infobip's throttles: action key or API path -> calls a minute; faster calls get 429.
    throttle_per_minute: dict[str, int] = field(default_factory=dict)


class FakeMembrane:
    """Membrane's behaviour around FakeInfobip (docs/membrane.md, The fake Membrane),
    transport-neutral."""

    def __init__(
        self,
        *,
        secret: str = "fake-workspace-secret-0123456789abcdef",
        workspace_key: str = "fake-ws",
        connection_id: str = "con_fake",
        pat_tokens: tuple[str, ...] = ("pat-fake",),
        infobip: FakeInfobip | None = None,
        knobs: Knobs | None = None,
    ) -> None:
        self.secret = secret
        self.workspace_key = workspace_key
        self.connection_id = connection_id
        self.pat_tokens = pat_tokens
        self.infobip = infobip or FakeInfobip()
        self.knobs = knobs or Knobs()
        self.runs: list[tuple[str, dict[str, Any]]] = []
        self.requests: list[tuple[str, str, Any]] = []
        self.hung = 0  # calls held by the hang knob so far
        self._run_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._last_call: dict[str, float] = {}

    # ---- auth ------------------------------------------------------------------------------

    def authenticate(self, header: str | None) -> tuple[int, dict[str, Any]] | None:
        if not header or not header.startswith("Bearer "):
            return 401, error("bad_request", "not_authenticated", "missing bearer token")
        token = header[len("Bearer ") :]
        if token in self.pat_tokens:
            return None
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"])
        except jwt.PyJWTError as exc:
            return 401, error("bad_request", "not_authenticated", f"invalid token: {exc}")
        if (claims.get("workspaceKey") or claims.get("iss")) != self.workspace_key:
            return 401, error("bad_request", "not_authenticated", "unknown workspace")
        return None

    # ---- calls -----------------------------------------------------------------------------

    def actions(self, connection_id: str | None) -> tuple[int, dict[str, Any]]:
        if connection_id != self.connection_id:
            return 404, error("bad_request", "not_found", f"Connection '{connection_id}' not found")
        items = []
        # Membrane's own actions only: forward-http is the dispatcher's, not Membrane's.
        for index, action in enumerate(a for a in ACTIONS.values() if not a.http):
            items.append(
                {
                    "id": f"act_{index}",
                    "key": action.key,
                    "name": action.description,
                    "type": "connector-operation",
                    "state": "READY",
                    "connectionId": self.connection_id,
                    "inputSchema": action.input_schema(),
                }
            )
        return 200, {"items": items}

    def connections(self) -> tuple[int, dict[str, Any]]:
        return 200, {
            "items": [
                {
                    "id": self.connection_id,
                    "name": "Infobip",
                    "key": "infobip",
                    "connected": True,
                    "disconnected": False,
                    "state": "READY",
                }
            ]
        }

    def throttled(self, target: str) -> bool:
        """True when this call comes sooner after the last one than the throttle allows."""
        limit = self.knobs.throttle_per_minute.get(target)
        if not limit:
            return False
        now = time.monotonic()
        with self._lock:
            last = self._last_call.get(target)
            self._last_call[target] = now
        # A little slack for the clocks of two processes.
        return last is not None and now - last < 0.9 * 60.0 / limit

    def knob_failure(self) -> tuple[int, dict[str, Any]] | None:
        """A forced failure from the knobs, before anything runs."""
        knobs = self.knobs
        if knobs.fail_times > 0:
            with self._lock:
                knobs.fail_times -= 1
            return 500, error("internal", None, "forced failure")
        if knobs.rate_limit:
            return 429, error("bad_request", "rate_limit_exceeded", "too many requests")
        if knobs.fail_status is not None:
            kind = "internal" if knobs.fail_status >= 500 else "bad_request"
            return knobs.fail_status, error(kind, None, "forced failure")
        return None

    def run(self, key: str, connection_id: str | None, input: Any) -> tuple[int, dict[str, Any]]:
        if connection_id != self.connection_id:
            return 404, error("bad_request", "not_found", f"Connection '{connection_id}' not found")
        if (key not in ACTIONS or ACTIONS[key].http) and not key.startswith("act_"):
            return 404, error("bad_request", "not_found", f"Action '{key}' not found")
        if not isinstance(input, dict):
            return 400, error("bad_request", None, "input must be an object")
        if self.throttled(key):
            return 429, error("connection", "rate_limit_exceeded", "Infobip throttled the call")
        required = ACTIONS[key].required if key in ACTIONS else ()
        missing = [f for f in required if f not in input]
        if missing:
            return 400, error("bad_request", None, f"input is missing {', '.join(missing)}")
        with self._lock:
            self.runs.append((key, input))
            run_id = f"arl_{next(self._run_ids)}"
        return 200, {"output": self.output(key, input), "actionRunId": run_id}

    def output(self, key: str, input: dict[str, Any]) -> Any:
        # ---- issue 13: lookups, 2FA, validation, preview (tests/fakes/infobip_more.py) ----
        answered = infobip_more.run(self.infobip, key, input)
        if answered is not None:
            return answered
        # ---- end of issue 13 ----
        action = ACTIONS.get(key)
        if action is not None and action.sends and action.channel and "pin" not in key:
            fields = {k: v for k, v in input.items() if k not in ("to",)}
            return self.infobip.send(action.channel, input.get("to"), fields)
        if key in ("get-sms-message-logs", "get-email-logs"):
            ids = input.get("messageId") or input.get("messageIds") or []
            channel = "sms" if key.startswith("get-sms") else "email"
            if input.get("bulkId") and not ids:
                ids = self.infobip.by_bulk(str(input["bulkId"]))
                if not ids:
                    return {"results": []}
            return self.infobip.logs(ids if isinstance(ids, list) else [ids], channel)
        if key.endswith("delivery-reports"):
            channel = key.split("-")[1]
            return self.infobip.reports(channel)
        if key == "send-tfa-pin-sms" or key == "resend-tfa-pin-sms":
            return {
                "pinId": f"pin-{next(self._run_ids)}",
                "to": input.get("to"),
                "smsStatus": "MESSAGE_SENT",
            }
        if key == "verify-tfa-pin":
            return {
                "pinId": input.get("pinId"),
                "verified": input.get("pin") == "1234",
                "attemptsRemaining": 2,
            }
        if key == "preview-sms-message":
            text = str(input.get("text", ""))
            return {
                "originalText": text,
                "previews": [
                    {
                        "textPreview": text,
                        "messageCount": max(1, -(-len(text) // 160)),
                        "charactersRemaining": 160 - len(text) % 160,
                    }
                ],
            }
        if key == "validate-email-addresses":
            return {"to": input.get("to"), "validMailbox": "true", "validSyntax": True}
        if key == "list-tfa-applications":
            return [{"applicationId": "app-1", "name": "login", "enabled": True}]
        return {"ok": True, "input": input}

    def proxy(self, method: str, path: str, body: Any, query: dict[str, str]) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((method, path, body))
        path = "/" + path.lstrip("/")
        if self.throttled(path):
            return 429, {
                "requestError": {
                    "serviceException": {"messageId": "TOO_MANY_REQUESTS", "text": "throttled"}
                }
            }
        account = self.infobip.account.answer(method, path, query)  # account reads
        if account is not None:
            return account
        if method == "POST" and path == "/sms/3/messages" and isinstance(body, dict):
            out: dict[str, Any] = {"bulkId": None, "messages": []}
            for message in body.get("messages", []):
                for dest in message.get("destinations", []):
                    sent = self.infobip.send(
                        "sms",
                        dest.get("to"),
                        {
                            "messageId": dest.get("messageId"),
                            "callbackData": message.get("callbackData"),
                            "text": (message.get("content") or {}).get("text"),
                        },
                    )
                    out["bulkId"] = sent["bulkId"]
                    out["messages"] += sent["messages"]
            return 200, out
        if method == "POST" and path.startswith("/whatsapp/1/message/text"):
            return 200, self.infobip.send(
                "whatsapp",
                body.get("to"),
                {"messageId": body.get("messageId"), "callbackData": body.get("callbackData")},
            )
        if method == "GET" and path.endswith("/logs"):
            ids = query.get("messageId", "")
            channel = {"tts": "voice"}.get(path.split("/")[1], path.split("/")[1])
            return 200, self.infobip.logs([i for i in ids.split(",") if i], channel)
        if method == "GET" and ("/inbox/" in path or path.endswith("/inbound")):
            return 200, self.infobip.inbox(path)
        # ---- issue 13: Number Lookup through the proxy (tests/fakes/infobip_more.py) ----
        looked = infobip_more.number_lookup(self.infobip, path, body) if method == "POST" else None
        if looked is not None:
            return looked
        # ---- end of issue 13 ----
        if method == "GET" and path.endswith("/reports"):
            channel = {"tts": "voice"}.get(path.split("/")[1], path.split("/")[1])
            return 200, self.infobip.reports(channel)
        return 404, {
            "requestError": {
                "serviceException": {"messageId": "NOT_FOUND", "text": f"no such path {path}"}
            }
        }


def error(kind: str, key: str | None, message: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": kind, "message": message}
    if key:
        out["key"] = key
    return out
