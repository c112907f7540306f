"""What the fake Infobip answers for Number Lookup, 2FA, email validation and SMS preview
(issue 13, items 5-7), in Infobip's documented shapes; its state lives on FakeInfobip (the
block "issue 13" in tests/fakes/membrane.py), so the fake CLI can keep it between runs.

- `POST /number/1/query`: a result per number, DELIVERED on Swisscom unless `hlr` overrides
  it; `POST /number/1/notify`: PENDING per number, and the callback Infobip would post later is
  kept in `notified` (url, body) for a test to deliver.
- 2FA: a PIN per send (random digits of the template's pinLength, kept in `pins` so that a
  test can read the phone), the same pinId on a resend, pinAttempts per application, a TTL;
  `list-tfa-applications` answers a bare list, as Infobip's GET /2fa/2/applications does.
- `validate-email-addresses`: valid, unless the address is in `invalid_emails` (address ->
  detailedReasons).
- `preview-sms-message`: parts and characters remaining as Infobip counts them.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from events.membrane.dryrun import preview_answer

if TYPE_CHECKING:
    from tests.fakes.membrane import FakeInfobip

SWISSCOM = {
    "networkName": "Swisscom",
    "networkPrefix": "79",
    "countryName": "Switzerland",
    "countryPrefix": "41",
}
PENDING = {
    "groupId": 1,
    "groupName": "PENDING",
    "id": 3,
    "name": "PENDING_WAITING_DELIVERY",
    "description": "Message sent, waiting for delivery report",
}
NO_ERROR = {
    "groupId": 0,
    "groupName": "OK",
    "id": 0,
    "name": "NO_ERROR",
    "description": "No Error",
    "permanent": False,
}
ABSENT = {
    "status": {
        "groupId": 2,
        "groupName": "UNDELIVERABLE",
        "id": 9,
        "name": "UNDELIVERABLE_NOT_DELIVERED",
        "description": "Message sent not delivered",
    },
    "error": {
        "groupId": 1,
        "groupName": "HANDSET_ERRORS",
        "id": 27,
        "name": "EC_ABSENT_SUBSCRIBER",
        "description": "Absent Subscriber",
        "permanent": False,
    },
}
DEFAULT_APP = {"pinAttempts": 10, "pinTimeToLive": "15m"}


def lookup_result(infobip: FakeInfobip, number: str) -> dict[str, Any]:
    # The fake's own status (imported here: tests/fakes/membrane.py imports this module).
    from tests.fakes.membrane import DELIVERED

    result = {
        "to": number,
        "mccMnc": "22801",
        "imsi": "228012120181810",
        "originalNetwork": SWISSCOM,
        "ported": False,
        "roaming": False,
        "status": DELIVERED,
        "error": NO_ERROR,
    }
    return {**result, **infobip.hlr.get(number, {})}


def number_lookup(infobip: FakeInfobip, path: str, body: Any) -> tuple[int, dict[str, Any]] | None:
    """Infobip's answer to a Number Lookup through the proxy, or None for another path."""
    numbers = body.get("to") if isinstance(body, dict) else None
    if path not in ("/number/1/query", "/number/1/notify"):
        return None
    if not isinstance(numbers, list) or not numbers:
        return 400, {"requestError": {"serviceException": {"messageId": "BAD_REQUEST"}}}
    results = [lookup_result(infobip, str(n)) for n in numbers]
    if path.endswith("query"):
        return 200, {"results": results}
    infobip.notified.append((str(body.get("notifyUrl")), {"results": results}))
    return 200, {
        "bulkId": f"lookup-{len(infobip.notified)}",
        "results": [{"to": str(n), "status": PENDING} for n in numbers],
    }


