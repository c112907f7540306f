"""create_app(settings): the webhook receiver in front, then the API's routes by concern.

The webhook path (`POST /webhooks/{channel}`) is a plain ASGI handler (events/ingest.py) that
answers before the framework is reached: it is the path Infobip waits on. Everything else is
Starlette routes, one module per concern, reading the long-lived objects (events/services.py)
from the application's state. Nothing touches the database until the lifespan starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import structlog
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from events import metrics
from events.api import docs
from events.channels.registry import CHANNEL_PATHS
from events.config import Settings
from events.console.routes import routes as console_routes
from events.ingest import GroupCommitter, WebhookReceiver
from events.services import Services
from events.verify import Verifier
from events.wakeup import DISPATCH, WakeSender
from storage.db import head_revision, upgrade

log = structlog.get_logger("events.app")

ROUTES = [
    *(route for module in docs.MODULES for route in module.api.routes),
    *docs.routes,
    *console_routes,  # the web console (events/console/)
]


def build_receiver(settings: Settings) -> WebhookReceiver:
    return WebhookReceiver(
        channels=CHANNEL_PATHS,
        verifier=Verifier.from_settings(settings),
        max_body=settings.max_body_bytes,
        keep_headers=settings.keep_headers,
        ack_body=settings.ack_body,
        ack_content_type=settings.ack_content_type,
        basic_realm=settings.webhook_username is not None,
    )


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    run_processor: bool = True,
    auto_migrate: bool | None = None,
    wake: Sequence[str] = (),
) -> ASGIApp:
    """The ASGI app: receiver, API and, with run_processor, the workers in threads. `wake`:
    the wake-up sockets of worker processes (events/wakeup.py), told of each commit."""
    receiver = build_receiver(settings)
    # Counted and timed only when metrics are on: off, the ack path is exactly the receiver.
    webhooks = metrics.TimedWebhooks(receiver) if settings.metrics else receiver
    migrate = settings.is_sqlite if auto_migrate is None else auto_migrate

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if migrate:
            await run_in_threadpool(upgrade, settings.database_url)
        services = Services(settings, engine=engine, background_checkpoints=True)
        app.state.services = services
        app.state.verifier = receiver.verifier
        app.state.schema_head = head_revision(settings.database_url)
        sender = WakeSender(wake)
        services.outbox_listeners.append(lambda: sender(DISPATCH))
        async with _running(services, receiver, run_processor, sender):
            yield
        sender.close()

    framework = Starlette(routes=ROUTES, lifespan=lifespan)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if receiver.handles(scope):
            await webhooks(scope, receive, send)
        else:
            await framework(scope, receive, send)

    return app


@asynccontextmanager
async def _running(
    services: Services, receiver: WebhookReceiver, workers: bool, wake: WakeSender
) -> AsyncIterator[None]:
    """The group commit and the checkpoints, the masking answers, and (with workers) the
    processor, dispatcher and reconciler; stopped in reverse order."""
    settings = services.settings
    committer = GroupCommitter(
        services.engine,
        max_batch=settings.ingest_max_batch,
        timeout=settings.ingest_commit_timeout_seconds,
    )
    if workers:
        processor = services.processor
        processor.ingest_idle = committer.idle  # small batches while webhooks arrive
        committer.on_commit = processor.wake
        _reload_on_sighup(services)
    elif wake.paths:
        committer.on_commit = wake  # the worker processes' processors
    await committer.start()
    services.start_checkpoints()
    receiver.committer = committer
    inline = services.engine.dialect.name == "sqlite"
    receiver.answer_masking_with(services.masking.answer, inline=inline)
    if workers:
        services.start_workers()
        services.processor.start()
    _warn_without_auth(settings)
    loop = type(asyncio.get_running_loop()).__module__.split(".")[0]  # uvloop under uvicorn
    log.info("started", database=services.engine.dialect.name, processor=workers, loop=loop)
    try:
        yield
    finally:
        await committer.stop()
        if workers:
            await run_in_threadpool(services.processor.stop)
        await run_in_threadpool(services.stop)


def _reload_on_sighup(services: Services) -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        # Only in the main thread's loop (uvicorn's); tests that run the app elsewhere skip it.
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, services.processor.request_rules_reload)


def _warn_without_auth(settings: Settings) -> None:
    if not settings.webhook_auth_configured:
        log.warning(
            "NO WEBHOOK AUTHENTICATION IS CONFIGURED: anyone who finds this URL can post "
            "callbacks. Set INFOBIP_EVENTS_WEBHOOK_USERNAME/PASSWORD, WEBHOOK_TOKEN, "
            "WEBHOOK_HMAC_SECRET or WEBHOOK_ALLOWED_IPS."
        )
