"""Request and response models of the read and write API.

Responses are built from stored rows with `from_row`; every amount is a decimal written as text
(Infobip prices carry up to ten decimals: never a float), every time ISO 8601 with its offset.
Requests are validated here, so a handler only sees what it can act on.
"""

from __future__ import annotations

import base64
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from events.channels.registry import SEND_ACTIONS, TEMPLATE_SEND_ACTIONS
from events.lookups import reachable
from storage.queries.calls import StoredCall, StoredLookup
from storage.queries.decisions import StoredDecision
from storage.queries.messages import StoredEvent, StoredMessage, StoredStatus
from storage.queries.optouts import StoredAudit, StoredReview
from storage.queries.outbox import StoredAction
from storage.queries.raw import StoredRaw
from storage.queries.reconcile import StoredRun

# Times as Python writes them (…+00:00), amounts as plain decimal text (no exponent).
Time = Annotated[datetime, PlainSerializer(lambda v: v.isoformat(), return_type=str)]
Amount = Annotated[Decimal, PlainSerializer(lambda v: format(v, "f"), return_type=str)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True)


def _absent(value: object) -> bool:
    return value is None


def shown_when_set() -> Any:
    """A part shown only where it belongs (a message's timeline on the message, not in lists)."""
    return Field(default=None, exclude_if=_absent)


class Status(Model):
    group_id: int | None
    group_name: str | None
    id: int | None
    name: str | None
    description: str | None

    @classmethod
    def from_row(cls, row: StoredStatus) -> Status | None:
        if (
            row.status_group_id is None
            and row.status_name is None
            and row.status_group_name is None
        ):
            return None
        return cls(
            group_id=row.status_group_id,
            group_name=row.status_group_name,
            id=row.status_id,
            name=row.status_name,
            description=row.status_description,
        )


class Error(Model):
    group_id: int | None
    group_name: str | None
    id: int | None
    name: str | None
    description: str | None
    permanent: bool | None

    @classmethod
    def from_row(cls, row: StoredStatus) -> Error | None:
        parts = (row.error_group_id, row.error_name, row.error_group_name)
        if all(p is None for p in parts):
            return None
        return cls(
            group_id=row.error_group_id,
            group_name=row.error_group_name,
            id=row.error_id,
            name=row.error_name,
            description=row.error_description,
            permanent=row.error_permanent,
        )


class Price(Model):
    amount: Amount | None
    currency: str | None

    @classmethod
    def from_row(cls, row: StoredStatus) -> Price | None:
        if row.price_amount is None and row.price_currency is None:
            return None
        return cls(amount=row.price_amount, currency=row.price_currency)


class Decision(Model):
    """Explain: what a rule decided for an event and why."""

    rule: str
    outcome: str
    reason: str
    contact: str | None
    actions: list[dict[str, Any]]
    not_before: Time | None
    rules_version: str
    decided_at: Time

    @classmethod
    def from_row(cls, row: StoredDecision) -> Decision:
        return cls(
            rule=row.rule,
            outcome=row.outcome,
            reason=row.reason,
            contact=row.contact,
            actions=row.actions,
            not_before=row.not_before,
            rules_version=row.rules_version,
            decided_at=row.created_at,
        )


class Event(Model):
    id: int
    webhook_id: str
    item_index: int
    source: str
    channel: str
    channel_uncertain: bool
    kind: str
    sub_type: str | None
    message_id: str | None
    direction: str | None
    sender: str | None
    recipient: str | None
    occurred_at: Time | None
    received_at: Time | None
    status: Status | None
    error: Error | None
    price: Price | None
    data: Any
    note: str | None
    decisions: list[Decision] | None = shown_when_set()

    @classmethod
    def from_row(
        cls, row: StoredEvent, decisions: dict[int, list[StoredDecision]] | None = None
    ) -> Event:
        return cls(
            id=row.id,
            webhook_id=row.raw_id,
            item_index=row.item_index,
            source=row.source,
            channel=row.channel,
            channel_uncertain=row.channel_uncertain,
            kind=row.kind,
            sub_type=row.sub_type,
            message_id=row.message_id,
            direction=row.direction,
            sender=row.sender,
            recipient=row.recipient,
            occurred_at=row.occurred_at,
            received_at=row.received_at,
            status=Status.from_row(row),
            error=Error.from_row(row),
            price=Price.from_row(row),
            data=row.data,
            note=row.note,
            decisions=None
            if decisions is None
            else [Decision.from_row(d) for d in decisions.get(row.id, [])],
        )