def run(infobip: FakeInfobip, key: str, input: dict[str, Any]) -> Any:
    """The output of one of these actions, or None for another action."""
    if key == "send-tfa-pin-sms":
        return _send_pin(infobip, input)
    if key == "resend-tfa-pin-sms":
        pin = infobip.pins.get(str(input.get("pinId")), {})
        return {"pinId": input.get("pinId"), "to": pin.get("to"), "smsStatus": "MESSAGE_SENT"}
    if key == "verify-tfa-pin":
        return _verify(infobip, str(input.get("pinId")), str(input.get("pin")))
    if key == "list-tfa-applications":
        return list(infobip.tfa_apps)
    if key == "create-tfa-application":
        app = {
            "applicationId": f"APP{len(infobip.tfa_apps) + 1:030d}",
            "name": input.get("name"),
            "configuration": {**DEFAULT_APP, **(input.get("configuration") or {})},
            "enabled": input.get("enabled", True),
        }
        infobip.tfa_apps.append(app)
        return app
    if key == "create-tfa-message-template":
        template = {"messageId": f"MSG{len(infobip.tfa_templates) + 1:030d}", **input}
        infobip.tfa_templates.append(template)
        return template
    if key == "validate-email-addresses":
        return _validation(infobip, str(input.get("to")))
    if key == "preview-sms-message":
        return preview_answer(str(input.get("text", "")))
    return None


def _send_pin(infobip: FakeInfobip, input: dict[str, Any]) -> dict[str, Any]:
    app: dict[str, Any] = next(
        (a for a in infobip.tfa_apps if a["applicationId"] == input.get("applicationId")),
        {"configuration": DEFAULT_APP},
    )
    template = next(
        (t for t in infobip.tfa_templates if t["messageId"] == input.get("messageId")), {}
    )
    length = int(template.get("pinLength") or 4)
    pin_id = secrets.token_hex(16).upper()
    ttl = str(app["configuration"].get("pinTimeToLive", "15m"))
    seconds = int(ttl[:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[ttl[-1]]
    infobip.pins[pin_id] = {
        "pin": "".join(secrets.choice("0123456789") for _ in range(length)),
        "to": input.get("to"),
        "attempts_left": int(app["configuration"].get("pinAttempts", 10)),
        "verified": False,
        "expires": time.time() + seconds,
    }
    return {
        "pinId": pin_id,
        "to": input.get("to"),
        "ncStatus": "NC_DESTINATION_REACHABLE",
        "smsStatus": "MESSAGE_SENT",
    }


def _verify(infobip: FakeInfobip, pin_id: str, given: str) -> dict[str, Any]:
    pin = infobip.pins.get(pin_id)
    if pin is None:
        return {
            "pinId": pin_id,
            "verified": False,
            "attemptsRemaining": 0,
            "pinError": "WRONG_PIN_ID",
        }
    out = {"pinId": pin_id, "msisdn": pin["to"], "verified": False}
    if pin["attempts_left"] <= 0:
        return {**out, "attemptsRemaining": 0, "pinError": "NO_MORE_PIN_ATTEMPTS"}
    if time.time() > pin["expires"]:
        return {**out, "attemptsRemaining": pin["attempts_left"], "pinError": "TTL_EXPIRED"}
    pin["attempts_left"] -= 1
    if given == pin["pin"] and not pin["verified"]:
        pin["verified"] = True
        return {**out, "verified": True, "attemptsRemaining": pin["attempts_left"]}
    error = "NO_MORE_PIN_ATTEMPTS" if pin["attempts_left"] == 0 else "WRONG_PIN"
    return {**out, "attemptsRemaining": pin["attempts_left"], "pinError": error}


def _validation(infobip: FakeInfobip, address: str) -> dict[str, Any]:
    reason = infobip.invalid_emails.get(address)
    out: dict[str, Any] = {
        "to": address,
        "validMailbox": "false" if reason else "true",
        "validSyntax": "@" in address,
        "catchAll": False,
        "disposable": False,
        "roleBased": False,
        "risk": "HIGH" if reason else "LOW",
    }
    if reason:
        out["detailedReasons"] = reason
    return out
