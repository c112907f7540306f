"""All tables. Persistence only: nothing here knows about Infobip channels or parsing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    text,
)
from sqlmodel import Field, SQLModel

from storage.types import BigIntPK, DecimalString, UTCDateTime

# Raw inbox states (the read API shows them as they are).
RAW_PENDING = "pending"
RAW_PROCESSED = "processed"
RAW_FAILED = "failed"
RAW_IGNORED = "ignored"
RAW_STATES = (RAW_PENDING, RAW_PROCESSED, RAW_FAILED, RAW_IGNORED)

metadata = SQLModel.metadata


def _dt(*, index: bool = False, nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), index=index, nullable=nullable))


def _text() -> Any:
    return Field(default=None, sa_column=Column(Text(), nullable=True))


class RawWebhook(SQLModel, table=True):
    """A request exactly as it arrived, committed before it is acknowledged."""

    __tablename__ = "raw_webhooks"
    __table_args__ = (Index("ix_raw_webhooks_claim", "state", "priority", "id"),)

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    # Few indexes on purpose: every one is paid by the ack. Ids are time-ordered, so "since"
    # queries use the primary key (see storage.ids.new_id).
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    content_type: str | None = Field(default=None, sa_column=Column(Text(), nullable=True))
    body: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))
    headers: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON(), nullable=False))
    remote_addr: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    # Where it came from: webhook, or a pull API response stored by the reconciler.
    source: str = Field(default="webhook", sa_column=Column(String(16), nullable=False))
    # 0 goes first: inbound messages are processed before delivery reports.
    priority: int = Field(default=1, sa_column=Column(SmallInteger(), nullable=False))
    state: str = Field(default=RAW_PENDING, sa_column=Column(String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=Column(SmallInteger(), nullable=False))
    item_count: int | None = Field(default=None, sa_column=Column(SmallInteger(), nullable=True))
    error: str | None = _text()
    processed_at: datetime | None = _dt()


class StatusColumns(SQLModel):
    """Infobip status and error objects, flattened (shared by messages and events)."""

    status_group_id: int | None = None
    status_group_name: str | None = Field(default=None, sa_type=Text, nullable=True)
    status_id: int | None = None
    status_name: str | None = Field(default=None, sa_type=Text, nullable=True)
    status_description: str | None = Field(default=None, sa_type=Text, nullable=True)
    error_group_id: int | None = None
    error_group_name: str | None = Field(default=None, sa_type=Text, nullable=True)
    error_id: int | None = None
    error_name: str | None = Field(default=None, sa_type=Text, nullable=True)
    error_description: str | None = Field(default=None, sa_type=Text, nullable=True)
    error_permanent: bool | None = None
    price_amount: Decimal | None = Field(default=None, sa_type=DecimalString, nullable=True)
    price_currency: str | None = Field(default=None, sa_type=String(16), nullable=True)


class Message(StatusColumns, table=True):
    """One message, in or out, with its current state. Its timeline is its events."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("uq_messages_channel_message_id", "channel", "message_id", unique=True),
        Index("ix_messages_state", "state"),
        Index("ix_messages_recipient", "recipient"),
        Index("ix_messages_bulk_id", "bulk_id"),
        # The console's overview counts a window's messages by channel, direction and state:
        # covering, so the count reads the index only.
        Index("ix_messages_created", "created_at", "channel", "direction", "state"),
        # The console's search by number: an inbound message's contact is its sender.
        Index(
            "ix_messages_inbound_sender",
            "sender",
            sqlite_where=text("direction = 'inbound'"),
            postgresql_where=text("direction = 'inbound'"),
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    message_id: str = Field(sa_column=Column(Text(), nullable=False))
    # True when the channel was a best guess (a shared-shape report posted to /webhooks/auto).
    channel_uncertain: bool = Field(default=False)
    # The outbox action that sent it, when this service sent it.
    action_id: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    direction: str = Field(sa_column=Column(String(16), nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    sender: str | None = _text()
    recipient: str | None = _text()
    bulk_id: str | None = _text()
    callback_data: str | None = _text()
    application_id: str | None = _text()
    entity_id: str | None = _text()
    sent_at: datetime | None = _dt()
    done_at: datetime | None = _dt()
    seen_at: datetime | None = _dt()
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Event(StatusColumns, table=True):
    """One item of one callback. Unique by dedupe_key, so a redelivery adds nothing."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_message", "channel", "message_id"),
        # For rules that count what a contact sent in a window; partial, so delivery reports
        # (most of the traffic) do not pay for it.
        Index(
            "ix_events_inbound_sender",
            "sender",
            "received_at",
            sqlite_where=text("direction = 'inbound'"),
            postgresql_where=text("direction = 'inbound'"),
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    dedupe_key: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    raw_id: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    item_index: int = Field(default=0)
    source: str = Field(default="webhook", sa_column=Column(String(16), nullable=False))
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    # True when the channel could not be read from the URL or the body (see the auto path).
    channel_uncertain: bool = Field(default=False)
    kind: str = Field(sa_column=Column(String(32), nullable=False))
    sub_type: str | None = _text()
    message_id: str | None = _text()
    direction: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    sender: str | None = _text()
    recipient: str | None = _text()
    occurred_at: datetime | None = _dt()
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON(), nullable=False))
    # Why an item could not be fully read (the event is still kept, kind "unknown").
    note: str | None = _text()


raw_webhooks = RawWebhook.__table__  # type: ignore[attr-defined]
messages = Message.__table__  # type: ignore[attr-defined]
events = Event.__table__  # type: ignore[attr-defined]


class Call(SQLModel, table=True):
    """One call of the Calls API, folded from its events (the timeline is the events)."""

    __tablename__ = "calls"

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    call_id: str = Field(sa_column=Column(String(128), nullable=False, unique=True))
    state: str = Field(sa_column=Column(String(32), nullable=False))
    last_event: str | None = _text()
    direction: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    sender: str | None = _text()
    recipient: str | None = _text()
    started_at: datetime | None = _dt()
    answered_at: datetime | None = _dt()
    ended_at: datetime | None = _dt()
    duration_seconds: int | None = None
    hangup_cause: str | None = _text()
    hangup_description: str | None = _text()
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Lookup(SQLModel, table=True):
    """One Number Lookup (HLR) result: can this number be reached, and through which network."""

    __tablename__ = "lookups"
    __table_args__ = (Index("ix_lookups_number", "number", "looked_up_at"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    number: str = Field(sa_column=Column(String(64), nullable=False))
    event_key: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    raw_id: str = Field(sa_column=Column(String(32), nullable=False))
    mcc_mnc: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    network: str | None = _text()
    ported: bool | None = None
    ported_network: str | None = _text()
    roaming: bool | None = None
    roaming_network: str | None = _text()
    outcome: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    error_name: str | None = _text()
    error_permanent: bool | None = None
    looked_up_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class MaskingSession(SQLModel, table=True):
    """A Number Masking pair: a call from one party to the masking number reaches the other."""

    __tablename__ = "masking_sessions"
    __table_args__ = (Index("ix_masking_sessions_number", "masking_number", "expires_at"),)

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    party_a: str = Field(sa_column=Column(String(64), nullable=False))
    party_b: str = Field(sa_column=Column(String(64), nullable=False))
    masking_number: str = Field(sa_column=Column(String(64), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ended_at: datetime | None = _dt()


calls = Call.__table__  # type: ignore[attr-defined]
lookups = Lookup.__table__  # type: ignore[attr-defined]
masking_sessions = MaskingSession.__table__  # type: ignore[attr-defined]


# Outbox states (the read API shows them as they are).
# skipped: a check before the send said not to send (an automated email to an address
# Infobip's validation calls invalid, VALIDATE_EMAIL); the reason is the action's last_error.
ACTION_STATES = ("pending", "running", "done", "failed", "dead", "unknown_outcome", "skipped")


class QueuedAction(SQLModel, table=True):
    """One action to run through Membrane: enqueued in the transaction of what caused it, run
    by the dispatcher under a lease, retried with backoff, dead after its last attempt."""

    __tablename__ = "actions"
    __table_args__ = (Index("ix_actions_due", "state", "next_attempt_at"),)

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    idempotency_key: str = Field(sa_column=Column(String(200), nullable=False, unique=True))
    action: str = Field(sa_column=Column(String(64), nullable=False))
    channel: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    input: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON(), nullable=False))
    # Our own message id, sent with the message, so that the logs can find it after a send
    # whose outcome is unknown.
    tracking_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    attempts: int = Field(default=0)
    max_attempts: int = Field(default=5)
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    lease_until: datetime | None = _dt()
    leased_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    last_error: str | None = _text()
    output: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON(), nullable=True))
    message_ids: list[str] | None = Field(default=None, sa_column=Column(JSON(), nullable=True))
    caused_by_event_id: int | None = Field(default=None, sa_type=BigIntPK, nullable=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


# The outbox is the pattern (events/outbox.py), `actions` its table (as in the API's
# /v1/actions), QueuedAction a row of it; the API shows one as events.api.models.OutboxAction,
# and plain `Action` is the Membrane catalogue's (events/membrane/catalogue.py).
outbox = QueuedAction.__table__  # type: ignore[attr-defined]


class OptOut(SQLModel, table=True):
    """The suppression list: one row per contact and channel, with its current choice."""

    __tablename__ = "opt_outs"
    __table_args__ = (Index("uq_opt_outs_contact", "channel", "contact", unique=True),)

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    contact: str = Field(sa_column=Column(String(200), nullable=False))
    opted_out: bool = Field(default=True)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class OptOutAudit(SQLModel, table=True):
    """Who, when, which message, which words: every opt-out, opt-in and refused send."""

    __tablename__ = "opt_out_audit"
    __table_args__ = (Index("ix_opt_out_audit_contact", "channel", "contact"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    contact: str = Field(sa_column=Column(String(200), nullable=False))
    # opt_out, opt_in, refused, uncertain, confirmed, dismissed
    action: str = Field(sa_column=Column(String(16), nullable=False))
    # inbound, api, cli, infobip, dispatcher, rule:<name>, review, ...
    source: str = Field(sa_column=Column(String(160), nullable=False))
    message_id: str | None = _text()
    words: str | None = _text()
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class OptOutReview(SQLModel, table=True):
    """A message that probably, but not certainly, asks to stop: the contact is suppressed
    from automated sending until a person confirms (an opt-out) or dismisses it."""

    __tablename__ = "opt_out_reviews"
    __table_args__ = (Index("ix_opt_out_reviews_contact", "contact", "state"),)

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    contact: str = Field(sa_column=Column(String(200), nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))  # pending, confirmed, ...
    message_id: str | None = _text()
    words: str | None = _text()
    language: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    decided_at: datetime | None = _dt()
    decided_by: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))


REVIEW_STATES = ("pending", "confirmed", "dismissed")

opt_outs = OptOut.__table__  # type: ignore[attr-defined]
opt_out_audit = OptOutAudit.__table__  # type: ignore[attr-defined]
opt_out_reviews = OptOutReview.__table__  # type: ignore[attr-defined]


class ReconcileRun(SQLModel, table=True):
    """One reconciliation run: what it checked, recovered, found and could not."""

    __tablename__ = "reconcile_runs"

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    finished_at: datetime | None = _dt()
    # running, done, failed, or interrupted (its process stopped before it ended)
    state: str = Field(sa_column=Column(String(16), nullable=False))
    channel: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    dry_run: bool = Field(default=False)
    checked: int = Field(default=0)
    recovered: int = Field(default=0)
    still_missing: int = Field(default=0)
    discovered: int = Field(default=0)
    closed: int = Field(default=0)
    errors: int = Field(default=0)
    error: str | None = _text()
    # The process that runs it ("host:pid:start ticks", events/runs.py); None before 0012.
    owner: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))


reconcile_runs = ReconcileRun.__table__  # type: ignore[attr-defined]


class RuleDecision(SQLModel, table=True):
    """What one rule decided for one event, and why (fired, dry_run, skipped, suppressed,
    deferred). Unique per (event, rule): the same event never fires the same rule twice."""

    __tablename__ = "rule_decisions"
    __table_args__ = (
        Index("uq_rule_decisions_event_rule", "event_id", "rule", unique=True),
        Index("ix_rule_decisions_contact", "contact", "digest", "created_at"),
        Index("ix_rule_decisions_created", "created_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    event_id: int = Field(sa_column=Column(BigInteger(), nullable=False))
    rule: str = Field(sa_column=Column(String(128), nullable=False))
    outcome: str = Field(sa_column=Column(String(16), nullable=False))
    reason: str = Field(sa_column=Column(Text(), nullable=False))
    contact: str | None = _text()
    # Of the channel and text sent: the identical-message cap counts by it.
    digest: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    # What the rule asked for: [{type, channel, action, action_id, summary}].
    actions: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON(), nullable=False)
    )
    not_before: datetime | None = _dt()
    rules_version: str = Field(sa_column=Column(String(32), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class MessageTag(SQLModel, table=True):
    """A tag a rule put on a message."""

    __tablename__ = "message_tags"
    __table_args__ = (
        Index("uq_message_tags", "channel", "message_id", "tag", unique=True),
        Index("ix_message_tags_tag", "tag"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    message_id: str = Field(sa_column=Column(Text(), nullable=False))
    tag: str = Field(sa_column=Column(String(128), nullable=False))
    rule: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


rule_decisions = RuleDecision.__table__  # type: ignore[attr-defined]
message_tags = MessageTag.__table__  # type: ignore[attr-defined]


# ---- account: balance, cost ledger, own numbers, applications and entities ----------------------


class MembraneAnswer(SQLModel, table=True):
    """An answer of Infobip read through Membrane for the account (balance, numbers,
    applications, entities), stored exactly as it came before anything is made of it."""

    __tablename__ = "membrane_answers"
    __table_args__ = (Index("ix_membrane_answers_purpose", "purpose", "received_at"),)

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    purpose: str = Field(sa_column=Column(String(32), nullable=False))
    call: str = Field(sa_column=Column(Text(), nullable=False))  # "GET /account/1/balance"
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    body: bytes = Field(sa_column=Column(LargeBinary(), nullable=False))


class Balance(SQLModel, table=True):
    """One reading of the account's balance (the history)."""

    __tablename__ = "balances"

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    checked_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    balance: Decimal = Field(sa_column=Column(DecimalString(), nullable=False))
    currency: str = Field(sa_column=Column(String(16), nullable=False))
    answer_id: str = Field(sa_column=Column(String(32), nullable=False))


class AccountAlert(SQLModel, table=True):
    """An alert that fires once when it starts and again only after it has stopped
    (balance_low): the hysteresis flag, shared by every worker."""

    __tablename__ = "account_alerts"

    name: str = Field(sa_column=Column(String(32), primary_key=True))
    active: bool = Field(default=False)
    changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Cost(SQLModel, table=True):
    """The cost ledger: one line per message (or call), from the price Infobip reported,
    corrected when a later report prices it differently. `amount_units` is the amount in
    units of 10^-10 (Infobip's finest price), so that sums are exact on both databases."""

    __tablename__ = "costs"
    __table_args__ = (
        Index("uq_costs_message", "channel", "message_id", unique=True),
        Index("ix_costs_priced_at", "priced_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    message_id: str = Field(sa_column=Column(Text(), nullable=False))
    currency: str = Field(sa_column=Column(String(16), nullable=False))
    amount: Decimal = Field(sa_column=Column(DecimalString(), nullable=False))
    amount_units: int = Field(sa_column=Column(BigInteger(), nullable=False))
    # The unit price and how many units were billed: message parts, or seconds of a call.
    unit_price: Decimal = Field(sa_column=Column(DecimalString(), nullable=False))
    units: Decimal = Field(sa_column=Column(DecimalString(), nullable=False))
    unit: str = Field(sa_column=Column(String(16), nullable=False))  # message, second
    country: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    application_id: str | None = _text()
    entity_id: str | None = _text()
    sender: str | None = _text()
    priced_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    source_event_id: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class OwnNumber(SQLModel, table=True):
    """A number the account owns, synced from Infobip's Numbers API."""

    __tablename__ = "own_numbers"

    number: str = Field(sa_column=Column(String(64), primary_key=True))  # E.164 key
    number_key: str | None = _text()
    country: str | None = Field(default=None, sa_column=Column(String(8), nullable=True))
    type: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    capabilities: list[str] = Field(default_factory=list, sa_column=Column(JSON(), nullable=False))
    synced_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Application(SQLModel, table=True):
    """A CPaaS X application, synced from Infobip (its id is what reports carry)."""

    __tablename__ = "applications"

    application_id: str = Field(sa_column=Column(String(255), primary_key=True))
    name: str | None = _text()
    synced_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Entity(SQLModel, table=True):
    """A CPaaS X entity, synced from Infobip."""

    __tablename__ = "entities"

    entity_id: str = Field(sa_column=Column(String(255), primary_key=True))
    name: str | None = _text()
    synced_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


membrane_answers = MembraneAnswer.__table__  # type: ignore[attr-defined]
balances = Balance.__table__  # type: ignore[attr-defined]
account_alerts = AccountAlert.__table__  # type: ignore[attr-defined]
costs = Cost.__table__  # type: ignore[attr-defined]
own_numbers = OwnNumber.__table__  # type: ignore[attr-defined]
applications = Application.__table__  # type: ignore[attr-defined]
entities = Entity.__table__  # type: ignore[attr-defined]


class ChatSession(SQLModel, table=True):
    """When a person last wrote to one of our senders on a chat channel (WhatsApp): the
    channel's customer-service window runs from it. One row per (contact, channel, sender);
    last_inbound_at only ever moves later, to the latest receipt time Infobip reported."""

    __tablename__ = "chat_sessions"
    __table_args__ = (Index("uq_chat_sessions", "contact", "channel", "sender", unique=True),)

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    contact: str = Field(sa_column=Column(String(200), nullable=False))
    channel: str = Field(sa_column=Column(String(32), nullable=False))
    sender: str = Field(sa_column=Column(String(200), nullable=False))  # our number, keyed
    last_inbound_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    message_id: str | None = _text()  # the inbound message that set last_inbound_at
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


chat_sessions = ChatSession.__table__  # type: ignore[attr-defined]
# ---- two-factor PINs (issue 13, item 6) ---------------------------------------------------------


class Verification(SQLModel, table=True):
    """One 2FA PIN sent to a number, and what became of it. The PIN itself is never stored:
    Infobip generates it, sends it and checks it; we keep only its pin id."""

    __tablename__ = "verifications"
    __table_args__ = (Index("ix_verifications_to", "to", "created_at"),)

    id: str = Field(sa_column=Column(String(32), primary_key=True))
    to: str = Field(sa_column=Column(String(64), nullable=False))  # the E.164 key
    application_id: str = Field(sa_column=Column(String(128), nullable=False))
    message_id: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    # The outbox action that sends the PIN (its output holds Infobip's pinId).
    action_id: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    pin_id: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    attempts: int = Field(default=0)
    sends: int = Field(default=1)
    # sending, sent, verified, failed (no attempts left), expired, send_failed
    outcome: str = Field(sa_column=Column(String(16), nullable=False))
    reason: str | None = _text()
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = _dt()
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    verified_at: datetime | None = _dt()
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class VerificationAudit(SQLModel, table=True):
    """Every step of a verification (send, resend, check, refused by the hourly limit), with
    the number: the limit per number and hour counts these rows. Never the PIN."""

    __tablename__ = "verification_audit"
    __table_args__ = (Index("ix_verification_audit_to", "to", "at"),)

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    verification_id: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    to: str = Field(sa_column=Column(String(64), nullable=False))
    step: str = Field(sa_column=Column(String(16), nullable=False))  # send, resend, check, limited
    detail: str | None = _text()
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


verifications = Verification.__table__  # type: ignore[attr-defined]
verification_audit = VerificationAudit.__table__  # type: ignore[attr-defined]


class ErasedContact(SQLModel, table=True):
    """A contact that was forgotten, kept only as a keyed hash (HMAC-SHA256 of its key under
    INFOBIP_EVENTS_ERASURE_KEY), so that it is still never messaged. key_id names the key that
    made the hash (a fingerprint of the key, not the key)."""

    __tablename__ = "erased_contacts"

    contact_hash: str = Field(sa_column=Column(String(64), primary_key=True))
    key_id: str = Field(sa_column=Column(String(16), nullable=False))
    erased_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ErasureAudit(SQLModel, table=True):
    """Who erased which contact (by its hash), when, and how many rows of each table."""

    __tablename__ = "erasure_audit"

    id: int | None = Field(default=None, sa_column=Column(BigIntPK, primary_key=True))
    contact_hash: str = Field(sa_column=Column(String(64), nullable=False, index=True))
    key_id: str = Field(sa_column=Column(String(16), nullable=False))
    # api, cli:<user>, or what --actor said
    actor: str = Field(sa_column=Column(String(160), nullable=False))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # {table: {"deleted": n, "redacted": n}}
    rows: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON(), nullable=False))


erased_contacts = ErasedContact.__table__  # type: ignore[attr-defined]
erasure_audit = ErasureAudit.__table__  # type: ignore[attr-defined]
