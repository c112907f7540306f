"""Row ids: time-ordered, so that sorting by id is sorting by arrival."""

from __future__ import annotations

import os
import time
from datetime import datetime


def new_id() -> str:
    """A time-ordered id (48-bit milliseconds + 80 random bits, 32 hex characters): unique
    across receivers on one PostgreSQL, and sorting by it is sorting by arrival."""
    millis = time.time_ns() // 1_000_000
    return f"{millis:012x}{os.urandom(10).hex()}"


def id_floor(moment: datetime) -> str:
    """The smallest id a row made at or after this moment can have."""
    return f"{int(moment.timestamp() * 1000):012x}"
