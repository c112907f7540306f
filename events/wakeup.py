"""Waking the workers of `serve` when there is work, across processes.

Under `serve` the receiver and the workers are separate processes. Without a signal a worker
would find new webhooks only by polling (PROCESS_IDLE_SECONDS), which is what an auto-reply
would wait. The receiver sends one byte to each worker's UNIX datagram socket after a commit
(`p`: raw rows to process) or after queueing an action (`d`: the outbox); a worker's listener
thread wakes its processor or dispatcher. Losing a datagram costs at most one polling interval:
polling stays the safety net, the wake-up is only the fast path.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Sequence

PROCESS = b"p"
DISPATCH = b"d"


class WakeSender:
    """Sends a byte to every listener; never blocks and never raises."""

    def __init__(self, paths: Sequence[str]) -> None:
        self.paths = tuple(paths)
        self._socket: socket.socket | None = None
        if self.paths:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._socket.setblocking(False)

    def __call__(self, what: bytes = PROCESS) -> None:
        if self._socket is None:
            return
        for path in self.paths:
            # A worker that is restarting, or a full queue (it is awake already): no matter.
            with contextlib.suppress(OSError):
                self._socket.sendto(what, path)

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()


class WakeListener:
    """Listens on a UNIX datagram socket and calls the handler of each byte it receives."""

    def __init__(self, path: str, handlers: dict[bytes, Callable[[], None]]) -> None:
        self.path = path
        self.handlers = handlers
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # left by a worker that died
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(path)
        self._socket.settimeout(0.5)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wakeup", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._socket.recv(64)
            except TimeoutError:
                continue
            except OSError:
                return
            for byte in {data[i : i + 1] for i in range(len(data))}:
                handler = self.handlers.get(byte)
                if handler is not None:
                    handler()

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        self._thread.join(timeout)
        self._socket.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
