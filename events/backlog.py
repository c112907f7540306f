"""The processor's backlog, told in the log: while the oldest pending webhook is older than a
threshold (PROCESS_BACKLOG_SECONDS), the processor logs `backlog` with that age and how many
are pending, at most every BACKLOG_LOG_EVERY seconds. A backlog that does not shrink after a
burst is then visible long before anyone asks why an auto-reply was late."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from sqlalchemy import Engine

from storage.queries.raw import oldest_pending, pending_count

log = structlog.get_logger("events.backlog")

BACKLOG_LOG_EVERY = 10.0  # seconds between two checks (each is two indexed queries)


class BacklogWatch:
    def __init__(
        self,
        engine: Engine,
        threshold_seconds: float,
        *,
        every_seconds: float = BACKLOG_LOG_EVERY,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.threshold = threshold_seconds
        self.every = every_seconds
        self.clock = clock
        self.now = now
        self._next = 0.0

    def check(self) -> float | None:
        """Log the backlog when it is due and above the threshold; the age logged, if any."""
        at = self.clock()
        if at < self._next:
            return None
        self._next = at + self.every
        with self.engine.connect() as conn:
            oldest = oldest_pending(conn)
            if oldest is None:
                return None
            age = (self.now() - oldest).total_seconds()
            if age < self.threshold:
                return None
            pending = pending_count(conn)
        log.warning(
            "backlog", oldest_pending_s=round(age, 1), pending=pending, threshold_s=self.threshold
        )
        return age
