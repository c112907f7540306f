"""Reading times people type: ISO 8601, or a relative age such as 15m, 24h, 7d."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """An aware datetime; raise ValueError with what to write instead."""
    match = _RELATIVE.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use ISO 8601 (2026-11-27T10:00:00Z) or an age (15m, 24h, 7d)"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_age_seconds(text: str) -> float:
    """An age such as 15m, 1h or 90s, in seconds."""
    match = _RELATIVE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an age: write 90s, 15m, 1h or 2d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))}).total_seconds()
