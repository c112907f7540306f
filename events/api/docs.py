"""The API's own description: `GET /openapi.json` (built from the endpoints' declarations, see
spec.py) and `GET /docs`, which renders it with Swagger UI served from the installed
`swagger-ui-bundle` package: no asset comes from a CDN."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import swagger_ui_bundle
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from events.api import (
    account,
    actions,
    calls,
    contacts,
    health,
    lookups,
    masking,
    messages,
    metrics,
    optouts,
    reconcile,
    sessions,
    verify,
)
from events.api.models import Queued
from events.api.spec import Endpoints, Operation, openapi
from events.channels.registry import CHANNEL_PATHS

webhooks = Endpoints("webhooks (Infobip posts here)")
webhooks.describe(
    "POST",
    "/webhooks/{channel}",
    f"An Infobip callback, stored before it is acknowledged; channel is one of "
    f"{', '.join(sorted(CHANNEL_PATHS))}. The answer is 200 with X-Webhook-Id and "
    '{"id": ...} (a masking callback answers with its instructions).',
    response=Queued,
    errors={
        401: "authentication failed: nothing stored",
        404: "no such channel",
        413: "the body is over INFOBIP_EVENTS_MAX_BODY_BYTES",
        503: "the database cannot take it now: Infobip retries",
    },
    authenticated=False,
)

MODULES = (
    messages,
    actions,
    optouts,
    contacts,
    masking,
    calls,
    reconcile,
    account,
    sessions,
    lookups,
    verify,
    health,
    metrics,
)


def operations() -> list[Operation]:
    return [op for m in MODULES for op in m.api.operations] + webhooks.operations + api.operations


@cache
def document() -> dict[str, Any]:
    try:
        release = version("infobip-events")
    except PackageNotFoundError:
        release = "unknown"
    return openapi(operations(), title="Infobip Events", version=release)


async def openapi_json(_request: Request) -> Response:
    return JSONResponse(document())


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Infobip Events API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="api"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
window.onload = function () {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#api", deepLinking: true});
};
</script></body></html>
"""


async def docs_page(_request: Request) -> Response:
    return HTMLResponse(PAGE)


api = Endpoints("documentation")
api.add("GET", "/openapi.json", openapi_json, "This API described", authenticated=False)
api.add("GET", "/docs", docs_page, "This API, rendered", authenticated=False)
routes = [
    *api.routes,
    Mount("/docs/assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path)),
]
