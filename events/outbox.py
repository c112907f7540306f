"""The outbox: every action the service takes through Membrane is a row here first, written in
the transaction of what caused it (an inbound message, an API call, a rule), then run by the
dispatcher. Compliance, the rules, the API, the CLI and the dispatcher all come through this
module, so two checks hold for every path:

- a send's recipient is keyed once (events/contacts.py) when it is queued: an unparseable
  number is refused there, with the reason, and what Membrane gets is Infobip's wire format;
- a send to a suppressed contact (events/optouts.py) is refused, audited, and never reaches
  Membrane: at the API (409), in the rules (suppressed) and, last, when the dispatcher claims it.

Compliance's own confirmations carry COMPLIANCE_FLAG: a STOP is answered once, even though the
sender is now on the list.

A 2FA PIN is the one other exception, on purpose: it is transactional and asked for by the
person it goes to (POST /v1/verify), so it reaches an opted-out number. Only a PIN action
(PIN_ACTIONS) carrying VERIFICATION_FLAG with the id of a verification to that very number is
exempt (events/tfa.py writes both in one transaction); a rule or an API send cannot borrow it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

from sqlalchemy import Connection

from events.channels.registry import address_of
from events.contacts import ContactError, recipient_key, wire, wire_key
from events.membrane.catalogue import Action
from events.optouts import OptOutPolicy
from storage.ids import new_id
from storage.queries.optouts import AuditRow, add_opt_out_audit
from storage.queries.outbox import ActionRow, enqueue_action
from storage.queries.verify import verification_numbers

# Set in an action's values by compliance itself: its confirmations reach opted-out contacts.
COMPLIANCE_FLAG = "_compliance"
# Set by events/tfa.py on a PIN send: the verification it belongs to (see the docstring).
VERIFICATION_FLAG = "_verification"
PIN_ACTIONS = frozenset({"send-tfa-pin-sms", "resend-tfa-pin-sms"})


def recipients(values: dict[str, Any]) -> list[str]:
    """The recipients a send's values name (`to`, a string or a list of strings)."""
    to = values.get("to")
    if isinstance(to, (str, int)):
        return [str(to)]
    if isinstance(to, list):
        return [str(t) for t in to if isinstance(t, (str, int))]
    return []


def prepare(action: Action, values: dict[str, Any], region: str | None) -> dict[str, Any]:
    """A send's values with its recipients keyed and written as Infobip wants them (digits,
    no `+`); ContactError naming the field when one cannot be read. Other actions as given."""
    if not action.sends:
        return values
    if "to" not in values:
        if "to" in action.required:
            # Refused here, not by Membrane later: a send without a recipient is a mistake,
            # and it would sit in the outbox until its retries ran out.
            raise ContactError(f"to: missing ({action.key} sends to someone: name them)")
        return values
    to = values["to"]
    if not recipients(values):
        raise ContactError(f"to: expected a phone number or an address, got {to!r}")
    written = []
    for value in recipients(values):
        try:
            key = recipient_key(address_of(action.channel), value, region)
        except ContactError as exc:
            raise ContactError(f"to: {exc}") from None
        # An address goes out as written (checked, trimmed); a number as Infobip writes it.
        written.append(value.strip() if action.channel == "email" else wire(key))
    return {**values, "to": written if isinstance(to, list) else written[0]}


def action_row(
    catalogue: dict[str, Action],
    action_key: str,
    values: dict[str, Any],
    *,
    idempotency_key: str,
    caused_by_event_id: int | None = None,
    max_attempts: int = 6,
    now: datetime | None = None,
    not_before: datetime | None = None,
    region: str | None = None,
) -> ActionRow:
    """An outbox row, due now or at `not_before`. ValueError for an action not catalogued;
    ContactError (a ValueError) for a recipient that is not a number or an address."""
    action = catalogue.get(action_key)
    if action is None:
        raise ValueError(f"{action_key!r} is not in the action catalogue")
    now = now or datetime.now(UTC)
    action_id = new_id()
    return {
        "id": action_id,
        "idempotency_key": idempotency_key,
        "action": action_key,
        "channel": action.channel,
        "input": prepare(action, values, region),
        # Infobip lets the sender choose the message id; ours makes a send findable in the logs.
        "tracking_id": f"ie-{action_id}" if action.sends else None,
        "state": "pending",
        "attempts": 0,
        "max_attempts": max_attempts,
        "next_attempt_at": not_before or now,
        "lease_until": None,
        "leased_by": None,
        "last_error": None,
        "output": None,
        "message_ids": None,
        "caused_by_event_id": caused_by_event_id,
        "created_at": now,
        "updated_at": now,
    }


