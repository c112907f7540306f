"""The forwarder: a rule's `forward` action POSTs the event as JSON to a URL, signed.

The receiver checks X-Infobip-Events-Signature, "sha256=" + hex HMAC-SHA256 over
"<X-Infobip-Events-Timestamp>." + body, with the shared INFOBIP_EVENTS_FORWARD_HMAC_SECRET:
forwards are always signed. A failed forward raises ForwardError, which the dispatcher
classifies (events/retry.py) and retries like any other action.

urllib3, as the Membrane HTTP transport: one HTTP client in the dispatcher. No redirects (a
forward goes where the rule says, or fails) and no retries of its own (the outbox retries).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    LocationValueError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util import parse_url

from events.retry import CallError, retry_after_seconds

TIMESTAMP_HEADER = "X-Infobip-Events-Timestamp"
SIGNATURE_HEADER = "X-Infobip-Events-Signature"


class ForwardError(CallError):
    """A forward that did not succeed, with what is known about why."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "timestamp." + body, hex: what a forward's receiver checks."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class Forwarder:
    """Signs and POSTs events; one connection pool, made on first use, shared by threads."""

    def __init__(
        self,
        secret: str | None,
        *,
        timeout: float = 10.0,
        max_connections: int = 10,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret = secret
        self.timeout = timeout
        self.max_connections = max_connections
        self.clock = clock
        self._http: urllib3.PoolManager | None = None
        self._lock = threading.Lock()

    def _pool(self) -> urllib3.PoolManager:
        with self._lock:
            if self._http is None:
                self._http = urllib3.PoolManager(
                    maxsize=self.max_connections,
                    timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                    retries=False,
                )
            return self._http

    def post(self, url: Any, event: Any) -> dict[str, Any]:
        """POST the event to the URL, signed. Returns {"status": the receiver's status};
        ForwardError when the forward cannot be made or the receiver does not take it (any
        status from 300 up)."""
        if not _is_http_url(url):
            raise ForwardError(f"forward: not an http(s) URL: {url!r}", permanent=True)
        if not self.secret:
            raise ForwardError(
                "no INFOBIP_EVENTS_FORWARD_HMAC_SECRET: forwards are always signed",
                permanent=True,
            )
        body = orjson.dumps(event)
        timestamp = str(int(self.clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self.secret, timestamp, body),
        }
        try:
            response = self._pool().request(
                "POST", url, body=body, headers=headers, redirect=False, retries=False
            )
        except HTTPError as exc:
            raise _transport_error(url, exc) from None
        if response.status >= 300:
            raise ForwardError(
                f"forward to {url}: HTTP {response.status}",
                status=response.status,
                retry_after=retry_after_seconds(response.headers.get("retry-after")),
            )
        return {"status": response.status}

    def close(self) -> None:
        with self._lock:
            if self._http is not None:
                self._http.clear()


def _is_http_url(url: Any) -> bool:
    if not isinstance(url, str):
        return False
    try:
        parsed = parse_url(url)
    except LocationValueError:
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)


def _transport_error(url: str, exc: HTTPError) -> ForwardError:
    # urllib3's NewConnectionError is a ConnectTimeoutError: test it first.
    if isinstance(exc, NewConnectionError):
        return ForwardError(
            f"forward to {url}: cannot connect: {exc}", connection=True, reached_server=False
        )
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError, TimeoutError)):
        return ForwardError(f"forward to {url} timed out", timeout=True)
    return ForwardError(f"forward to {url}: {exc}", connection=True)
