"""Pages from the templates, and the two shapes of console endpoint: a page (GET: access
checked, database work on a thread, rendered) and an action (POST: access and CSRF checked,
the work done on a thread, then a redirect to the page that shows its result)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from events.api.common import BadQuery, services_of
from events.console.session import Refused, Session, access, checked_form, set_cookie
from events.services import Services

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")

# No script, style or frame from anywhere else; forms post here only; nothing cached.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

NAV = (
    ("/console/", "Overview"),
    ("/console/webhooks", "Webhooks"),
    ("/console/messages", "Messages"),
    ("/console/actions", "Actions"),
    ("/console/dead-letters", "Dead letters"),
    ("/console/opt-outs", "Opt-outs"),
    ("/console/reconcile", "Reconcile runs"),
)

Page = tuple[str, dict[str, Any]]
PageHandler = Callable[[Request, Services], Page]
ActionHandler = Callable[[Request, Services, Mapping[str, str]], str]


class Missing(BadQuery):
    """What the page names does not exist: a 404 page that says so."""


def when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def age(value: datetime | None) -> str:
    """How long ago, in the largest unit that fits ("3m", "2h 5m", "4d")."""
    if value is None:
        return ""
    seconds = max(0, int((datetime.now(UTC) - value).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


TEMPLATES.env.filters["when"] = when
TEMPLATES.env.filters["age"] = age


def page(
    request: Request, name: str, context: dict[str, Any], session: Session | None, status: int = 200
) -> Response:
    """A template rendered with the layout's context (navigation, the CSRF token for its
    forms); a fresh session's cookie set on it."""
    full = {
        "nav": NAV,
        "path": request.url.path,
        "csrf": session.csrf if session else "",
        "signed_in": session is not None,
        "login_needed": services_of(request).settings.api_token is not None,
        **context,
    }
    response = TEMPLATES.TemplateResponse(request, name, full, status_code=status, headers=HEADERS)
    if session is not None and session.fresh:
        set_cookie(request, response, session)
    return response


def refused(request: Request, exc: Refused) -> Response:
    if exc.response is not None:
        return exc.response
    return page(request, exc.template, {}, None, status=403)


def view(handler: PageHandler) -> Callable[[Request], Awaitable[Response]]:
    """A page: access checked, the handler's reading done on a thread. BadQuery (a filter that
    cannot be used) shows the page's error instead."""

    async def endpoint(request: Request) -> Response:
        try:
            session = access(request)
        except Refused as exc:
            return refused(request, exc)
        try:
            name, context = await run_in_threadpool(handler, request, services_of(request))
        except BadQuery as exc:
            status = 404 if isinstance(exc, Missing) else 400
            return page(request, "error.html", {"error": str(exc)}, session, status=status)
        return page(request, name, context, session)

    return endpoint


def action(handler: ActionHandler) -> Callable[[Request], Awaitable[Response]]:
    """A form's target: access and CSRF checked, the handler's work done on a thread; it
    answers with where to go next (303, so the browser GETs the page that shows the result)."""

    async def endpoint(request: Request) -> Response:
        try:
            _session, form = await checked_form(request)
        except Refused as exc:
            return refused(request, exc)
        target = await run_in_threadpool(handler, request, services_of(request), form)
        return RedirectResponse(target, status_code=303, headers=HEADERS)

    return endpoint
