"""The channel registry: the one list of channels, and every table derived from it.

Adding a channel: write its module (a pure parser and its `SPEC`, events/channels/spec.py),
add its fixtures and its table of tests, add one line to CHANNELS, and a row to the README.
Everything below is derived: the parser of each webhook path, /webhooks/auto's decision table,
the reconciler's tables, the send actions, how each channel addresses its recipients and the
channels whose webhook answer carries instructions.

The registry is a module of its own, not the package's ``__init__``: the channel modules import
from the package, so a package that imported them back would be an import cycle. Nothing
registers itself on import: CHANNELS is written out.
"""

from __future__ import annotations

from datetime import timedelta

from events.channels import (
    calls,
    email,
    messages_api,
    mms,
    number_lookup,
    number_masking,
    omni,
    push,
    rcs,
    sms,
    viber,
    voice,
    webrtc,
    whatsapp,
)
from events.channels.auto import AutoParser
from events.channels.event import Parser
from events.channels.spec import ChannelSpec, Reconcile, Source
from events.vocabulary import Address

CHANNELS: tuple[ChannelSpec, ...] = (
    sms.SPEC,
    mms.SPEC,
    whatsapp.SPEC,
    viber.SPEC,
    email.SPEC,
    voice.SPEC,
    calls.SPEC,
    push.SPEC,
    rcs.SPEC,
    messages_api.SPEC,
    omni.SPEC,
    webrtc.SPEC,
    number_masking.SPEC,
    number_lookup.SPEC,
)
# The order above is the order of candidates for a shape several channels share (SMS first).

SPECS: dict[str, ChannelSpec] = {spec.name: spec for spec in CHANNELS}
if len(SPECS) != len(CHANNELS):
    raise ValueError("two channels declare the same name")

# ---- the webhook paths --------------------------------------------------------------------------

AUTO = "auto"  # one URL for everything: the body says which channel, as far as it can
PARSERS: dict[str, Parser] = {
    **{spec.name: spec.parser for spec in CHANNELS},
    AUTO: AutoParser(CHANNELS),
}
CHANNEL_PATHS: frozenset[str] = frozenset(PARSERS)
# Channels whose webhook answer carries instructions computed by the receiver.
ANSWERS_WITH_INSTRUCTIONS: frozenset[str] = frozenset(
    spec.name for spec in CHANNELS if spec.answers_with_instructions
)

# ---- addressing ---------------------------------------------------------------------------------

ADDRESSES: dict[str, Address] = {
    spec.name: spec.address for spec in CHANNELS if spec.address is not None
}


def address_of(channel: str | None) -> Address | None:
    """How a channel addresses its recipients (events/contacts.py recipient_key)."""
    return ADDRESSES.get(channel) if channel is not None else None


# One opt-out covers all of these in the `contact` scope (events/optouts.py).
PHONE_CHANNELS: frozenset[str] = frozenset(
    name for name, address in ADDRESSES.items() if address is Address.PHONE
)

# ---- sending ------------------------------------------------------------------------------------

# Which action sends text on each channel (POST /v1/send, rules, compliance replies).
SEND_ACTIONS: dict[str, str] = {
    spec.name: spec.send.text for spec in CHANNELS if spec.send is not None
}
TEMPLATE_SEND_ACTIONS: dict[str, str] = {
    spec.name: spec.send.template
    for spec in CHANNELS
    if spec.send is not None and spec.send.template is not None
}

# ---- the reconciler -----------------------------------------------------------------------------

_RECONCILED: dict[str, Reconcile] = {
    spec.name: spec.reconcile for spec in CHANNELS if spec.reconcile is not None
}
# Logs first (repeatable), by message id.
LOGS: dict[str, Source] = {n: r.logs for n, r in _RECONCILED.items() if r.logs is not None}
# Then the one-time reports.
REPORTS: dict[str, Source] = {n: r.reports for n, r in _RECONCILED.items() if r.reports is not None}
INBOUND: dict[str, Source] = {n: r.inbound for n, r in _RECONCILED.items() if r.inbound is not None}
# How long after sending a missing report is looked for, where there are logs to look in.
DEFAULT_DELAYS: dict[str, timedelta] = {n: _RECONCILED[n].delay for n in LOGS}
# Logs that take one message id a call: stale messages are looked up by bulk id there.
ONE_ID_LOGS: frozenset[str] = frozenset(n for n, r in _RECONCILED.items() if r.logs_one_id_a_call)
RECONCILED_CHANNELS: frozenset[str] = frozenset(LOGS) | frozenset(REPORTS)