class Message(Model):
    message_id: str
    channel: str
    channel_uncertain: bool
    direction: str
    state: str
    status: Status | None
    error: Error | None
    sender: str | None
    recipient: str | None
    bulk_id: str | None
    callback_data: str | None
    application_id: str | None
    entity_id: str | None
    price: Price | None
    sent_at: Time | None
    done_at: Time | None
    seen_at: Time | None
    created_at: Time
    updated_at: Time
    tags: list[str]
    events: list[Event] | None = shown_when_set()
    # The names of its CPaaS X application and entity, once synced (events/account.py).
    application_name: str | None = None
    entity_name: str | None = None

    @classmethod
    def from_row(
        cls, row: StoredMessage, tags: list[str], timeline: list[Event] | None = None
    ) -> Message:
        return cls(
            message_id=row.message_id,
            channel=row.channel,
            channel_uncertain=row.channel_uncertain,
            direction=row.direction,
            state=row.state,
            status=Status.from_row(row),
            error=Error.from_row(row),
            sender=row.sender,
            recipient=row.recipient,
            bulk_id=row.bulk_id,
            callback_data=row.callback_data,
            application_id=row.application_id,
            entity_id=row.entity_id,
            price=Price.from_row(row),
            sent_at=row.sent_at,
            done_at=row.done_at,
            seen_at=row.seen_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            tags=tags,
            events=timeline,
        )


class Webhook(Model):
    id: str
    channel: str
    received_at: Time
    content_type: str | None
    state: str
    error: str | None
    source: str
    remote_addr: str | None
    headers: dict[str, Any] | None
    attempts: int
    item_count: int | None
    processed_at: Time | None
    body: str | None
    body_base64: str | None = shown_when_set()
    events: list[Event]

    @classmethod
    def from_row(cls, row: StoredRaw, events: list[Event]) -> Webhook:
        raw = bytes(row.body)
        try:
            text: str | None = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        return cls(
            id=row.id,
            channel=row.channel,
            received_at=row.received_at,
            content_type=row.content_type,
            state=row.state,
            error=row.error,
            source=row.source,
            remote_addr=row.remote_addr,
            headers=row.headers,
            attempts=row.attempts,
            item_count=row.item_count,
            processed_at=row.processed_at,
            body=text,
            body_base64=base64.b64encode(raw).decode() if text is None else None,
            events=events,
        )


