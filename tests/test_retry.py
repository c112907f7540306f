"""The one retry policy and the one failure classification (events/retry.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from events.forward import ForwardError
from events.membrane.client import MembraneError
from events.retry import CallError, Failure, RetryPolicy, classify, retry_after_seconds

DISPATCH = RetryPolicy(base=2.0, cap=600.0)  # the dispatcher's defaults


@pytest.mark.parametrize(
    ("failures", "ceiling"),
    [
        (0, 2.0),  # nothing failed yet: never less than the base
        (1, 2.0),
        (2, 4.0),
        (3, 8.0),
        (6, 64.0),
        (9, 512.0),
        (10, 600.0),  # 1024 capped
        (50, 600.0),
        (10_000, 600.0),  # a loop that kept failing for days: still the cap, no overflow
    ],
)
def test_each_attempt_waits_between_half_its_ceiling_and_its_ceiling(
    failures: int, ceiling: float
) -> None:
    assert DISPATCH.ceiling(failures) == ceiling
    waits = [DISPATCH.delay(failures) for _ in range(300)]
    assert all(ceiling / 2 <= w <= ceiling for w in waits)
    # Jittered: spread over the upper half, not one value.
    assert max(waits) - min(waits) > ceiling / 4


@pytest.mark.parametrize(
    ("failures", "retry_after", "least", "most"),
    [
        (1, None, 1.0, 2.0),
        (1, 0.0, 1.0, 2.0),
        (1, 30.0, 30.0, 30.0),  # the server's wait is longer: it wins
        (3, 1.0, 4.0, 8.0),  # the backoff is longer: the Retry-After is only a floor
        (12, 3600.0, 3600.0, 3600.0),  # a floor even above the cap
    ],
)
def test_a_retry_after_is_a_floor(
    failures: int, retry_after: float | None, least: float, most: float
) -> None:
    for _ in range(100):
        assert least <= DISPATCH.delay(failures, retry_after) <= most


@pytest.mark.parametrize(
    ("policy", "failures", "retry_after", "wait"),
    [
        (RetryPolicy(1.0, 10.0, jitter=False), 1, None, 1.0),
        (RetryPolicy(1.0, 10.0, jitter=False), 4, None, 8.0),
        (RetryPolicy(1.0, 10.0, jitter=False), 5, None, 10.0),
        (RetryPolicy(1.0, 10.0, jitter=False), 2, 5.0, 5.0),
        (RetryPolicy(0.5, 30.0, jitter=False), 7, None, 30.0),
    ],
)
def test_without_jitter_the_wait_is_the_ceiling(
    policy: RetryPolicy, failures: int, retry_after: float | None, wait: float
) -> None:
    assert policy.delay(failures, retry_after) == wait


def test_equal_jitter_is_uniform_over_the_upper_half_of_the_ceiling() -> None:
    waits = [RetryPolicy(base=10.0, cap=10.0).delay(1) for _ in range(4000)]
    below_three_quarters = sum(1 for w in waits if w < 7.5) / len(waits)
    assert 0.45 < below_three_quarters < 0.55
    assert min(waits) >= 5.0


NOW = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("30", 30.0),
        ("1.5", 1.5),
        ("-4", 0.0),
        ("inf", None),
        ("nan", None),
        ("soon", None),
        ("Sat, 01 Mar 2025 12:02:00 GMT", 120.0),
        ("Sat, 01 Mar 2025 11:00:00 GMT", 0.0),  # already past
    ],
)
def test_retry_after_headers_are_read_as_seconds_or_an_http_date(
    header: str | None, seconds: float | None
) -> None:
    assert retry_after_seconds(header, NOW) == seconds


@pytest.mark.parametrize(
    ("error", "sends", "failure"),
    [
        (ForwardError("x", timeout=True), False, Failure.RETRYABLE),
        (ForwardError("x", connection=True, reached_server=False), False, Failure.RETRYABLE),
        (ForwardError("x", status=503), False, Failure.RETRYABLE),
        (ForwardError("x", status=429, retry_after=9), False, Failure.RETRYABLE),
        (ForwardError("x", status=410), False, Failure.PERMANENT),
        (ForwardError("x", status=302), False, Failure.PERMANENT),
        (ForwardError("x", permanent=True), False, Failure.PERMANENT),
        (MembraneError("x", timeout=True), True, Failure.UNKNOWN_OUTCOME),
        (MembraneError("x", timeout=True), False, Failure.RETRYABLE),
        (MembraneError("x", connection=True, reached_server=False), True, Failure.RETRYABLE),
        (MembraneError("x", status=500), True, Failure.UNKNOWN_OUTCOME),
        (MembraneError("x", status=429), True, Failure.RETRYABLE),
        (MembraneError("x", status=400), True, Failure.PERMANENT),
        (MembraneError("exit 1", stderr="boom"), True, Failure.UNKNOWN_OUTCOME),
        (MembraneError("exit 1", stderr="boom"), False, Failure.RETRYABLE),
    ],
)
def test_membrane_and_forward_failures_are_classified_in_one_place(
    error: CallError, sends: bool, failure: Failure
) -> None:
    assert classify(error, sends=sends) is failure
