"""What every API handler shares: who may call (a bearer token, or loopback only), answers and
problems as JSON, list queries (filters, time windows, cursors), and running the database work
of a handler off the event loop."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from events.services import Services
from events.times import parse_since
from events.verify import Verifier

MAX_PAGE = 500

Handler = Callable[[Request, Services], Any]


class BadQuery(ValueError):
    """A query parameter that cannot be used; answered 400 with the message."""


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def problem(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def answer(result: Any, status: int = 200, **kw: Any) -> Response:
    """A handler's result as JSON: a model, a list of models or a plain value."""
    if isinstance(result, Response):
        return result
    return JSONResponse(_plain(result), status_code=status, **kw)


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def denied(request: Request) -> Response | None:
    """None when the caller may use the API: the bearer token when one is set, else a
    loopback client that no proxy forwarded (a local proxy makes everyone look local)."""
    services = services_of(request)
    token = services.settings.api_token
    if token is not None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), expected):
            return JSONResponse(
                {"error": "a bearer token is required (INFOBIP_EVENTS_API_TOKEN)"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        return None
    if not is_local(request):
        return problem(
            403,
            "no INFOBIP_EVENTS_API_TOKEN is set, so the API answers loopback clients only: "
            "set a token to reach it from elsewhere",
        )
    return None


def is_local(request: Request) -> bool:
    """A loopback client that no proxy forwarded (a local proxy makes everyone look local)."""
    peer = request.client.host if request.client else None
    forwarded = request.headers.get("x-forwarded-for")
    ip = verifier_of(request).client_ip(peer, forwarded)
    proxied = ip == peer and (forwarded is not None or "forwarded" in request.headers)
    return not proxied and is_loopback(ip)


def verifier_of(request: Request) -> Verifier:
    verifier: Verifier = request.app.state.verifier
    return verifier


def is_loopback(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def reader(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that checks the caller, then runs the handler's database work on a
    thread; BadQuery becomes 400."""

    async def endpoint(request: Request) -> Response:
        refused = denied(request)
        if refused is not None:
            return refused
        try:
            result = await run_in_threadpool(handler, request, services_of(request))
        except BadQuery as exc:
            return problem(400, str(exc))
        return answer(result)

    return endpoint


M = TypeVar("M", bound=BaseModel)


async def body_of(request: Request, model: type[M]) -> M | Response:
    """The request's JSON body as `model`, or a 400 that says everything that is wrong."""
    try:
        doc = await request.json()
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        return problem(400, f"send a JSON object: {', '.join(_names(model))}")
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        return problem(400, "; ".join(_problems(exc)))


def _names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _problems(exc: ValidationError) -> list[str]:
    """Pydantic's errors as sentences a client can act on."""
    unknown = [str(e["loc"][0]) for e in exc.errors() if e["type"] == "extra_forbidden"]
    out = [f"unknown fields: {', '.join(unknown)}"] if unknown else []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        if error["type"] == "missing":
            out.append(f"'{where}' is required")
        elif error["type"] != "extra_forbidden":
            out.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return out


def list_query(request: Request, names: Sequence[str]) -> tuple[dict[str, Any], int | None, int]:
    """Filters by name, since/until as times or ages, a numeric cursor and a page size."""
    params = request.query_params
    filters: dict[str, Any] = {name: params.get(name) for name in names}
    for name in ("since", "until"):
        if params.get(name):
            try:
                filters[name] = parse_since(params[name])
            except ValueError as exc:
                raise BadQuery(f"{name}: {exc}") from None
    cursor: int | None = None
    if params.get("cursor"):
        try:
            cursor = int(params["cursor"])
        except ValueError:
            raise BadQuery("cursor must be the next_cursor of a previous page") from None
    return filters, cursor, page_size(request)


def page_size(request: Request) -> int:
    try:
        limit = int(request.query_params.get("limit", "50"))
    except ValueError:
        raise BadQuery("limit must be a whole number") from None
    if not 1 <= limit <= MAX_PAGE:
        raise BadQuery(f"limit must be between 1 and {MAX_PAGE}")
    return limit


def page(items: list[Any], rows: Sequence[Any], limit: int) -> dict[str, Any]:
    next_cursor = str(rows[-1].id) if len(rows) == limit else None
    return {"items": items, "next_cursor": next_cursor}
