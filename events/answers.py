"""Membrane calls made on demand (Number Lookups, PIN checks, email validation): each answer is
kept raw before it is used, as the reconciler keeps its pulls, and the API makes them on a
small pool of its own, so that a slow or failing Membrane never holds a webhook.

- `keep_answer` stores an answer as a raw inbox row (source `membrane`) in its own committed
  transaction. A Number Lookup query's answer is pending, so the processor turns it into
  lookup records like any webhook; the others (a 2FA check, an email validation, the
  acknowledgement of an asynchronous lookup) are kept `ignored`: there is nothing to parse,
  but what Infobip said stays readable (`GET /v1/webhooks/{id}`).
- `OnDemand` runs the API's Membrane calls on `ON_DEMAND_CONCURRENCY` threads. Webhooks are
  acknowledged on the event loop and their own commit thread, never on these; when every
  thread is busy (Membrane hangs), a new call is refused at once (503 with Retry-After)
  instead of queueing behind the ones that hang. Each call ends by the transport's timeout
  (MEMBRANE_TIMEOUT_SECONDS).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine

from events.channels.body import carries_inbound
from storage.db import write_transaction
from storage.models import RAW_IGNORED
from storage.queries.raw import insert_raw, raw_row

T = TypeVar("T")

SOURCE = "membrane"
# What a busy pool answers: the calls in flight end by the transport's timeout.
BUSY_RETRY_AFTER_SECONDS = 5


def keep_answer(
    engine: Engine,
    channel: str,
    output: Any,
    *,
    process: bool,
    note: str | None = None,
    now: datetime | None = None,
    source: str = SOURCE,
) -> str:
    """Store a Membrane answer raw, committed, before anything uses it; returns its raw id.
    `process`: leave it pending for the processor (a channel whose parser reads it);
    otherwise it is kept `ignored`, with the note saying what it is."""
    now = now or datetime.now(UTC)
    body = json.dumps(output, default=str).encode()
    row = raw_row(
        channel=channel,
        body=body,
        content_type="application/json",
        headers={},
        remote_addr=None,
        inbound=process and carries_inbound(body, "application/json"),
        source=source,
        received_at=now,
    )
    if not process:
        row["state"] = RAW_IGNORED
        row["processed_at"] = now
        row["error"] = note
    with write_transaction(engine) as conn:
        insert_raw(conn, [row])
    return str(row["id"])


class Busy(RuntimeError):
    """Every on-demand thread is taken: answered 503 with Retry-After."""

    retry_after = BUSY_RETRY_AFTER_SECONDS


class OnDemand:
    """A bounded pool for the Membrane calls the API makes while a person waits."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._slots = threading.BoundedSemaphore(size)
        self._pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="on-demand")

    def _run(self, fn: Callable[..., T], *args: Any) -> T:
        try:
            return fn(*args)
        finally:
            self._slots.release()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) on the pool, awaited without holding the event loop; Busy when full."""
        if not self._slots.acquire(blocking=False):
            raise Busy(
                f"all {self.size} on-demand Membrane calls are in flight "
                "(INFOBIP_EVENTS_ON_DEMAND_CONCURRENCY): try again shortly"
            )
        try:
            future = self._pool.submit(self._run, fn, *args)
        except RuntimeError:
            self._slots.release()
            raise
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
