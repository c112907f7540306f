"""The Infobip actions the service runs through Membrane (the 18 popular actions of Membrane's
Infobip connector), each with its input template, what it does, and how its output maps back.

Membrane's input schemas for Infobip are not published (docs/membrane.md, Templates), so
every input is a template: a JSON value whose strings may hold {placeholders}. A string that
is exactly one placeholder takes the value as it is (numbers, lists); a placeholder with no
value drops its key. INFOBIP_EVENTS_MEMBRANE_TEMPLATES (a JSON file) overrides any of them, and
`infobip-events membrane check` validates them against the connection's real schemas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_DROP = object()


@dataclass(frozen=True)
class Action:
    key: str
    description: str
    template: Any
    # "send" actions may have gone through when their outcome is unknown; they carry a
    # message id of ours so that the logs can tell afterwards.
    sends: bool = False
    channel: str | None = None
    # A read of the logs that finds a message by its id: (action key, template) or None.
    lookup: tuple[str, Any] | None = None
    # Infobip's own documented request, for sending through the proxy instead of the action.
    proxy: tuple[str, str, Any] | None = None
    sample: dict[str, Any] = field(default_factory=dict)
    # Not a Membrane action: the dispatcher POSTs {event} to {url} itself (signed with HMAC).
    http: bool = False
    # The input fields the action cannot do without (Infobip's required request fields).
    # Membrane's own input schemas are not published (docs/membrane.md, Templates): the
    # dry-run transport lists these as each action's inputSchema, so `membrane check` has
    # something to check.
    required: tuple[str, ...] = ()

    def input_schema(self) -> dict[str, Any]:
        """A plausible JSON Schema of the action's input: an object with the required fields."""
        return {"type": "object", "required": list(self.required)}


SMS_LOGS = ("get-sms-message-logs", {"messageId": ["{message_id}"], "limit": 10})
EMAIL_LOGS = ("get-email-logs", {"messageId": "{message_id}", "limit": 10})

