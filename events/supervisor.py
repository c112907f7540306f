"""`serve` as separate processes: one receiver that only acknowledges, and workers that process,
dispatch and reconcile, each with an interpreter lock of its own.

The supervisor binds the listening socket itself (so a port in use is found before any work
starts, and a receiver that restarts finds the connections Infobip opened meanwhile waiting in
the backlog), passes it to the receiver, waits until the receiver answers, then starts the
workers. A child that dies is logged and started again after a capped backoff; one that dies at
once, again and again, stops the supervisor with the reason. SIGTERM (or Ctrl-C) drains in
order: the receiver first (no new webhooks; what it acknowledged is committed), then the
workers (they finish their batch and their actions in flight). SIGHUP goes to the workers
(rules reload). The supervisor imports little: it does no database or Membrane work itself.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import structlog

from events.logs import configure_logging
from events.retry import RetryPolicy

log = structlog.get_logger("events.supervisor")

# Where serve's children keep their metrics (prometheus_client's multiprocess mode).
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
# A child that lived this long is healthy again: its restart backoff starts over.
HEALTHY_AFTER_SECONDS = 30.0
# A child that dies this many times in a row, each within HEALTHY_AFTER_SECONDS, is broken.
GIVE_UP_AFTER = 5


class SupervisorError(Exception):
    """serve cannot run; the message says why and what to do."""


def _die_with(parent: int) -> Callable[[], None]:
    """Run in the child before exec: on Linux, be killed when the supervisor dies, even by
    SIGKILL, so that no orphan keeps the port or the database (kill -9 of serve kills the
    whole service, as it did when it was one process)."""

    def arrange() -> None:
        with contextlib.suppress(OSError, AttributeError):
            import ctypes

            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the supervisor died before prctl: do not outlive it
            os._exit(1)

    return arrange


def _forget_live_gauges(pid: int, path: str) -> None:
    """A dead child's counters stay (totals never go back); its live gauges, if any, go."""
    from prometheus_client import multiprocess  # only here: the supervisor stays light

    multiprocess.mark_process_dead(pid, path)  # type: ignore[no-untyped-call]


def child_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The children's environment: this one, with glibc's allocator tuned unless the operator
    chose otherwise. By default each thread that allocates may get a heap of its own (up to 8
    per core), and the receiver's and workers' threads then keep tens of MB of freed memory
    each: two heaps. And glibc raises its mmap threshold each time a big block is freed, so
    after the first 4 MB body every later one lands in a heap that keeps it: a fixed threshold
    of 128 KiB keeps big bodies in mappings that go back to the system when freed
    (benchmarks/memory.py: the receiver's peak under 4 MB bodies 173 -> 143 MB)."""
    return {"MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072", **environ}


@dataclass
class Child:
    name: str
    argv: list[str]
    pass_fds: tuple[int, ...] = ()
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv,
            pass_fds=self.pass_fds,
            preexec_fn=_die_with(os.getpid()),
            env=child_environment(os.environ if self.env is None else self.env),
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        log.info("child started", child=self.name, pid=self.process.pid)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signum)

    def stop(self, timeout: float) -> None:
        """SIGTERM, then SIGKILL after the timeout."""
        if self.process is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("child did not stop in time: killed", child=self.name, timeout=timeout)
            self.process.kill()
            self.process.wait()
        log.info("child stopped", child=self.name, code=self.process.returncode)


