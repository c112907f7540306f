"""The forward-only state machine of a message, as data. Pure: no I/O.

Infobip may deliver reports late, twice or out of order. A message's state only moves forward;
every event is still kept in its timeline. The README prints TRANSITIONS as a table and
tests/test_states.py checks it row by row.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from typing import Any

from events.channels.event import ParsedEvent
from events.channels.status import STATUS_COLUMNS, Status, set_status_columns
from events.channels.values import as_datetime, as_int, as_str
from events.vocabulary import MESSAGE_KINDS, Direction, Kind, State
from storage.queries.calls import CallFields
from storage.queries.messages import MessageRow

# Infobip status groups -> the contract's states (docs/infobip.md, Status groups and message
# states).
GROUP_STATES: dict[int, State] = {
    1: State.PENDING,
    2: State.UNDELIVERABLE,
    3: State.DELIVERED,
    4: State.EXPIRED,
    5: State.REJECTED,
}
# When a report has a group name but no usable id. ACCEPTED is in Infobip's schema enum with no
# documented id; accepted means "not yet delivered", so it counts as pending.
GROUP_NAME_STATES: dict[str, State] = {
    "PENDING": State.PENDING,
    "ACCEPTED": State.PENDING,
    "UNDELIVERABLE": State.UNDELIVERABLE,
    "DELIVERED": State.DELIVERED,
    "EXPIRED": State.EXPIRED,
    "REJECTED": State.REJECTED,
}

# DELIVERED_TO_OPERATOR (group 3, id 2) is delivered, but a later report may still say what
# the handset did; internally it is its own step so that the table can let it be upgraded.
TO_OPERATOR = "delivered_to_operator"
LATE_BOUNCE = Kind.LATE_BOUNCE  # a late bounce is a step of its own

# The members this module compares on every event, bound once: on Python 3.11 reading an enum
# member off its class (State.PENDING) goes through EnumType's __getattr__ hook, ten times the
# cost of a global, and the fold is the processor's hot path.
_UNKNOWN, _PENDING, _DELIVERED = State.UNKNOWN, State.PENDING, State.DELIVERED
_UNDELIVERABLE, _EXPIRED, _REJECTED = State.UNDELIVERABLE, State.EXPIRED, State.REJECTED
_RECEIVED = State.RECEIVED
_DELIVERY, _SEEN = Kind.DELIVERY, Kind.SEEN
_INBOUND, _OUTBOUND = Direction.INBOUND, Direction.OUTBOUND

# (current step, incoming step) -> new step. A pair not listed leaves the state as it is.
TRANSITIONS: dict[tuple[str, str], str] = {
    (_UNKNOWN, _PENDING): _PENDING,
    (_UNKNOWN, TO_OPERATOR): TO_OPERATOR,
    (_UNKNOWN, _DELIVERED): _DELIVERED,
    (_UNKNOWN, _UNDELIVERABLE): _UNDELIVERABLE,
    (_UNKNOWN, _EXPIRED): _EXPIRED,
    (_UNKNOWN, _REJECTED): _REJECTED,
    (_UNKNOWN, LATE_BOUNCE): _UNDELIVERABLE,
    (_PENDING, TO_OPERATOR): TO_OPERATOR,
    (_PENDING, _DELIVERED): _DELIVERED,
    (_PENDING, _UNDELIVERABLE): _UNDELIVERABLE,
    (_PENDING, _EXPIRED): _EXPIRED,
    (_PENDING, _REJECTED): _REJECTED,
    (_PENDING, LATE_BOUNCE): _UNDELIVERABLE,
    (TO_OPERATOR, _DELIVERED): _DELIVERED,
    (TO_OPERATOR, _UNDELIVERABLE): _UNDELIVERABLE,
    (TO_OPERATOR, _EXPIRED): _EXPIRED,
    (TO_OPERATOR, _REJECTED): _REJECTED,
    (TO_OPERATOR, LATE_BOUNCE): _UNDELIVERABLE,
    # An email that bounces after it was delivered did not reach its reader.
    (_DELIVERED, LATE_BOUNCE): _UNDELIVERABLE,
}

# Steps that the table knows, for the README and the row-by-row test.
STEPS = (_UNKNOWN, _PENDING, TO_OPERATOR, _DELIVERED, _UNDELIVERABLE, _EXPIRED, _REJECTED)
INCOMING = (*STEPS, LATE_BOUNCE)
_PUBLIC: dict[str, State] = {**{state.value: state for state in State}, TO_OPERATOR: _DELIVERED}


def public_state(step: str) -> State:
    """The contract's state of a step (delivered to the operator is delivered)."""
    return _PUBLIC[step]


