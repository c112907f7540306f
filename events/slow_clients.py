"""Closing connections that never finish their request, so that trickling clients cannot hold
file descriptors (and memory) forever.

uvicorn closes an idle keep-alive connection, but a connection that sends its headers one byte
a second, or a body far below any real client's rate, stays open as long as the client likes.
This protocol (uvicorn's httptools protocol, with two deadlines) closes a connection whose
headers are not complete `header_timeout` seconds after its first byte (or after it opened),
and one whose body arrives slower than `min_body_rate` bytes a second once `grace` seconds
have passed. A real Infobip request sends a few KB at once: neither deadline is near it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = structlog.get_logger("events.slow_clients")


def guarded_protocol(
    header_timeout: float, min_body_rate: float, grace: float = 5.0
) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with these deadlines (uvicorn builds it per connection)."""

    class Guarded(_GuardedHttpTools):
        pass

    Guarded.header_timeout = header_timeout
    Guarded.min_body_rate = min_body_rate
    Guarded.grace = grace
    return Guarded


class _GuardedHttpTools(HttpToolsProtocol):
    header_timeout = 10.0
    min_body_rate = 1024.0
    grace = 5.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._body_check: asyncio.TimerHandle | None = None
        self._body_started = 0.0
        self._body_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # a new request on a kept-alive connection
            self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._cancel()
        super().on_headers_complete()
        self._body_started = self.loop.time()
        self._body_bytes = 0
        self._body_check = self.loop.call_later(1.0, self._check_body_rate)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._cancel()
        super().on_message_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._deadline = self.loop.call_later(self.header_timeout, self._close, "headers")

    def _check_body_rate(self) -> None:
        elapsed = self.loop.time() - self._body_started
        if elapsed >= self.grace and self._body_bytes < self.min_body_rate * elapsed:
            self._close("body")
            return
        self._body_check = self.loop.call_later(1.0, self._check_body_rate)

    def _cancel(self) -> None:
        for handle in (self._deadline, self._body_check):
            if handle is not None:
                handle.cancel()
        self._deadline = self._body_check = None

    def _close(self, part: str) -> None:
        self._cancel()
        if not self.transport.is_closing():
            client = self.client[0] if self.client else None
            log.warning("slow client closed", waited_for=part, ip=client)
            self.transport.close()
