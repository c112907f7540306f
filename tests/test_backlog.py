"""After a burst the processor drains at its full rate (no pause while rows are pending), and
while the oldest pending webhook is too old it says so in the log (events/backlog.py)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from structlog.testing import capture_logs

from events.backlog import BacklogWatch
from events.channels.registry import PARSERS
from events.process import Processor
from storage.db import write_transaction
from storage.queries.raw import insert_raw, pending_count, raw_row
from tests.conftest import fixture_bytes

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def store(engine: Engine, count: int, received_at: datetime | None = None) -> None:
    body = fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json")
    rows = [
        raw_row(
            channel="sms",
            body=body.replace(b"MESSAGE-ID-123-xyz", f"burst-{i}".encode()),
            content_type="application/json",
            headers={},
            remote_addr=None,
            inbound=False,
            received_at=received_at,
        )
        for i in range(count)
    ]
    with write_transaction(engine) as conn:
        insert_raw(conn, rows)


class CountingEvent(threading.Event):
    """The processor's wake-up event, counting how often the loop went to sleep on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waits = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        return super().wait(timeout)


def test_after_a_burst_the_processor_claims_batch_after_batch_without_sleeping(
    engine: Engine,
) -> None:
    store(engine, 5 * 20 + 7)
    # An idle wait of an hour: one sleep with rows pending and the backlog would not clear.
    processor = Processor(engine, PARSERS, batch_size=20, idle_seconds=3600)
    processor._wake = CountingEvent()
    processor.start()
    try:
        deadline = time.monotonic() + 120  # a safety net, not a measure
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if pending_count(conn) == 0:
                    break
            time.sleep(0.05)
        with engine.connect() as conn:
            assert pending_count(conn) == 0
        # Six batches back to back; the only sleep is after the last, short one.
        assert processor._wake.waits <= 1
    finally:
        processor.stop()


def test_the_backlog_is_logged_with_the_oldest_age_while_above_the_threshold(
    engine: Engine,
) -> None:
    store(engine, 3, received_at=NOW - timedelta(seconds=95))
    store(engine, 2, received_at=NOW - timedelta(seconds=5))
    ticks = [100.0]
    watch = BacklogWatch(engine, 30.0, every_seconds=10.0, clock=lambda: ticks[0], now=lambda: NOW)
    with capture_logs() as logs:
        assert watch.check() == 95.0
        ticks[0] += 3  # within the interval: no second query, no second line
        assert watch.check() is None
    assert [(e["event"], e["oldest_pending_s"], e["pending"]) for e in logs] == [
        ("backlog", 95.0, 5)
    ]
    Processor(engine, PARSERS, batch_size=3).run_once()  # the three old ones are processed
    ticks[0] += 10
    with capture_logs() as logs:
        assert watch.check() is None  # 5 s old: under the threshold
    assert logs == []