def status_step(status: Status | None) -> str:
    """The step a delivery report's status asks for; 'unknown' for an unknown group."""
    if status is None:
        return _UNKNOWN
    state = GROUP_STATES.get(status.group_id) if status.group_id is not None else None
    if state is None and status.group_name:
        state = GROUP_NAME_STATES.get(status.group_name.upper())
    if state is None:
        return _UNKNOWN
    if state is _DELIVERED and (status.id == 2 or status.name == "DELIVERED_TO_OPERATOR"):
        return TO_OPERATOR
    return state


def incoming_step(event: ParsedEvent) -> str | None:
    """What an event asks of an outbound message's state, or None when it asks nothing."""
    if event.kind == _DELIVERY:
        return status_step(event.status)
    if event.kind == LATE_BOUNCE:
        return LATE_BOUNCE
    return None


def next_step(current: str, incoming: str) -> str:
    return TRANSITIONS.get((current, incoming), current)


@dataclass(slots=True)
class MessageState:
    """The mutable image of one messages row while a batch is folded into it."""

    channel: str
    message_id: str
    direction: Direction
    state: State
    id: int | None = None
    status_group_id: int | None = None
    status_group_name: str | None = None
    status_id: int | None = None
    status_name: str | None = None
    status_description: str | None = None
    error_group_id: int | None = None
    error_group_name: str | None = None
    error_id: int | None = None
    error_name: str | None = None
    error_description: str | None = None
    error_permanent: bool | None = None
    price_amount: Decimal | None = None
    price_currency: str | None = None
    sender: str | None = None
    recipient: str | None = None
    bulk_id: str | None = None
    callback_data: str | None = None
    application_id: str | None = None
    entity_id: str | None = None
    sent_at: datetime | None = None
    done_at: datetime | None = None
    seen_at: datetime | None = None
    channel_uncertain: bool = False
    action_id: str | None = None
    changed: set[str] = field(default_factory=set)

    @property
    def step(self) -> str:
        if self.state == _DELIVERED and (
            self.status_group_id == 3
            and (self.status_id == 2 or self.status_name == TO_OPERATOR.upper())
        ):
            return TO_OPERATOR
        return self.state

    def set(self, name: str, value: Any) -> None:
        if getattr(self, name) != value:
            setattr(self, name, value)
            self.changed.add(name)

    def fill(self, name: str, value: Any) -> None:
        """Set a field only while it is empty: the first report that knows it wins."""
        if value is not None and getattr(self, name) is None:
            setattr(self, name, value)
            self.changed.add(name)

    def row(self, created_at: datetime, updated_at: datetime) -> MessageRow:
        """The messages row this state is (every column but the id)."""
        return {
            "channel": self.channel,
            "message_id": self.message_id,
            "channel_uncertain": self.channel_uncertain,
            "action_id": self.action_id,
            "direction": self.direction,
            "state": self.state,
            "status_group_id": self.status_group_id,
            "status_group_name": self.status_group_name,
            "status_id": self.status_id,
            "status_name": self.status_name,
            "status_description": self.status_description,
            "error_group_id": self.error_group_id,
            "error_group_name": self.error_group_name,
            "error_id": self.error_id,
            "error_name": self.error_name,
            "error_description": self.error_description,
            "error_permanent": self.error_permanent,
            "price_amount": self.price_amount,
            "price_currency": self.price_currency,
            "sender": self.sender,
            "recipient": self.recipient,
            "bulk_id": self.bulk_id,
            "callback_data": self.callback_data,
            "application_id": self.application_id,
            "entity_id": self.entity_id,
            "sent_at": self.sent_at,
            "done_at": self.done_at,
            "seen_at": self.seen_at,
            "created_at": created_at,
            "updated_at": updated_at,
        }


# The columns a MessageState carries (all but its id and its change set).
MESSAGE_FIELDS = tuple(f.name for f in fields(MessageState) if f.name not in ("changed", "id"))


def initial_state(event: ParsedEvent) -> tuple[Direction, State]:
    """(direction, state) of a message first seen through this event."""
    if event.direction == _INBOUND:
        return _INBOUND, _RECEIVED
    return _OUTBOUND, _UNKNOWN


def _copy_status(msg: MessageState, event: ParsedEvent) -> None:
    """The message shows the status and error of the report that set its state."""
    set_status_columns(msg, event.status, event.error)
    msg.changed.update(STATUS_COLUMNS)


