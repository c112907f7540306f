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
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl

import orjson
import structlog
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from events.channels.body import carries_inbound
from events.channels.registry import ANSWERS_WITH_INSTRUCTIONS
from events.heap import HeapTrimmer
from events.verify import Verifier
from storage.db import WriteBusy, write_transaction
from storage.queries.raw import RawRow, insert_raw, raw_row

log = structlog.get_logger("events.ingest")

# After a commit of this many bytes of bodies, the freed heap goes back to the system
# (events/heap.py): big buckets would otherwise leave the receiver's RSS at its peak.
TRIM_AFTER_BYTES = 1024 * 1024


class Unavailable(Exception):
    """The database could not take the request: answer 503 so that Infobip retries."""


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
        self.on_commit = on_commit
        self._pending: list[tuple[RawRow, asyncio.Future[None]]] = []
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        # One thread: commits are serial by design, and the event loop never blocks on I/O.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-commit")
        self._inline = engine.dialect.name == "sqlite"
        self.last_submit = 0.0  # time.monotonic() of the latest request
        self._trim = HeapTrimmer()

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

    async def submit(self, row: RawRow) -> None:
        """Return once the row is committed; raise Unavailable when it cannot be."""
        assert self._wake is not None, "GroupCommitter.start() was not awaited"
        loop = asyncio.get_running_loop()
        self.last_submit = time.monotonic()
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
                    if not self._write_inline(rows):
                        await loop.run_in_executor(self._executor, self._write, rows)
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(Unavailable(str(exc).splitlines()[0]))
                    continue
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
                if self.on_commit is not None:
                    self.on_commit()
                if sum(len(row["body"]) for row in rows) > TRIM_AFTER_BYTES:
                    self._trim()

    def idle(self, quiet_seconds: float = 0.02) -> bool:
        """True when no webhook arrived for a little while (the processor's cue)."""
        return not self._pending and time.monotonic() - self.last_submit > quiet_seconds

    def _write(self, rows: list[RawRow]) -> None:
        with write_transaction(self._engine) as conn:
            insert_raw(conn, rows)

    def _write_inline(self, rows: list[RawRow]) -> bool:
        """On SQLite, when no other writer holds the lock, commit right here on the event loop:
        a local commit takes well under a millisecond, less than handing the batch to a thread
        and fighting that thread for the GIL. When the lock is taken (the processor, another
        process), return False and let the thread wait for it, so the loop never blocks."""
        if not self._inline:
            return False
        try:
            with write_transaction(self._engine, wait=False) as conn:
                insert_raw(conn, rows)
        except WriteBusy:
            return False
        return True


# ---- the webhook endpoint -------------------------------------------------------------------


