"""Liveness (the process answers) and readiness (the database answers and its schema is the
one this code expects).

Readiness answers within a second whatever the database does: a check that takes longer (a
network stall to PostgreSQL) is answered 503 "not answering" while it goes on in the
background, and only one check is ever in flight, so that a load balancer polling a stalled
service does not pile up threads waiting on the database.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from events.api.common import services_of
from events.api.models import Health
from events.api.spec import Endpoints
from events.services import Services
from storage.db import current_revision

READY_WITHIN_SECONDS = 1.0


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def _check(services: Services, expected: str | None) -> tuple[bool, dict[str, Any]]:
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = current_revision(services.engine)
    except Exception as exc:
        return False, {"database": "unreachable", "error": str(exc).splitlines()[0]}
    if current != expected:
        return False, {
            "database": "reachable",
            "schema": current,
            "expected": expected,
            "fix": "run: infobip-events db upgrade",
        }
    return True, {"database": "reachable", "schema": current}


async def readyz(request: Request) -> Response:
    state = request.app.state
    running: asyncio.Task[tuple[bool, dict[str, Any]]] | None = getattr(
        state, "readiness_check", None
    )
    if running is None or running.done():
        running = asyncio.ensure_future(
            run_in_threadpool(_check, services_of(request), state.schema_head)
        )
        state.readiness_check = running
    try:
        ok, detail = await asyncio.wait_for(asyncio.shield(running), READY_WITHIN_SECONDS)
    except TimeoutError:
        ok, detail = (
            False,
            {
                "database": "not answering",
                "error": f"no answer within {READY_WITHIN_SECONDS:g}s",
            },
        )
    return JSONResponse({"status": "ready" if ok else "not ready", **detail}, 200 if ok else 503)


api = Endpoints("health")
api.add("GET", "/healthz", healthz, "Alive", response=Health, authenticated=False)
api.add(
    "GET",
    "/readyz",
    readyz,
    "Ready: the database answers (within a second) and its schema is the one this code expects",
    response=Health,
    errors={503: "not ready, with what to fix"},
    authenticated=False,
)