def enqueue(
    conn: Connection,
    catalogue: dict[str, Action],
    action_key: str,
    values: dict[str, Any],
    **options: Any,
) -> tuple[str, bool]:
    """Put an action in the outbox inside the caller's transaction (with the events that cause
    it); options as action_row(). Returns (action id, created)."""
    return enqueue_action(conn, action_row(catalogue, action_key, values, **options))


class SendProbe(TypedDict):
    """What the suppression check reads of an action, queued or not (an ActionRow is one)."""

    id: str
    action: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Refusal:
    """Why a send must not go out; `contact` is set when it is a suppression (audited)."""

    reason: str
    channel: str
    contact: str | None = None


def check_sends(
    conn: Connection,
    rows: Sequence[SendProbe],
    catalogue: dict[str, Action],
    policy: OptOutPolicy,
) -> dict[str, Refusal]:
    """The send actions among these outbox rows that must not go out: a recipient that cannot
    be keyed, or one that is suppressed. Reads only; audit_refusals() writes the trail."""
    out: dict[str, Refusal] = {}
    wanted: dict[str, list[tuple[str, str]]] = {}  # channel -> (action id, contact)
    pins = requested_pins(conn, rows, policy.region)
    for row in rows:
        action = catalogue.get(row["action"])
        values = row["input"]
        if action is None or not action.sends or values.get(COMPLIANCE_FLAG):
            continue
        if row["id"] in pins:
            continue  # a PIN the person asked for (the module docstring)
        channel = action.channel or ""
        try:
            address = address_of(channel)
            keys = [recipient_key(address, v, policy.region) for v in recipients(values)]
        except ContactError as exc:
            out[row["id"]] = Refusal(f"cannot read the recipient: {exc}", channel)
            continue
        wanted.setdefault(channel, []).extend((row["id"], k) for k in keys)
    for channel, pairs in wanted.items():
        refused = policy.refusals(conn, channel, [k for _, k in pairs])
        for action_id, contact in pairs:
            if contact in refused and action_id not in out:
                out[action_id] = Refusal(SUPPRESSED, channel, refused[contact])
    return out


SUPPRESSED = "suppressed: the recipient opted out (see /v1/opt-outs)"


def requested_pins(conn: Connection, rows: Sequence[SendProbe], region: str | None) -> set[str]:
    """The ids of the rows that are PINs a person asked for: a PIN action whose
    VERIFICATION_FLAG names a stored verification of the same number."""
    claimed: dict[str, tuple[str, str]] = {}  # action id -> (verification id, number key)
    for row in rows:
        flag = row["input"].get(VERIFICATION_FLAG)
        to = recipients(row["input"])
        if row["action"] in PIN_ACTIONS and isinstance(flag, str) and len(to) == 1:
            claimed[row["id"]] = (flag, wire_key(to[0], region))
    if not claimed:
        return set()
    known = verification_numbers(conn, sorted({v for v, _ in claimed.values()}))
    return {i for i, (v, to) in claimed.items() if known.get(v) == to}


def audit_refusals(
    conn: Connection, refused: dict[str, Refusal], now: datetime, source: str
) -> None:
    rows: list[AuditRow] = [
        {
            "channel": r.channel,
            "contact": r.contact,
            "action": "refused",
            "source": source,
            "message_id": None,
            "words": f"action {action_id}",
            "at": now,
        }
        for action_id, r in refused.items()
        if r.contact is not None
    ]
    add_opt_out_audit(conn, rows)


def refusals(
    conn: Connection,
    rows: Sequence[SendProbe],
    catalogue: dict[str, Action],
    policy: OptOutPolicy,
    now: datetime,
    source: str,
) -> dict[str, str]:
    """check_sends() and its audit: the refused action ids, each with its reason."""
    refused = check_sends(conn, rows, catalogue, policy)
    audit_refusals(conn, refused, now, source)
    return {action_id: r.reason for action_id, r in refused.items()}
