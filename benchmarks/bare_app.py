"""The baseline: a bare Starlette endpoint that reads the body and answers 200, nothing more."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def ok(request: Request) -> Response:
    await request.body()
    return Response('{"id":"0"}', 200, media_type="application/json")


app = Starlette(routes=[Route("/webhooks/{channel}", ok, methods=["POST"])])
