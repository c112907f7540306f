"""GET /metrics: the Prometheus exposition (events/metrics.py), behind the read API's
authentication (its bearer token, or loopback clients only without one). Under `serve` the
receiver's answer covers every process of the service. A worker on a host of its own serves its
own counts the same way on METRICS_PORT (serve_worker_metrics)."""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server
from wsgiref.types import StartResponse
from wsgiref.types import WSGIApplication as WsgiApp

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.exposition import ThreadingWSGIServer
from pydantic import SecretStr
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from events import metrics
from events.api.common import denied, is_loopback, problem, services_of
from events.api.spec import Endpoints
from events.config import Settings


async def scrape(request: Request) -> Response:
    refused = denied(request)
    if refused is not None:
        return refused
    services = services_of(request)
    if not services.settings.metrics:
        return problem(404, "metrics are off: set INFOBIP_EVENTS_METRICS=true to record them")
    # The database's part is read at each scrape: off the event loop.
    body = await run_in_threadpool(metrics.exposition, services.engine)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


api = Endpoints("metrics")
api.add(
    "GET",
    "/metrics",
    scrape,
    "Prometheus metrics (text exposition format): every process of the service under serve, "
    "with the raw inbox backlog, the outbox by state and the last reconciliation read from "
    "the database",
    errors={
        401: "a bearer token is required (INFOBIP_EVENTS_API_TOKEN)",
        403: "no token is set and the client is not loopback",
        404: "metrics are off (INFOBIP_EVENTS_METRICS=false)",
    },
)


# ---- a worker's own /metrics (workers on hosts of their own) --------------------------------


def wsgi_metrics(settings: Settings, engine: Engine) -> WsgiApp:
    """GET /metrics as a WSGI app, with the same rule as the API: the bearer token when one is
    set, else loopback clients that no proxy forwarded."""
    token = settings.api_token

    def app(environ: dict[str, Any], start: StartResponse) -> Iterable[bytes]:
        status, headers, body = _wsgi_answer(environ, token, engine)
        start(status, headers)
        return [body]

    return app


def _wsgi_answer(
    environ: dict[str, Any], token: SecretStr | None, engine: Engine
) -> tuple[str, list[tuple[str, str]], bytes]:
    if environ.get("PATH_INFO") != "/metrics" or environ.get("REQUEST_METHOD") != "GET":
        return "404 Not Found", [("Content-Type", "application/json")], b'{"error":"GET /metrics"}'
    if token is not None:
        scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            value.encode(), token.get_secret_value().encode()
        ):
            body = b'{"error":"a bearer token is required (INFOBIP_EVENTS_API_TOKEN)"}'
            json = [("Content-Type", "application/json"), ("WWW-Authenticate", "Bearer")]
            return "401 Unauthorized", json, body
    else:
        proxied = "HTTP_X_FORWARDED_FOR" in environ or "HTTP_FORWARDED" in environ
        if proxied or not is_loopback(environ.get("REMOTE_ADDR")):
            body = b'{"error":"no INFOBIP_EVENTS_API_TOKEN is set: loopback clients only"}'
            return "403 Forbidden", [("Content-Type", "application/json")], body
    return "200 OK", [("Content-Type", CONTENT_TYPE_LATEST)], metrics.exposition(engine)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes every few seconds are not news: no line each."""


def serve_worker_metrics(settings: Settings, engine: Engine, port: int) -> Callable[[], None]:
    """Serve a worker's own /metrics on HOST:port from a thread; returns how to stop it."""
    server = make_server(
        settings.host, port, wsgi_metrics(settings, engine), ThreadingWSGIServer, _Quiet
    )
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop
