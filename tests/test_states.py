"""The state machine, row by row: every (current, incoming) pair, through apply_event."""

from __future__ import annotations

from pathlib import Path

import pytest

from events.channels.event import ParsedEvent
from events.channels.status import Status
from events.states import INCOMING, STEPS, TRANSITIONS, MessageState, apply_event, markdown_table

# The behaviour the README promises, written out by hand: (current, incoming) -> new public
# state. Anything not listed keeps the current state.
EXPECTED_MOVES = {
    ("unknown", "pending"): "pending",
    ("unknown", "delivered_to_operator"): "delivered",
    ("unknown", "delivered"): "delivered",
    ("unknown", "undeliverable"): "undeliverable",
    ("unknown", "expired"): "expired",
    ("unknown", "rejected"): "rejected",
    ("unknown", "late_bounce"): "undeliverable",
    ("pending", "delivered_to_operator"): "delivered",
    ("pending", "delivered"): "delivered",
    ("pending", "undeliverable"): "undeliverable",
    ("pending", "expired"): "expired",
    ("pending", "rejected"): "rejected",
    ("pending", "late_bounce"): "undeliverable",
    ("delivered_to_operator", "delivered"): "delivered",
    ("delivered_to_operator", "undeliverable"): "undeliverable",
    ("delivered_to_operator", "expired"): "expired",
    ("delivered_to_operator", "rejected"): "rejected",
    ("delivered_to_operator", "late_bounce"): "undeliverable",
    ("delivered", "late_bounce"): "undeliverable",
}

STATUS_OF_STEP = {
    "unknown": Status(9, "UNEXPECTED", 999, "SOMETHING_NEW", None),
    "pending": Status(1, "PENDING", 26, "PENDING_ACCEPTED", None),
    "delivered_to_operator": Status(3, "DELIVERED", 2, "DELIVERED_TO_OPERATOR", None),
    "delivered": Status(3, "DELIVERED", 5, "DELIVERED_TO_HANDSET", None),
    "undeliverable": Status(2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED", None),
    "expired": Status(4, "EXPIRED", 15, "EXPIRED_EXPIRED", None),
    "rejected": Status(5, "REJECTED", 6, "REJECTED_NETWORK", None),
}


def event_for(step: str) -> ParsedEvent:
    if step == "late_bounce":
        return ParsedEvent(
            kind="late_bounce",
            channel="email",
            discriminator="x",
            message_id="m",
            direction="outbound",
        )
    return ParsedEvent(
        kind="delivery",
        channel="sms",
        discriminator=step,
        message_id="m",
        direction="outbound",
        status=STATUS_OF_STEP[step],
    )


def message_at(step: str) -> MessageState:
    msg = MessageState(channel="sms", message_id="m", direction="outbound", state="unknown")
    if step != "unknown":
        apply_event(msg, event_for(step))
    assert msg.step == step
    msg.changed.clear()
    return msg


PAIRS = [(c, i) for c in STEPS for i in INCOMING]


@pytest.mark.parametrize(("current", "incoming"), PAIRS, ids=[f"{c}+{i}" for c, i in PAIRS])
def test_transition_row_moves_forward_only(current: str, incoming: str) -> None:
    msg = message_at(current)
    before = msg.state
    moved = apply_event(msg, event_for(incoming))
    want = EXPECTED_MOVES.get((current, incoming), before)
    assert msg.state == want
    assert moved == ((current, incoming) in EXPECTED_MOVES)


def test_transition_table_is_the_documented_one() -> None:
    public = {
        k: ("delivered" if v == "delivered_to_operator" else v) for k, v in TRANSITIONS.items()
    }
    assert public == EXPECTED_MOVES


def test_readme_shows_the_transition_table() -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert markdown_table() in readme


def test_unknown_status_group_leaves_state_unknown_but_keeps_the_status() -> None:
    msg = MessageState(channel="sms", message_id="m", direction="outbound", state="unknown")
    apply_event(msg, event_for("unknown"))
    assert msg.state == "unknown"
    assert msg.status_group_name == "UNEXPECTED"


def test_accepted_group_name_without_id_counts_as_pending() -> None:
    msg = MessageState(channel="sms", message_id="m", direction="outbound", state="unknown")
    event = ParsedEvent(
        kind="delivery",
        channel="sms",
        discriminator="a",
        message_id="m",
        direction="outbound",
        status=Status(None, "ACCEPTED", None, None, None),
    )
    assert apply_event(msg, event)
    assert msg.state == "pending"


def test_inbound_message_state_never_moves() -> None:
    msg = MessageState(channel="sms", message_id="m", direction="inbound", state="received")
    assert not apply_event(msg, event_for("delivered"))
    assert msg.state == "received"
