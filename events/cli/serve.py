"""serve, receiver and worker: the service itself."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog

from events.cli.context import check_sqlite_writable, ensure_schema, err, fail, settings, setup
from events.health import Heartbeat
from events.heap import HeapTrimmer
from events.services import Services, build_rules
from events.slow_clients import guarded_protocol
from events.supervisor import METRICS_DIR_ENV
from events.wakeup import DISPATCH, PROCESS, WakeListener

log = structlog.get_logger("events.serve")


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="receiver, API and workers under one command (the embedded default)",
        description="Run the webhook receiver and the API in one process and the workers that "
        "process, dispatch and reconcile in others (INFOBIP_EVENTS_WORKERS of them), under a "
        "supervisor that restarts a child that dies and stops them in order on SIGTERM. On "
        "SQLite the database file is created and migrated by itself.",
    )
    _http_args(p)
    p.add_argument("--no-processor", action="store_true", help="receive only (no workers)")
    p.add_argument(
        "--workers", type=int, help="worker processes (default INFOBIP_EVENTS_WORKERS, 1)"
    )
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser(
        "receiver",
        help="the webhook receiver and API alone (scale out with workers)",
        description="Receive and store webhooks and answer the API; leave processing to "
        "`infobip-events worker`.",
    )
    _http_args(p)
    p.add_argument("--fd", type=int, help="listen on this inherited socket instead (used by serve)")
    p.add_argument(
        "--wake",
        action="append",
        default=[],
        metavar="SOCKET",
        help="a worker's wake-up socket, told of each commit (used by serve; repeatable)",
    )
    p.set_defaults(func=cmd_receiver)
    p = sub.add_parser(
        "worker",
        help="process, dispatch and reconcile (several may share one PostgreSQL)",
        description="Claim pending raw webhooks in batches and turn them into messages and "
        "events, run the outbox through Membrane and reconcile missing reports. Several "
        "workers can share one PostgreSQL (FOR UPDATE SKIP LOCKED).",
    )
    p.add_argument("--once", action="store_true", help="drain what is pending, then exit")
    p.add_argument(
        "--wake-socket", help="a UNIX socket the receiver wakes this worker on (used by serve)"
    )
    p.set_defaults(func=cmd_worker)


def _http_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to listen on (default INFOBIP_EVENTS_HOST)")
    p.add_argument("--port", type=int, help="port (default INFOBIP_EVENTS_PORT, 8080)")


def cmd_serve(args: argparse.Namespace) -> int:
    if args.no_processor:
        return _receive(args, sock=None, wake=[], workers=False)
    found = settings()
    build_rules(found)  # a bad rules file stops the start here, with every problem
    # A SQLite directory this user cannot write stops serve here, in one line (the receiver
    # migrates, after the supervisor has the port).
    if found.is_sqlite:
        check_sqlite_writable(found)
    argv = [
        sys.executable,
        "-m",
        "events.supervisor",
        "--host",
        args.host or found.host,
        "--port",
        str(args.port if args.port is not None else found.port),
        "--workers",
        str(args.workers or found.workers),
        "--log-level",
        found.log_level,
        "--log-format",
        found.log_format,
    ]
    # The supervisor needs none of what this process imported: it starts afresh, light.
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def cmd_receiver(args: argparse.Namespace) -> int:
    sock = socket.socket(fileno=args.fd) if args.fd is not None else None
    return _receive(args, sock=sock, wake=args.wake, workers=False)


def _receive(
    args: argparse.Namespace, *, sock: socket.socket | None, wake: list[str], workers: bool
) -> int:
    import uvicorn

    from events.api.app import create_app

    found = settings()
    ensure_schema(found)
    host = args.host or found.host
    port = args.port if args.port is not None else found.port
    config = uvicorn.Config(
        create_app(found, run_processor=workers, auto_migrate=False, wake=wake),
        host=host,
        port=port,
        # uvicorn's fastest parts (checked by a test), the HTTP parser with deadlines for
        # clients that never finish their request.
        loop="uvloop",
        http=guarded_protocol(found.client_header_timeout_seconds, found.client_min_body_rate),
        access_log=False,
        log_level="warning",
        # X-Forwarded-For is judged by the service itself, against TRUSTED_PROXIES.
        proxy_headers=False,
        # Infobip holds connections open; keep them alive a little longer than the default.
        timeout_keep_alive=30,
    )
    if sock is None:
        sock = _listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    address = f"http://{bound_host}:{bound_port}"
    log.info("listening", address=address, workers=workers, http="httptools")
    uvicorn.Server(config).run(sockets=[sock])
    return 0


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        fail(
            f"cannot listen on {host}:{port}: {exc.strerror}. Stop what listens there, or "
            "choose another INFOBIP_EVENTS_PORT / --port",
            1,
        )


def _after_round(heartbeat_file: Path | None) -> Callable[[], None]:
    """After each round of the processor: the heartbeat (events/health.py), and the freed heap
    handed back (events/heap.py), so that a burst of big bodies does not stay in the RSS."""
    trim = HeapTrimmer()
    beat = Heartbeat(heartbeat_file).beat if heartbeat_file is not None else None

    def after_round() -> None:
        trim()
        if beat is not None:
            beat()

    return after_round


def cmd_worker(args: argparse.Namespace) -> int:
    services = setup(schema=True, checkpoints=not args.once)
    processor = services.processor
    signal.signal(signal.SIGHUP, processor.request_rules_reload)
    if args.once:
        total = 0
        while len(outcomes := processor.run_once()) == processor.batch_size:
            total += len(outcomes)
        total += len(outcomes)
        ran = 0
        while (n := services.dispatcher.run_once()) > 0:
            ran += n
        err(f"processed {total} webhooks, ran {ran} actions")
        services.stop(0)
        return 0
    listener = None
    if args.wake_socket:
        handlers = {PROCESS: processor.wake, DISPATCH: services.dispatcher.wake}
        listener = WakeListener(args.wake_socket, handlers)
        listener.start()
    processor.on_round = _after_round(services.settings.heartbeat_file)
    stop_metrics = _worker_metrics(services)
    services.start_checkpoints()
    services.start_workers()
    # SIGTERM ends the processor's loop after its batch; then the dispatcher finishes what it
    # has in flight and the reconciler stops (services.stop, in reverse order of start).
    signal.signal(signal.SIGTERM, lambda *_: processor.stop(0))
    log.info("worker started", database=services.engine.dialect.name)
    with contextlib.suppress(KeyboardInterrupt):
        processor.run_forever()
    if listener is not None:
        listener.stop()
    if stop_metrics is not None:
        stop_metrics()
    services.stop()
    return 0


def _worker_metrics(services: Services) -> Callable[[], None] | None:
    """A worker whose counts are its own (no PROMETHEUS_MULTIPROC_DIR shared with a receiver)
    serves them on METRICS_PORT; under serve the receiver's /metrics covers it."""
    found = services.settings
    if not (found.metrics and found.metrics_port) or METRICS_DIR_ENV in os.environ:
        return None
    from events.api.metrics import serve_worker_metrics

    try:
        stop = serve_worker_metrics(found, services.engine, found.metrics_port)
    except OSError as exc:
        fail(
            f"cannot serve metrics on {found.host}:{found.metrics_port}: {exc.strerror}. "
            "Choose another INFOBIP_EVENTS_METRICS_PORT",
            1,
        )
    log.info("metrics", address=f"http://{found.host}:{found.metrics_port}/metrics")
    return stop
