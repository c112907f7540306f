"""Mobile push: delivery reports (v3 and legacy v1)."""

from __future__ import annotations

from events.channels.common import (
    not_known,
    report_reader,
    results_parser,
)

CHANNEL = "push"


_item = report_reader(CHANNEL)


parse = results_parser(CHANNEL, _item, not_known(CHANNEL, "push"))
