"""serve, receiver and worker: the service itself."""

from __future__ import annotations

import argparse
import contextlib
import signal
from typing import Any

from events.cli.context import ensure_schema, err, settings, setup
from events.services import build_rules


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="receiver, API and workers in one command (the embedded default)",
        description="Run the webhook receiver, the API and the workers that process, dispatch "
        "and reconcile. On SQLite the database file is created and migrated by itself.",
    )
    _http_args(p)
    p.add_argument("--no-processor", action="store_true", help="receive only (no workers)")
    p.set_defaults(func=cmd_serve)
    p = sub.add_parser(
        "receiver",
        help="the webhook receiver and API alone (scale out with workers)",
        description="Receive and store webhooks and answer the API; leave processing to "
        "`infobip-events worker`.",
    )
    _http_args(p)
    p.set_defaults(func=cmd_receiver)
    p = sub.add_parser(
        "worker",
        help="process, dispatch and reconcile (several may share one PostgreSQL)",
        description="Claim pending raw webhooks in batches and turn them into messages and "
        "events, run the outbox through Membrane and reconcile missing reports. Several "
        "workers can share one PostgreSQL (FOR UPDATE SKIP LOCKED).",
    )
    p.add_argument("--once", action="store_true", help="drain what is pending, then exit")
    p.set_defaults(func=cmd_worker)


def _http_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", help="address to listen on (default INFOBIP_EVENTS_HOST)")
    p.add_argument("--port", type=int, help="port (default INFOBIP_EVENTS_PORT, 8080)")


def cmd_serve(args: argparse.Namespace) -> int:
    return _serve(args, workers=not args.no_processor)


def cmd_receiver(args: argparse.Namespace) -> int:
    return _serve(args, workers=False)


def _serve(args: argparse.Namespace, *, workers: bool) -> int:
    import uvicorn

    from events.api.app import create_app

    found = settings()
    if workers:
        build_rules(found)  # a bad rules file stops the start here, with every problem
    ensure_schema(found)
    uvicorn.run(
        create_app(found, run_processor=workers, auto_migrate=False),
        host=args.host or found.host,
        port=args.port if args.port is not None else found.port,
        access_log=False,
        log_level="warning",
        # X-Forwarded-For is judged by the service itself, against TRUSTED_PROXIES.
        proxy_headers=False,
        # Infobip holds connections open; keep them alive a little longer than the default.
        timeout_keep_alive=30,
    )
    return 0


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
    services.start_checkpoints()
    services.start_workers()

    # SIGTERM ends the processor's loop after its batch; then the dispatcher finishes what it
    # has in flight and the reconciler stops (services.stop, in reverse order of start).
    signal.signal(signal.SIGTERM, lambda *_: processor.stop(0))
    with contextlib.suppress(KeyboardInterrupt):
        processor.run_forever()
    services.stop()
    return 0