class WebhookReceiver:
    """POST /webhooks/{channel} as a plain ASGI handler.

    This is the path Infobip waits on, so it skips the framework's routing, request and
    response objects: it reads the body, verifies it, queues it for the group commit and
    answers. Everything else the app serves goes through Starlette.
    """

    prefix = "/webhooks/"

    def __init__(
        self,
        *,
        channels: frozenset[str],
        verifier: Verifier,
        max_body: int,
        keep_headers: Sequence[str],
        ack_body: str | None,
        ack_content_type: str,
        basic_realm: bool,
    ) -> None:
        self.channels = channels
        self.verifier = verifier
        self.max_body = max_body
        secret = verifier.secret_headers
        # Headers that carry secrets are never kept, whatever KEEP_HEADERS says.
        self.keep_headers = tuple(h for h in keep_headers if h not in secret)
        self.ack_body = ack_body
        self.ack_type = ack_content_type.encode("latin-1")
        self.basic_realm = basic_realm
        self.committer: GroupCommitter | None = None
        # Number Masking callbacks (a channel whose spec says answers_with_instructions) answer
        # with instructions, computed from local data after the callback is stored (see
        # events.masking).
        self.masking_answer: Callable[[bytes], bytes | None] | None = None
        self._inline_reads = False

    def answer_masking_with(self, answer: Callable[[bytes], bytes | None], *, inline: bool) -> None:
        self.masking_answer = answer
        self._inline_reads = inline

    def handles(self, scope: Scope) -> bool:
        return scope["type"] == "http" and str(scope["path"]).startswith(self.prefix)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        channel = scope["path"][len(self.prefix) :]
        if channel not in self.channels:  # whatever the method: there is nothing here
            listed = {"error": f"unknown channel {channel!r}", "channels": sorted(self.channels)}
            await _answer(send, 404, listed)
            return
        if scope["method"] != "POST":
            await _answer(send, 405, {"error": "use POST"}, extra=[(b"allow", b"POST")])
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client")
        client_ip = self.verifier.client_ip(
            client[0] if client else None, headers.get("x-forwarded-for")
        )
        body = await self._verified_body(scope, receive, send, channel, headers, client_ip)
        if body is None:
            return
        kept = {name: headers[name] for name in self.keep_headers if name in headers}
        row = raw_row(
            channel=channel,
            body=body,
            content_type=headers.get("content-type"),
            headers=kept,
            # A forwarded address is whatever a proxy wrote: never longer than its column.
            remote_addr=client_ip[:64] if client_ip else None,
            inbound=carries_inbound(body, headers.get("content-type")),
        )
        assert self.committer is not None, "the app's lifespan has not started"
        try:
            await self.committer.submit(row)
        except Unavailable as exc:
            log.error("webhook", channel=channel, outcome="503", reason=str(exc), ip=client_ip)
            retry = [(b"retry-after", b"5")]
            await _answer(send, 503, {"error": "database unavailable, retry later"}, extra=retry)
            return
        await self._ack(send, channel, body, row["id"])

    async def _verified_body(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        channel: str,
        headers: dict[str, str],
        client_ip: str | None,
    ) -> bytes | None:
        """The body, once the address, the size and the authentication pass; None after
        answering 401 or 413."""
        reason = self.verifier.check_address(client_ip)
        if reason is not None:
            await self._reject(send, channel, client_ip, reason)
            return None
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(send, channel, client_ip)
            return None
        try:
            body = await _read_body(receive, self.max_body)
        except ConnectionError:
            # Gone before its body was complete (or closed as too slow): nothing to answer.
            log.info("webhook", channel=channel, outcome="disconnected", ip=client_ip)
            return None
        if body is None:
            await self._too_large(send, channel, client_ip)
            return None
        query: dict[str, str] = {}
        if scope.get("query_string"):
            query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        reason = self.verifier.check(headers, query, body)
        if reason is not None:
            await self._reject(send, channel, client_ip, reason)
            return None
        return body

    async def _ack(self, send: Send, channel: str, body: bytes, raw_id: str) -> None:
        """200 with the raw row's id; a masking callback answers with its instructions."""
        content_type = self.ack_type
        instruction = None
        if channel in ANSWERS_WITH_INSTRUCTIONS and self.masking_answer is not None:
            try:
                if self._inline_reads:
                    # A local SQLite read (WAL: it never waits for a writer) is quicker than a
                    # thread hop; a PostgreSQL round trip goes to a thread.
                    instruction = self.masking_answer(body)
                else:
                    instruction = await asyncio.get_running_loop().run_in_executor(
                        None, self.masking_answer, body
                    )
            except Exception:
                # Stored is stored: a 5xx now would only make Infobip send it again. The
                # answer (events.masking) has its own fallback; this is the last resort.
                log.exception("webhook answer failed; acknowledged with the id", id=raw_id)
        if instruction is not None:
            content, content_type = instruction, b"application/json"
        elif self.ack_body is not None:
            content = self.ack_body.replace("{id}", raw_id).encode()
        else:
            content = b'{"id":"' + raw_id.encode() + b'"}'
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", content_type),
                    (b"content-length", str(len(content)).encode()),
                    (b"x-webhook-id", raw_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})

    async def _reject(self, send: Send, channel: str, ip: str | None, reason: str) -> None:
        log.warning("webhook", channel=channel, outcome="401", reason=reason, ip=ip)
        extra = [(b"www-authenticate", b'Basic realm="infobip-events"')] if self.basic_realm else []
        await _answer(send, 401, {"error": "unauthorized"}, extra=extra)

    async def _too_large(self, send: Send, channel: str, ip: str | None) -> None:
        log.warning("webhook", channel=channel, outcome="413", ip=ip, limit=self.max_body)
        message = f"body over {self.max_body} bytes (INFOBIP_EVENTS_MAX_BODY_BYTES)"
        await _answer(send, 413, {"error": message})


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it passes the limit (chunked bodies included)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("client went away before sending its body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _answer(
    send: Send, status: int, payload: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    content = orjson.dumps(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                *(extra or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
