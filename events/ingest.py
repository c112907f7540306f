"""The raw inbox write and the ack.

A webhook is acknowledged only after its raw row is committed (invariant 1). To keep the ack
fast, concurrent requests share commits: each request queues its row and waits; one writer
commits everything queued so far in one transaction, then wakes every waiter at once. While a
commit is in flight the next batch gathers, so at low load a request waits for one commit only,
and at high load the fsync is shared by many requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from storage.db import write_transaction
from storage.queries import insert_raw


class Unavailable(Exception):
    """The database could not take the request: answer 503 so that Infobip retries."""


def new_id() -> str:
    """A time-ordered id (48-bit milliseconds + 80 random bits, 32 hex characters): unique
    across receivers on one PostgreSQL, and sorting by it is sorting by arrival."""
    millis = time.time_ns() // 1_000_000
    return f"{millis:012x}{os.urandom(10).hex()}"


def id_floor(moment: datetime) -> str:
    """The smallest id a webhook received at or after this moment can have."""
    return f"{int(moment.timestamp() * 1000):012x}"


def priority_of(body: bytes, content_type: str | None) -> int:
    """0 for inbound messages, 1 for the rest: the processor takes 0 first, so a flood of
    delivery reports never delays a reply. Inbound items are the ones with receivedAt
    (FACTS.md a.2 row 15); inbound email is multipart/form-data."""
    if b"receivedAt" in body:
        return 0
    if content_type and content_type.startswith("multipart/"):
        return 0
    return 1


def raw_row(
    *,
    channel: str,
    body: bytes,
    content_type: str | None,
    headers: dict[str, str],
    remote_addr: str | None,
    source: str = "webhook",
    received_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "channel": channel,
        "received_at": received_at or datetime.now(UTC),
        "content_type": content_type,
        "body": body,
        "headers": headers,
        "remote_addr": remote_addr,
        "source": source,
        "priority": priority_of(body, content_type),
        "state": "pending",
        "attempts": 0,
        "item_count": None,
        "error": None,
        "processed_at": None,
    }


def _expire(future: asyncio.Future[None], timeout: float) -> None:
    """The commit is late: answer 503. It may still land; Infobip then redelivers and the
    duplicate raw row is harmless, because events are deduplicated by key."""
    if not future.done():
        future.set_exception(Unavailable(f"commit took longer than {timeout:g}s"))


class GroupCommitter:
    """Batches raw-row inserts from concurrent requests into shared transactions."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int = 512,
        timeout: float = 10.0,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._timeout = timeout
        self._on_commit = on_commit
        self._pending: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        # One thread: commits are serial by design, and the event loop never blocks on I/O.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-commit")
        self.commits = 0
        self.rows = 0

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        if self._task is not None:
            # Let what is queued be written before stopping.
            while self._pending:
                await asyncio.sleep(0.01)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=True)

    async def submit(self, row: dict[str, Any]) -> None:
        """Return once the row is committed; raise Unavailable when it cannot be."""
        assert self._wake is not None, "GroupCommitter.start() was not awaited"
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._pending.append((row, future))
        self._wake.set()
        # A plain timer rather than wait_for(): no extra task per request on the hot path.
        timer = loop.call_later(self._timeout, _expire, future, self._timeout)
        try:
            await future
        finally:
            timer.cancel()

    async def _run(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                rows = [row for row, _ in batch]
                try:
                    await loop.run_in_executor(self._executor, self._write, rows)
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(Unavailable(str(exc).splitlines()[0]))
                    continue
                self.commits += 1
                self.rows += len(rows)
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
                if self._on_commit is not None:
                    self._on_commit()

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with write_transaction(self._engine) as conn:
            insert_raw(conn, rows)
