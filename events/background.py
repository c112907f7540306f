"""A worker thread that runs a loop until told to stop, and can be woken early."""

from __future__ import annotations

import threading

import structlog
from sqlalchemy import Engine

from storage.db import checkpoint

log = structlog.get_logger("events.background")


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


class Checkpointer(BackgroundLoop):
    """SQLite: copies the WAL into the database file every second, off the commit path (a
    commit that triggers a checkpoint waits for it, and so would a webhook's ack)."""

    thread_name = "checkpoint"

    def __init__(self, engine: Engine, every_seconds: float = 1.0) -> None:
        super().__init__()
        self.engine = engine
        self.every_seconds = every_seconds

    def start(self) -> None:
        if self.engine.dialect.name == "sqlite":
            super().start()

    def run_forever(self) -> None:
        while not self._stop.wait(self.every_seconds):
            try:
                checkpoint(self.engine)
            except Exception as exc:  # the next one will do; autocheckpoint is the net
                log.warning("checkpoint failed", error=str(exc).splitlines()[0])