class OutboxAction(Model):
    id: str
    action: str
    channel: str | None
    state: str
    attempts: int
    max_attempts: int
    next_attempt_at: Time | None
    last_error: str | None
    input: dict[str, Any]
    tracking_id: str | None
    output: dict[str, Any] | None
    message_ids: list[str]
    caused_by_event_id: int | None
    created_at: Time
    updated_at: Time

    @classmethod
    def from_row(cls, row: StoredAction) -> OutboxAction:
        waiting = row.state in ("pending", "unknown_outcome") and row.next_attempt_at.year < 9999
        return cls(
            id=row.id,
            action=row.action,
            channel=row.channel,
            state=row.state,
            attempts=row.attempts,
            max_attempts=row.max_attempts,
            next_attempt_at=row.next_attempt_at if waiting else None,
            last_error=row.last_error,
            input=row.input,
            tracking_id=row.tracking_id,
            output=row.output,
            message_ids=row.message_ids or [],
            caused_by_event_id=row.caused_by_event_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class Queued(Model):
    id: str
    action: str
    created: bool


class ReconcileRun(Model):
    id: str
    state: str
    channel: str | None
    dry_run: bool
    started_at: Time
    finished_at: Time | None
    checked: int
    recovered: int
    still_missing: int
    discovered: int
    closed: int
    errors: int
    error: str | None

    @classmethod
    def from_row(cls, row: StoredRun) -> ReconcileRun:
        return cls.model_validate(row, from_attributes=True)


class AuditEntry(Model):
    channel: str
    action: str
    source: str
    message_id: str | None
    words: str | None
    at: Time

    @classmethod
    def from_row(cls, row: StoredAudit) -> AuditEntry:
        return cls.model_validate(row, from_attributes=True)


class OptOut(Model):
    channel: str
    contact: str
    since: Time
    scope: Literal["contact", "channel"]
    applies_to: list[str]


class ContactOptOut(Model):
    channel: str
    contact: str
    opted_out: bool
    scope: Literal["contact", "channel"]
    applies_to: list[str]
    history: list[AuditEntry] | None = shown_when_set()


class Review(Model):
    id: str
    channel: str
    contact: str
    state: str
    message_id: str | None
    words: str | None
    language: str | None
    created_at: Time
    decided_at: Time | None
    decided_by: str | None

    @classmethod
    def from_row(cls, row: StoredReview) -> Review:
        return cls.model_validate(row, from_attributes=True)


class Call(Model):
    call_id: str
    state: str
    last_event: str | None
    direction: str | None
    sender: str | None
    recipient: str | None
    started_at: Time | None
    answered_at: Time | None
    ended_at: Time | None
    duration_seconds: int | None
    hangup_cause: str | None
    hangup_description: str | None
    updated_at: Time
    events: list[Event]

    @classmethod
    def from_row(cls, row: StoredCall, events: list[Event]) -> Call:
        fields = {k: getattr(row, k) for k in cls.model_fields if k != "events"}
        return cls(**fields, events=events)


class LookupFailure(Model):
    name: str | None
    permanent: bool | None


class Lookup(Model):
    number: str
    outcome: str | None
    reachable: bool | None
    mcc_mnc: str | None
    network: str | None
    ported: bool | None
    ported_network: str | None
    roaming: bool | None
    roaming_network: str | None
    error: LookupFailure | None
    looked_up_at: Time
    webhook_id: str | None

    @classmethod
    def from_row(cls, row: StoredLookup) -> Lookup:
        return cls(
            number=row.number,
            outcome=row.outcome,
            reachable=reachable(row.outcome),
            mcc_mnc=row.mcc_mnc,
            network=row.network,
            ported=row.ported,
            ported_network=row.ported_network,
            roaming=row.roaming,
            roaming_network=row.roaming_network,
            error=LookupFailure(name=row.error_name, permanent=row.error_permanent)
            if row.error_name
            else None,
            looked_up_at=row.looked_up_at,
            webhook_id=row.raw_id,
        )


class Lookups(Model):
    number: str
    latest: Lookup
    history: list[Lookup]


# ---- requests ----------------------------------------------------------------------------------


class SendRequest(Model):
    """POST /v1/send and `infobip-events send`: one message on one channel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: str
    to: str
    text: str | None = None
    sender: str | None = Field(default=None, alias="from")
    subject: str | None = None
    html: str | None = None
    template: str | None = None
    language: str | None = None
    placeholders: list[str] | None = None
    callback_data: str | None = None
    # WhatsApp text outside the 24-hour window is refused (422) unless forced, with a reason
    # (both audited): WhatsApp itself will most likely not deliver it.
    force: bool = False
    reason: str | None = None

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str) -> str:
        if value not in SEND_ACTIONS:
            raise ValueError(f"channel must be one of {', '.join(sorted(SEND_ACTIONS))}")
        return value

    def action(self) -> tuple[str, dict[str, Any]]:
        """The catalogue action and its values; ValueError says what is missing."""
        values = {
            k: v
            for k, v in self.model_dump(
                by_alias=True, exclude={"channel", "force", "reason"}
            ).items()
            if v not in (None, "")
        }
        key = SEND_ACTIONS[self.channel]
        if self.channel == "whatsapp" and self.template:
            key = TEMPLATE_SEND_ACTIONS["whatsapp"]
        elif not self.text and not (self.channel == "email" and self.html):
            raise ValueError(
                "'text' is required" + (" (or 'html')" if self.channel == "email" else "")
            )
        if self.channel == "email":
            missing = [k for k in ("from", "subject") if k not in values]
            if missing:
                raise ValueError(f"email needs {' and '.join(repr(m) for m in missing)}")
        if self.channel == "whatsapp" and "from" not in values:
            raise ValueError("whatsapp needs 'from' (your WhatsApp sender number)")
        if self.force and not (self.reason or "").strip():
            raise ValueError("'force' needs a 'reason': why the window is overridden (audited)")
        return key, values


class OptOutRequest(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    contact: str = Field(min_length=1)
    channel: str = "sms"


class ReviewDecision(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    decision: Literal["confirm", "dismiss"]


class MaskingSessionRequest(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    party_a: str = Field(min_length=1)
    party_b: str = Field(min_length=1)
    masking_number: str = Field(min_length=1)
    ttl_seconds: int | None = Field(default=None, gt=0)
    expires_at: datetime | None = None


# ---- lists -------------------------------------------------------------------------------------


class MessagePage(Model):
    items: list[Message]
    next_cursor: str | None


class EventPage(Model):
    items: list[Event]
    next_cursor: str | None


class ActionPage(Model):
    items: list[OutboxAction]
    next_cursor: str | None


class OptOutList(Model):
    items: list[OptOut]


class ReviewList(Model):
    items: list[Review]


class ReviewOutcome(Model):
    id: str
    state: str


class RunList(Model):
    items: list[ReconcileRun]


class MaskingSession(Model):
    id: str
    party_a: str
    party_b: str
    masking_number: str
    expires_at: str
    created_at: str
    ended_at: str | None
    live: bool


class MaskingSessionList(Model):
    items: list[MaskingSession]


class Health(Model):
    status: str
    database: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    expected: str | None = None
    error: str | None = None
    fix: str | None = None
