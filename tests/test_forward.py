"""Forwards (a rule's `forward` action) through the outbox and the dispatcher: a receiver that
times out or refuses the connection is retried with the dispatcher's backoff; a forward that
can never be made fails at once. Signing and a retried 503 are in
tests/rules/test_rules_pipeline.py."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, select

from events.dispatch import Dispatcher
from events.forward import Forwarder, ForwardError
from events.membrane.catalogue import ACTIONS
from events.membrane.dryrun import DryRunClient
from events.outbox import enqueue
from events.retry import Failure, classify
from storage.db import write_transaction
from storage.models import outbox

SECRET = "forward-secret-0123"
EVENT = {"kind": "inbound", "text": "hello"}
NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A receiver that takes the connection and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"


@pytest.fixture
def refused_url() -> str:
    """A loopback port nothing listens on: the connection is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def forward_once(engine: Engine, url: Any, secret: str | None = SECRET) -> Any:
    """Queue one forward, run the dispatcher once, return the action's row."""
    with write_transaction(engine) as conn:
        action_id, _ = enqueue(
            conn,
            ACTIONS,
            "forward-http",
            {"url": url, "event": EVENT},
            idempotency_key=f"forward-{url}",
            now=NOW,
        )
    dispatcher = Dispatcher(
        engine,
        DryRunClient(),
        dict(ACTIONS),
        backoff_seconds=10,
        backoff_cap_seconds=600,
        forward_secret=secret,
        forward_timeout=0.3,
        clock=lambda: NOW,
    )
    try:
        assert dispatcher.run_once() == 1
    finally:
        dispatcher.stop()
    with engine.connect() as conn:
        return conn.execute(select(outbox).where(outbox.c.id == action_id)).one()


def test_a_forward_that_times_out_is_retried_after_the_backoff(
    engine: Engine, silent_url: str
) -> None:
    row = forward_once(engine, silent_url)
    assert (row.state, row.attempts) == ("pending", 1)
    assert "timed out" in row.last_error
    # The first retry: equal jitter over the base, 10 s.
    assert 5 <= (row.next_attempt_at - NOW).total_seconds() <= 10


def test_a_forward_to_a_refused_connection_is_retried_after_the_backoff(
    engine: Engine, refused_url: str
) -> None:
    row = forward_once(engine, refused_url)
    assert (row.state, row.attempts) == ("pending", 1)
    assert "cannot connect" in row.last_error
    assert 5 <= (row.next_attempt_at - NOW).total_seconds() <= 10


@pytest.mark.parametrize(
    ("url", "secret", "reason"),
    [
        ("http://127.0.0.1:9/hook", None, "always signed"),
        ("ftp://example.com/hook", SECRET, "not an http(s) URL"),
        (None, SECRET, "not an http(s) URL"),
    ],
)
def test_a_forward_that_can_never_be_made_fails_at_once(
    engine: Engine, url: str | None, secret: str | None, reason: str
) -> None:
    row = forward_once(engine, url, secret)
    assert (row.state, row.attempts) == ("failed", 1)
    assert reason in row.last_error


def test_the_forwarder_says_what_failed_for_the_one_classification(
    silent_url: str, refused_url: str
) -> None:
    forwarder = Forwarder(SECRET, timeout=0.3)
    with pytest.raises(ForwardError) as timed_out:
        forwarder.post(silent_url, EVENT)
    assert timed_out.value.timeout
    with pytest.raises(ForwardError) as refused:
        forwarder.post(refused_url, EVENT)
    assert refused.value.connection and not refused.value.reached_server
    forwarder.close()
    for error in (timed_out.value, refused.value):
        assert classify(error, sends=False) is Failure.RETRYABLE