ACTIONS: dict[str, Action] = {
    a.key: a
    for a in [
        Action(
            "send-sms-message",
            "Send an SMS message",
            {
                "to": "{to}",
                "text": "{text}",
                "from": "{from}",
                "messageId": "{message_id}",
                "callbackData": "{callback_data}",
                "notifyUrl": "{notify_url}",
            },
            sends=True,
            channel="sms",
            lookup=SMS_LOGS,
            proxy=(
                "POST",
                "/sms/3/messages",
                {
                    "messages": [
                        {
                            "sender": "{from}",
                            "destinations": [{"to": "{to}", "messageId": "{message_id}"}],
                            "content": {"text": "{text}"},
                            "callbackData": "{callback_data}",
                            "webhooks": {"delivery": {"url": "{notify_url}"}},
                        }
                    ]
                },
            ),
            required=("to", "text"),
            sample={"to": "41793026727", "text": "Hello", "from": "InfoSMS"},
        ),
        Action(
            "preview-sms-message",
            "Preview how an SMS splits into parts",
            {"text": "{text}", "languageCode": "{language}"},
            required=("text",),
            sample={"text": "Hello"},
        ),
        Action(
            "get-sms-delivery-reports",
            "One-time SMS delivery reports",
            {"messageId": "{message_id}", "bulkId": "{bulk_id}", "limit": "{limit}"},
            sample={"limit": 100},
        ),
        Action(
            "get-sms-message-logs",
            "SMS logs (48 hours, repeatable)",
            {"messageId": "{message_ids}", "bulkId": "{bulk_ids}", "limit": "{limit}"},
            sample={"message_ids": ["m-1"], "limit": 100},
        ),
        Action(
            "send-email",
            "Send an email",
            {
                "from": "{from}",
                "to": "{to}",
                "subject": "{subject}",
                "text": "{text}",
                "html": "{html}",
                "messageId": "{message_id}",
                "callbackData": "{callback_data}",
                "notifyUrl": "{notify_url}",
            },
            sends=True,
            channel="email",
            lookup=EMAIL_LOGS,
            required=("to", "subject"),
            sample={"from": "a@example.com", "to": "b@example.com", "subject": "Hi", "text": "Hi"},
        ),
        Action(
            "validate-email-addresses",
            "Validate email addresses",
            {"to": "{to}"},
            required=("to",),
            sample={"to": "b@example.com"},
        ),
        Action(
            "get-email-delivery-reports",
            "One-time email delivery reports",
            {"messageId": "{message_id}", "bulkId": "{bulk_id}", "limit": "{limit}"},
            sample={"limit": 100},
        ),
        Action(
            "get-email-logs",
            "Email logs (48 hours, repeatable)",
            {"messageId": "{message_id}", "bulkId": "{bulk_id}", "limit": "{limit}"},
            sample={"limit": 100},
        ),
        Action(
            "send-whatsapp-text-message",
            "Send a WhatsApp text (inside the 24-hour window)",
            {
                "from": "{from}",
                "to": "{to}",
                "text": "{text}",
                "messageId": "{message_id}",
                "callbackData": "{callback_data}",
                "notifyUrl": "{notify_url}",
            },
            sends=True,
            channel="whatsapp",
            proxy=(
                "POST",
                "/whatsapp/1/message/text",
                {
                    "from": "{from}",
                    "to": "{to}",
                    "messageId": "{message_id}",
                    "content": {"text": "{text}"},
                    "callbackData": "{callback_data}",
                    "notifyUrl": "{notify_url}",
                },
            ),
            required=("from", "to", "text"),
            sample={"from": "441134960000", "to": "41793026727", "text": "Hi"},
        ),
        Action(
            "send-whatsapp-template-message",
            "Send a WhatsApp template message",
            {
                "from": "{from}",
                "to": "{to}",
                "templateName": "{template}",
                "language": "{language}",
                "placeholders": "{placeholders}",
                "messageId": "{message_id}",
                "callbackData": "{callback_data}",
                "notifyUrl": "{notify_url}",
            },
            sends=True,
            channel="whatsapp",
            required=("from", "to", "templateName"),
            sample={
                "from": "441134960000",
                "to": "41793026727",
                "template": "welcome",
                "language": "en",
                "placeholders": ["Ana"],
            },
        ),
        Action(
            "send-voice-message-tts",
            "Send a text-to-speech voice call",
            {
                "from": "{from}",
                "to": "{to}",
                "text": "{text}",
                "language": "{language}",
                "messageId": "{message_id}",
                "callbackData": "{callback_data}",
                "notifyUrl": "{notify_url}",
            },
            sends=True,
            channel="voice",
            required=("to", "text"),
            sample={"to": "41793026727", "text": "Your code is 1234", "language": "en"},
        ),
        Action(
            "get-voice-delivery-reports",
            "One-time voice delivery reports",
            {"limit": "{limit}"},
            sample={"limit": 100},
        ),
        Action(
            "send-tfa-pin-sms",
            "Send a 2FA PIN by SMS",
            {
                "applicationId": "{application_id}",
                "messageId": "{template_id}",
                "to": "{to}",
                "from": "{from}",
            },
            sends=True,
            channel="sms",
            required=("applicationId", "to"),
            sample={"application_id": "app-1", "template_id": "tpl-1", "to": "41793026727"},
        ),
        Action(
            "resend-tfa-pin-sms",
            "Resend a 2FA PIN by SMS",
            {"pinId": "{pin_id}"},
            sends=True,
            channel="sms",
            required=("pinId",),
            sample={"pin_id": "pin-1"},
        ),
        Action(
            "verify-tfa-pin",
            "Verify a 2FA PIN",
            {"pinId": "{pin_id}", "pin": "{pin}"},
            required=("pinId", "pin"),
            sample={"pin_id": "pin-1", "pin": "1234"},
        ),
        Action(
            "create-tfa-application",
            "Create a 2FA application",
            {"name": "{name}", "enabled": True},
            required=("name",),
            sample={"name": "login"},
        ),
        Action("list-tfa-applications", "List 2FA applications", {}, sample={}),
        Action(
            "create-tfa-message-template",
            "Create a 2FA message template",
            {
                "applicationId": "{application_id}",
                "messageText": "{text}",
                "pinLength": "{pin_length}",
                "pinType": "NUMERIC",
            },
            sample={"application_id": "app-1", "text": "Your PIN is {{pin}}", "pin_length": 4},
        ),
        Action(
            "forward-http",
            "Forward an event as JSON to an HTTP URL, signed with HMAC (rules' forward action)",
            {"url": "{url}", "event": "{event}"},
            http=True,
            sample={"url": "https://example.com/hook", "event": {}},
        ),
    ]
}


def render(template: Any, values: dict[str, Any]) -> Any:
    """The template with its placeholders filled in (see the module docstring)."""
    out = _render(template, values)
    return None if out is _DROP else out


def _render(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, str):
        whole = _PLACEHOLDER.fullmatch(template)
        if whole:
            value = values.get(whole.group(1))
            return _DROP if value is None else value

        def sub(match: re.Match[str]) -> str:
            value = values.get(match.group(1))
            return "" if value is None else str(value)

        return _PLACEHOLDER.sub(sub, template)
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            rendered = _render(value, values)
            if rendered is not _DROP and rendered != {} and rendered != []:
                out[key] = rendered
        return out if out else _DROP
    if isinstance(template, list):
        items = [_render(v, values) for v in template]
        kept = [v for v in items if v is not _DROP]
        return kept if kept else _DROP
    return template


def with_overrides(overrides: dict[str, Any]) -> dict[str, Action]:
    """The catalogue with the templates a deployment overrides (unknown keys are an error)."""
    unknown = set(overrides) - set(ACTIONS)
    if unknown:
        raise ValueError(f"templates for unknown actions: {', '.join(sorted(unknown))}")
    out = dict(ACTIONS)
    for key, template in overrides.items():
        action = ACTIONS[key]
        out[key] = Action(**{**action.__dict__, "template": template})
    return out


def message_ids(output: Any) -> list[str]:
    """Every messageId in an Infobip response, wherever it puts them (messages[].messageId,
    a top-level messageId, results[]...), in order, without repeats."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "messageId" and isinstance(item, (str, int)) and str(item) not in found:
                    found.append(str(item))
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(output)
    return found