# Fields a message takes from the first event that knows them.
_FILLED_FROM_EVENT = (
    "sender",
    "recipient",
    "bulk_id",
    "callback_data",
    "application_id",
    "entity_id",
    "sent_at",
)


def apply_event(msg: MessageState, event: ParsedEvent) -> bool:
    """Fold one event into a message. Returns True when the state moved."""
    if event.kind not in MESSAGE_KINDS:
        return False
    for name in _FILLED_FROM_EVENT:
        msg.fill(name, getattr(event, name))
    if event.price is not None and event.price.amount is not None:
        msg.fill("price_amount", event.price.amount)
        msg.fill("price_currency", event.price.currency)
    if event.kind == _SEEN:
        msg.fill("seen_at", event.seen_at)
        return False
    incoming = incoming_step(event)
    if incoming is None or msg.direction != _OUTBOUND:
        return False
    current = msg.step
    new = next_step(current, incoming)
    if new != current:
        msg.set("state", public_state(new))
        if event.kind == _DELIVERY:
            _copy_status(msg, event)
            msg.set("done_at", event.done_at)
        return True
    if event.kind == _DELIVERY and msg.status_group_id is None and msg.status_group_name is None:
        # A first report whose group is unknown: the state stays unknown, but show what came.
        _copy_status(msg, event)
        msg.fill("done_at", event.done_at)
    return False


def markdown_table() -> str:
    """TRANSITIONS as the Markdown table printed in the README (a test keeps them equal)."""
    lines = [
        "| current | incoming report | new state |",
        "|---|---|---|",
    ]
    for (current, incoming), new in TRANSITIONS.items():
        lines.append(f"| {current} | {incoming} | {public_state(new)} |")
    return "\n".join(lines)


# ---- calls (Calls API) ---------------------------------------------------------------------------

# Event type -> the call state it reports. A call moves forward only, like a message.
CALL_EVENT_STATES: dict[str, str] = {
    "CALL_RECEIVED": "received",
    "CALL_PRE_ESTABLISHED": "ringing",
    "CALL_RINGING": "ringing",
    "CALL_ESTABLISHED": "established",
    "CALL_FINISHED": "finished",
    "CALL_FAILED": "failed",
}
CALL_STATE_RANK = {
    "unknown": 0,
    "received": 1,
    "ringing": 2,
    "established": 3,
    "finished": 4,
    "failed": 4,
}


@dataclass(slots=True)
class CallState:
    call_id: str
    state: str = "unknown"
    last_event: str | None = None
    direction: Direction | None = None
    sender: str | None = None
    recipient: str | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    hangup_cause: str | None = None
    hangup_description: str | None = None

    def columns(self) -> CallFields:
        """What the calls row holds of this state."""
        return {
            "call_id": self.call_id,
            "state": self.state,
            "last_event": self.last_event,
            "direction": self.direction,
            "sender": self.sender,
            "recipient": self.recipient,
            "started_at": self.started_at,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
            "duration_seconds": self.duration_seconds,
            "hangup_cause": self.hangup_cause,
            "hangup_description": self.hangup_description,
        }


def apply_call_event(call: CallState, event: ParsedEvent) -> bool:
    """Fold one Calls API event into its call. Returns True when the state moved."""
    call.last_event = event.sub_type
    if call.direction is None:
        call.direction = event.direction
    call.sender = call.sender or event.sender
    call.recipient = call.recipient or event.recipient
    if call.started_at is None or (event.occurred_at and event.occurred_at < call.started_at):
        call.started_at = event.occurred_at
    props = event.data.get("properties")
    log = props.get("callLog") if isinstance(props, dict) else None
    if isinstance(log, dict):
        call.started_at = as_datetime(log.get("startTime")) or call.started_at
        call.answered_at = as_datetime(log.get("answerTime")) or call.answered_at
        call.ended_at = as_datetime(log.get("endTime")) or call.ended_at
        call.duration_seconds = as_int(log.get("duration"))
        error = log.get("errorCode")
        if isinstance(error, dict):
            call.hangup_cause = as_str(error.get("name"))
            call.hangup_description = as_str(error.get("description"))
    new = CALL_EVENT_STATES.get(event.sub_type or "")
    if new is None or CALL_STATE_RANK[new] <= CALL_STATE_RANK.get(call.state, 0):
        return False
    call.state = new
    if new == "established" and call.answered_at is None:
        call.answered_at = event.occurred_at
    if new in ("finished", "failed") and call.ended_at is None:
        call.ended_at = event.occurred_at
    return True
