"""The contract's vocabularies as enums: what an event kind, a message state, a direction, a
recipient's address and a compliance intent may be. A StrEnum member is its string, so it is
stored, compared and serialized as the contract writes it ("delivery", "undeliverable").

Channels are not an enum: each channel module declares its own name (events/channels/spec.py)
and the registry (events/channels/registry.py) is the one list of them, so adding a channel is
one line there. An event's channel is a name too, and not always one of those: Messages API and
OMNI items name the real channel they went through, whatever Infobip calls it.
"""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    """What one event is (the contract's event kinds)."""

    DELIVERY = "delivery"
    SEEN = "seen"
    INBOUND = "inbound"
    CLICK = "click"
    OPEN = "open"
    UNSUBSCRIBE = "unsubscribe"
    COMPLAINT = "complaint"
    LATE_BOUNCE = "late_bounce"
    EMAIL_PLATFORM = "email_platform"
    CALL = "call"
    CALL_LINK = "call_link"
    MASKING_CALLBACK = "masking_callback"
    MASKING_STATUS = "masking_status"
    NUMBER_LOOKUP = "number_lookup"
    TYPING = "typing"
    TEMPLATE_UPDATE = "template_update"
    IDENTITY_CHANGE = "identity_change"
    MARKETING_PREFERENCE = "marketing_preference"
    PAYMENT = "payment"
    BALANCE_LOW = "balance_low"
    UNKNOWN = "unknown"


# Kinds that belong to a message's timeline (and so create the message if it is new).
MESSAGE_KINDS = frozenset(
    {
        Kind.DELIVERY,
        Kind.SEEN,
        Kind.INBOUND,
        Kind.CLICK,
        Kind.OPEN,
        Kind.UNSUBSCRIBE,
        Kind.COMPLAINT,
        Kind.LATE_BOUNCE,
    }
)


class State(StrEnum):
    """A message's state: an outbound one from Infobip's status group, `unknown` while no
    report has come; an inbound one is `received`."""

    UNKNOWN = "unknown"
    PENDING = "pending"
    DELIVERED = "delivered"
    UNDELIVERABLE = "undeliverable"
    EXPIRED = "expired"
    REJECTED = "rejected"
    RECEIVED = "received"


FINAL_STATES = frozenset({State.DELIVERED, State.UNDELIVERABLE, State.EXPIRED, State.REJECTED})


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Address(StrEnum):
    """How a channel addresses its recipients (events/contacts.py keys each)."""

    PHONE = "phone"
    EMAIL = "email"


class Intent(StrEnum):
    """What compliance read in an inbound message."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    OPT_OUT_UNCERTAIN = "opt_out_uncertain"
