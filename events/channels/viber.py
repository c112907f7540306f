"""Viber (and Viber Bot): delivery and seen reports, inbound text and files. Viber inbound
says sender, not from."""

from __future__ import annotations

from events.channels.common import (
    not_known,
    ott_inbound,
    report_reader,
    results_parser,
)

CHANNEL = "viber"


_item = report_reader(CHANNEL, lambda item: ott_inbound(item, CHANNEL))


parse = results_parser(CHANNEL, _item, not_known(CHANNEL, "Viber"))
