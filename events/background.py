"""A worker thread that runs a loop until told to stop, and can be woken early."""

from __future__ import annotations

import threading


class BackgroundLoop:
    """Subclasses implement run_forever(), waiting on self._wake and checking self._stop."""

    thread_name = "background"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def run_forever(self) -> None:
        raise NotImplementedError

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self.run_forever, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
