"""What failed, whether to try again, and when: the service's one failure classification and
its one retry policy.

Every call the service makes out of the process fails as a CallError that says what is known:
a Membrane call on any transport (events/membrane/client.py: MembraneError) and a forward of an
event to a URL (events/forward.py: ForwardError). classify() turns it into retryable,
permanent or unknown outcome; the dispatcher calls it once per failure. RetryPolicy says how
long to wait before trying again, for the dispatcher's actions (Membrane calls and forwards
alike) and for the processor and dispatcher loops waiting for their database.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

# The processor's and dispatcher's waits for an unavailable database start at their idle
# interval and grow to this.
DATABASE_WAIT_CAP_SECONDS = 30.0
# Beyond 2**63 times the base every delay is the cap; the bound keeps the float finite.
_MAX_DOUBLINGS = 63


class Failure(StrEnum):
    RETRYABLE = "retryable"  # timeout, connection error, 429, 5xx: try again later
    PERMANENT = "permanent"  # other 4xx, bad input: trying again cannot help
    UNKNOWN_OUTCOME = "unknown_outcome"  # a send that may have gone through


class CallError(Exception):
    """A call out of the service that did not succeed, with what is known about why."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        timeout: bool = False,
        connection: bool = False,
        reached_server: bool = True,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.timeout = timeout
        self.connection = connection
        # False when the request certainly never left (refused connection, bad argv): a send
        # that never left can be retried safely.
        self.reached_server = reached_server
        self.retry_after = retry_after
        # True when the call cannot be made at all and never will (a malformed URL, a missing
        # secret): no status, yet nothing to wait for.
        self.permanent = permanent


def classify(error: CallError, *, sends: bool) -> Failure:
    """Retryable, permanent or (for a call that sends) unknown outcome. The only place."""
    if error.permanent:
        return Failure.PERMANENT
    if error.status == 429:
        return Failure.RETRYABLE  # throttled before anything ran
    if error.status is not None and 400 <= error.status < 500:
        return Failure.PERMANENT
    transient = error.timeout or error.connection or (error.status or 0) >= 500
    if error.status is None and not transient:
        # No HTTP status and no transport trouble: a CLI that exited non-zero or printed
        # garbage. Whether it sent is unknown.
        transient = True
    if not transient:
        return Failure.PERMANENT
    if sends and error.reached_server:
        return Failure.UNKNOWN_OUTCOME
    return Failure.RETRYABLE


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with equal jitter; a Retry-After is a floor.

    Before attempt n + 1, after n failures (n >= 1):

        ceiling(n) = min(cap, base * 2 ** (n - 1))
        delay(n)   = ceiling(n) / 2 + uniform(0, ceiling(n) / 2)       (equal jitter)
        with a Retry-After of r seconds: max(delay(n), r)

    Equal jitter, not full jitter (uniform(0, ceiling(n))), on purpose: every wait is at least
    half its ceiling, so a retry never comes straight after a failure. The failures these
    retries meet (Membrane or Infobip overloaded or down, a receiver restarting, a database
    failing over) last a while, and an immediate retry mostly fails again; half the ceiling
    still spreads a burst of failed actions over an interval as long as the wait itself.
    A Retry-After is the server saying when it is worth asking again: it is never undercut,
    even above the cap. `jitter=False` waits the ceiling exactly (for predictable tests).
    """

    base: float
    cap: float
    jitter: bool = True

    def ceiling(self, failures: int) -> float:
        """The longest wait after this many failures."""
        doublings = min(max(0, failures - 1), _MAX_DOUBLINGS)
        return min(self.cap, self.base * 2.0**doublings)

    def delay(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait after this many failures (the first failure is 1)."""
        ceiling = self.ceiling(failures)
        wait = ceiling / 2 + random.uniform(0, ceiling / 2) if self.jitter else ceiling
        return max(wait, retry_after or 0.0)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """An HTTP Retry-After header in seconds: delta-seconds or an HTTP-date (RFC 9110 10.2.3);
    None when absent or unreadable, never negative."""
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())
