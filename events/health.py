"""Health as a container orchestrator asks for it: is the receiver on this machine ready (its
`/readyz`: the database answers and its schema is current), and are the workers going round
their loop (a heartbeat file each worker touches after every round that reached the
database)?

`infobip-events health` and `python -m events.health` (the same check, without the command
line's imports: the Docker image's HEALTHCHECK runs it every 30 seconds) print one line per
check and exit 0 when healthy, 1 when not. With neither --receiver nor --worker, what runs
here is checked: the receiver when something answers on the port, the workers when their
heartbeat file exists, and at least one of the two must be there.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger("events.health")


def local_url(host: str, port: int, path: str) -> str:
    """The URL of a server listening on host:port, as seen from this machine (a wildcard
    address is reached on loopback)."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}{path}"


class Heartbeat:
    """The file a worker touches after every round of its loop that reached the database, at
    most once per `every_seconds`. A file that cannot be written is logged once and never
    stops the worker (health then reports the worker as stale, which is the truth)."""

    def __init__(self, path: Path, every_seconds: float = 1.0) -> None:
        self.path = path
        self.every_seconds = every_seconds
        self._last = float("-inf")
        self._warned = False

    def beat(self) -> None:
        now = time.monotonic()
        if now - self._last < self.every_seconds:
            return
        self._last = now
        try:
            self.path.touch()
        except OSError as exc:
            if not self._warned:
                self._warned = True
                log.warning("heartbeat file cannot be written", path=str(self.path), error=str(exc))


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    # False when there was nothing to check (no receiver listening, no heartbeat file).
    present: bool = True

    def line(self) -> str:
        return f"{self.name}: {'ok' if self.ok else 'FAIL'}: {self.detail}"


def check_receiver(host: str, port: int, timeout: float = 3.0) -> Check:
    """The receiver's /readyz on this machine."""
    url = local_url(host, port, "/readyz")
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return Check("receiver", True, f"{url} ready")
    except urllib.error.HTTPError as exc:
        with contextlib.suppress(Exception):
            body = json.loads(exc.read())
            reason = body.get("fix") or body.get("error") or body.get("database")
            return Check("receiver", False, f"{url} answered {exc.code}: {reason}")
        return Check("receiver", False, f"{url} answered {exc.code}")
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        refused = isinstance(reason, ConnectionRefusedError)
        return Check("receiver", False, f"{url}: {reason}", present=not refused)


def check_worker(path: Path | None, max_age: float, now: float | None = None) -> Check:
    """The workers' heartbeat file is younger than max_age seconds."""
    if path is None:
        return Check("worker", False, "no INFOBIP_EVENTS_HEARTBEAT_FILE is set", present=False)
    try:
        modified = path.stat().st_mtime
    except FileNotFoundError:
        return Check("worker", False, f"no heartbeat at {path} (not started yet?)", present=False)
    except OSError as exc:
        return Check("worker", False, f"heartbeat {path}: {exc.strerror}")
    age = (time.time() if now is None else now) - modified
    if age > max_age:
        return Check("worker", False, f"last heartbeat {age:.0f}s ago (more than {max_age:g}s)")
    return Check("worker", True, f"last heartbeat {age:.1f}s ago")


def run_checks(
    *,
    host: str,
    port: int,
    heartbeat_file: Path | None,
    max_age: float,
    receiver: bool = False,
    worker: bool = False,
    timeout: float = 3.0,
) -> tuple[bool, list[Check]]:
    """What --receiver and --worker ask for; with neither, what is present here (see the
    module's docstring)."""
    auto = not (receiver or worker)
    checks: list[Check] = []
    if receiver or auto:
        checks.append(check_receiver(host, port, timeout))
    if worker or auto:
        checks.append(check_worker(heartbeat_file, max_age))
    if not auto:
        return all(c.ok for c in checks), checks
    present = [c for c in checks if c.present]
    if not present:
        return False, checks
    return all(c.ok for c in present), present


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--receiver",
        action="store_true",
        help="check the receiver's /readyz on INFOBIP_EVENTS_PORT (must answer)",
    )
    parser.add_argument(
        "--worker",
        action="store_true",
        help="check the workers' heartbeat (INFOBIP_EVENTS_HEARTBEAT_FILE, must be fresh)",
    )
    parser.add_argument(
        "--timeout", type=float, default=3.0, help="seconds to wait for the receiver (3)"
    )


def run(args: argparse.Namespace) -> int:
    """Print one line per check; 0 when healthy, 1 when not, 2 on bad settings."""
    from events.config import SettingsError, load_settings

    try:
        found = load_settings()
    except SettingsError as exc:
        print(f"infobip-events health: {exc}", file=sys.stderr)
        return 2
    healthy, checks = run_checks(
        host=found.host,
        port=found.port,
        heartbeat_file=found.heartbeat_file,
        max_age=found.heartbeat_max_age_seconds,
        receiver=args.receiver,
        worker=args.worker,
        timeout=args.timeout,
    )
    for check in checks:
        print(check.line())
    if not any(c.present for c in checks) and not (args.receiver or args.worker):
        print("nothing to check: no receiver answers here and no worker heartbeat exists")
    sys.stdout.flush()
    return 0 if healthy else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m events.health",
        description="The check of `infobip-events health`, with fewer imports (for "
        "container health checks).",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
