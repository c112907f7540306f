"""GET /metrics: the Prometheus exposition (events/metrics.py), behind the read API's
authentication (its bearer token, or loopback clients only without one). Under `serve` the
receiver's answer covers every process of the service."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from events import metrics
from events.api.common import denied, problem, services_of
from events.api.spec import Endpoints


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
