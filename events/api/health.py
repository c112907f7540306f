"""Liveness (the process answers) and readiness (the database answers and its schema is the
one this code expects)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from events.api.common import services_of
from events.api.models import Health
from events.api.spec import Endpoints
from storage.db import current_revision


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    services = services_of(request)
    expected: str | None = request.app.state.schema_head

    def check() -> tuple[bool, dict[str, Any]]:
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

    ok, detail = await run_in_threadpool(check)
    return JSONResponse({"status": "ready" if ok else "not ready", **detail}, 200 if ok else 503)


api = Endpoints("health")
api.add("GET", "/healthz", healthz, "Alive", response=Health, authenticated=False)
api.add(
    "GET",
    "/readyz",
    readyz,
    "Ready: the database answers and its schema is the one this code expects",
    response=Health,
    errors={503: "not ready, with what to fix"},
    authenticated=False,
)
