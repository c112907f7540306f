"""The fake Membrane REST API (docs/membrane.md, The fake Membrane) over FakeMembrane, as an
ASGI app and as a server on a loopback port, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.membrane import FakeMembrane, error


class _Routes:
    """The fake Membrane REST API's handlers, one per route."""

    def __init__(self, membrane: FakeMembrane) -> None:
        self.membrane = membrane

    async def gate(self, request: Request) -> Response | None:
        """Hangs, auth, forced failures and garbage: what happens before the call runs."""
        knobs = self.membrane.knobs
        if knobs.hang:
            self.membrane.hung += 1  # a test can tell that a call is hanging now
            await asyncio.sleep(3600)
        denied = self.membrane.authenticate(request.headers.get("authorization"))
        if denied:
            return JSONResponse(denied[1], status_code=denied[0])
        failure = self.membrane.knob_failure()
        if failure:
            headers = {}
            if failure[0] == 429 and knobs.retry_after is not None:
                headers["Retry-After"] = str(knobs.retry_after)
            return JSONResponse(failure[1], status_code=failure[0], headers=headers)
        if knobs.garbage:
            return Response("<html>oops</html>", media_type="text/html")
        return None

    async def respond_later(self) -> None:
        """The action ran; the answer takes `latency` (or forever, with apply_then_hang)."""
        if self.membrane.knobs.apply_then_hang:
            await asyncio.sleep(3600)
        if self.membrane.knobs.latency:
            await asyncio.sleep(self.membrane.knobs.latency)

    async def answer(self, status: int, doc: Any) -> Response:
        await self.respond_later()
        return JSONResponse(doc, status_code=status)

    async def actions(self, request: Request) -> Response:
        stop = await self.gate(request)
        if stop:
            return stop
        return await self.answer(*self.membrane.actions(request.query_params.get("connectionId")))

    async def connections(self, request: Request) -> Response:
        stop = await self.gate(request)
        if stop:
            return stop
        return await self.answer(*self.membrane.connections())

    async def run(self, request: Request) -> Response:
        # The body is read first: Membrane has the request before it takes its time.
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse(error("bad_request", None, "body is not JSON"), 400)
        stop = await self.gate(request)
        if stop:
            return stop
        status, doc = self.membrane.run(
            request.path_params["key"],
            request.query_params.get("connectionId"),
            body.get("input") if isinstance(body, dict) else None,
        )
        return await self.answer(status, doc)

    async def proxy(self, request: Request) -> Response:
        raw = await request.body()
        stop = await self.gate(request)
        if stop:
            return stop
        if request.path_params["connection"] != self.membrane.connection_id:
            return JSONResponse(error("bad_request", "not_found", "Connection not found"), 404)
        body = json.loads(raw) if raw else None
        status, doc = self.membrane.proxy(
            request.method, request.path_params["path"], body, dict(request.query_params)
        )
        return await self.answer(status, doc)


def fake_api(membrane: FakeMembrane) -> Starlette:
    """The fake Membrane REST API as an ASGI app (docs/membrane.md, The fake Membrane)."""
    routes = _Routes(membrane)
    return Starlette(
        routes=[
            Route("/actions", routes.actions, methods=["GET"]),
            Route("/connections", routes.connections, methods=["GET"]),
            Route("/actions/{key}/run", routes.run, methods=["POST"]),
            Route(
                "/connections/{connection}/proxy/{path:path}",
                routes.proxy,
                methods=["GET", "POST", "PUT", "DELETE"],
            ),
        ]
    )


class FakeApiServer:
    """fake_api() under uvicorn in a thread, on a free loopback port."""

    def __init__(self, membrane: FakeMembrane) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            fake_api(membrane),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            # Hanging requests (the hang knobs) must not hold the shutdown.
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> FakeApiServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)