@dataclass
class Supervisor:
    host: str
    port: int
    workers: int = 1
    stop_timeout: float = 30.0
    python: str = sys.executable
    backoff: RetryPolicy = field(default_factory=lambda: RetryPolicy(0.5, 30.0))
    _stopping: bool = False
    metrics_dir: str | None = None

    def bind(self) -> socket.socket:
        """The listening socket, bound before anything else happens."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            sock = socket.create_server((self.host, self.port), family=family, backlog=2048)
        except OSError as exc:
            raise SupervisorError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror}. Stop what listens "
                "there, or choose another INFOBIP_EVENTS_PORT / --port"
            ) from None
        sock.set_inheritable(True)
        return sock

    def children(self, sock: socket.socket, sockets_dir: str) -> list[Child]:
        wake = [os.path.join(sockets_dir, f"worker-{i}.sock") for i in range(1, self.workers + 1)]
        cli = [self.python, "-m", "events.cli"]
        receiver = [*cli, "receiver", "--fd", str(sock.fileno())]
        for path in wake:
            receiver += ["--wake", path]
        env = self._metrics_env(sockets_dir)
        out = [Child("receiver", receiver, pass_fds=(sock.fileno(),), env=env)]
        for i, path in enumerate(wake, start=1):
            out.append(Child(f"worker-{i}", [*cli, "worker", "--wake-socket", path], env=env))
        return out

    def _metrics_env(self, sockets_dir: str) -> dict[str, str]:
        """prometheus_client's multiprocess mode for the children: each writes its counters to
        files of its own in this fresh directory and the receiver's /metrics sums them all
        (events/metrics.py). Fresh at every start, so that no count of an earlier run stays."""
        self.metrics_dir = os.path.join(sockets_dir, "metrics")
        os.mkdir(self.metrics_dir)
        return {**os.environ, METRICS_DIR_ENV: self.metrics_dir}

    def run(self) -> int:
        """Serve until told to stop; 0 after a clean stop."""
        sock = self.bind()
        sockets_dir = tempfile.mkdtemp(prefix="infobip-events-")
        children = self.children(sock, sockets_dir)
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)

        def reload_rules(*_: object) -> None:
            for worker in children[1:]:
                worker.signal(signal.SIGHUP)

        signal.signal(signal.SIGHUP, reload_rules)
        try:
            self._start(children)
            self._watch(children)
        finally:
            for child in children:  # the receiver first: it is first in the list
                child.stop(self.stop_timeout)
            sock.close()
            shutil.rmtree(sockets_dir, ignore_errors=True)
        return 0

    def _request_stop(self, *_: object) -> None:
        self._stopping = True

    def _start(self, children: list[Child]) -> None:
        receiver, workers = children[0], children[1:]
        receiver.start()
        self._wait_until_answering(receiver)
        for worker in workers:
            worker.start()
        log.info(
            "serving",
            address=f"http://{self.host}:{self.port}",
            receiver=receiver.process.pid if receiver.process else None,
            workers=[w.process.pid for w in workers if w.process],
        )

    def _wait_until_answering(self, receiver: Child, timeout: float = 60.0) -> None:
        """The receiver migrates SQLite and starts; workers wait until it answers /healthz."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = "[::1]" if host == "::" else (f"[{host}]" if ":" in host else host)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self._stopping:
            if not receiver.alive():
                raise SupervisorError("the receiver stopped while starting: see its log above")
            url = f"http://{host}:{self.port}/healthz"
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1):
                return
            time.sleep(0.1)
        if not self._stopping:
            raise SupervisorError(f"the receiver did not answer within {timeout:g}s")

    def _watch(self, children: list[Child]) -> None:
        while not self._stopping:
            now = time.monotonic()
            for child in children:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        child.start()
                elif not child.alive():
                    self._died(child, now)
            time.sleep(0.2)

    def _died(self, child: Child, now: float) -> None:
        code = child.process.returncode if child.process else None
        lived = now - child.started_at
        child.failures = 1 if lived >= HEALTHY_AFTER_SECONDS else child.failures + 1
        if child.failures >= GIVE_UP_AFTER:
            raise SupervisorError(
                f"{child.name} exited {child.failures} times in a row (last code {code}): "
                "see its log above"
            )
        if child.process is not None and self.metrics_dir is not None:
            _forget_live_gauges(child.process.pid, self.metrics_dir)
        wait = self.backoff.delay(child.failures)
        log.error(
            "child died: restarting",
            child=child.name,
            code=code,
            lived_s=round(lived, 1),
            restart_in_s=round(wait, 2),
        )
        child.restart_at = now + wait


def main(argv: list[str] | None = None) -> int:
    """`infobip-events serve` replaces itself with this (os.execv) once the settings and the
    rules are checked, so that the supervisor holds none of the service's imports."""
    parser = argparse.ArgumentParser(
        prog="python -m events.supervisor",
        description="The process supervisor of `infobip-events serve` (use that command).",
    )
    parser.add_argument("--host", required=True, help="address to listen on")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--log-level", default="INFO", help="as INFOBIP_EVENTS_LOG_LEVEL")
    parser.add_argument("--log-format", default="auto", help="as INFOBIP_EVENTS_LOG_FORMAT")
    args = parser.parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        return Supervisor(args.host, args.port, workers=args.workers).run()
    except SupervisorError as exc:
        print(f"infobip-events serve: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
