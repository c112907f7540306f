"""The channel registry: each channel path of the contract and the parser that reads it.

Adding a channel: write its module (a pure ``parse(body, content_type)``), add its fixtures and
its table of tests, and add one line here. The registry is a module of its own, not the
package's ``__init__``: the channel modules import from the package, so a package that
imported them back would be an import cycle.
"""

from __future__ import annotations

from events.channels import (
    auto,
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
from events.channels.common import Parser

PARSERS: dict[str, Parser] = {
    "sms": sms.parse,
    "mms": mms.parse,
    "whatsapp": whatsapp.parse,
    "viber": viber.parse,
    "email": email.parse,
    "voice": voice.parse,
    "calls": calls.parse,
    "push": push.parse,
    "rcs": rcs.parse,
    "messages-api": messages_api.parse,
    "omni": omni.parse,
    "webrtc": webrtc.parse,
    "number-masking": number_masking.parse,
    "number-lookup": number_lookup.parse,
    # One URL for everything: the decision table of FACTS.md (see events/channels/auto.py).
    "auto": auto.parse,
}

# Every channel path of the contract (DESIGN.md) has a parser; "auto" reads the body to tell.
CHANNEL_PATHS: frozenset[str] = frozenset(PARSERS)
