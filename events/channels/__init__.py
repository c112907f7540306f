"""Channel parsers, one module per Infobip product, and the registry that routes to them.

Adding a channel: write its module (a pure ``parse(body, content_type)``), add its fixtures and
its table of tests, and add one line here.
"""

from __future__ import annotations

from events.channels import email, sms, whatsapp
from events.channels.common import Parser

PARSERS: dict[str, Parser] = {
    "sms": sms.parse,
    "whatsapp": whatsapp.parse,
    "email": email.parse,
}

# Every channel path of the contract (DESIGN.md). A path without a parser yet still stores what
# arrives (as failed, with the reason), so that it can be replayed once its parser exists.
CHANNEL_PATHS: frozenset[str] = frozenset(
    {
        "sms",
        "mms",
        "whatsapp",
        "viber",
        "email",
        "voice",
        "calls",
        "push",
        "rcs",
        "messages-api",
        "omni",
        "webrtc",
        "number-masking",
        "number-lookup",
    }
)
