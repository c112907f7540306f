"""What the console's forms do: log in and out, replay a stored webhook through the current
parsers, put a dead or unknown-outcome action back in the queue. Each redirects to the page
that shows the result (`done` names what happened; the page says it in words)."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from events.console.render import HEADERS, page
from events.console.session import (
    PATH,
    clear_cookie,
    current,
    new_session,
    safe_next,
    set_cookie,
    token_of,
)
from events.services import Services
from storage.db import write_transaction
from storage.queries import outbox as outbox_q

log = structlog.get_logger("events.console")


async def login_page(request: Request) -> Response:
    """The login form (with a pre-login session for its CSRF token); without a token, the
    notice that the console answers loopback clients only."""
    session = current(request)
    if session is None:
        session = new_session(False)
    context = {"next": safe_next(request.query_params.get("next")), "failed": False}
    return page(request, "login.html", context, session)


async def login(request: Request) -> Response:
    session = current(request)
    form = await request.form()
    csrf, given = form.get("csrf"), form.get("token")
    target = safe_next(str(form.get("next") or ""))
    token = token_of(request)
    if session is None or not isinstance(csrf, str) or not hmac.compare_digest(csrf, session.csrf):
        return page(request, "expired.html", {}, None, status=403)
    if token is None or not isinstance(given, str):
        return RedirectResponse(target, status_code=303, headers=HEADERS)
    if not hmac.compare_digest(given.encode(), token.encode()):
        log.warning("console login refused", client=request.client.host if request.client else None)
        context = {"next": target, "failed": True}
        return page(request, "login.html", context, session, status=401)
    response = RedirectResponse(target, status_code=303, headers=HEADERS)
    set_cookie(request, response, new_session(True))  # a new CSRF token once logged in
    return response


async def logout(request: Request) -> Response:
    session = current(request)
    form = await request.form()
    csrf = form.get("csrf")
    if session is None or not isinstance(csrf, str) or not hmac.compare_digest(csrf, session.csrf):
        return page(request, "expired.html", {}, None, status=403)
    response = RedirectResponse(f"{PATH}/login", status_code=303, headers=HEADERS)
    clear_cookie(request, response)
    return response


def replay(request: Request, s: Services, _form: Mapping[str, str]) -> str:
    """The webhook through the current parsers again (idempotent: events stored already are
    not stored twice), as `infobip-events replay --id` does."""
    raw_id = request.path_params["webhook_id"]
    outcomes = s.processor.process_ids([raw_id])
    done = outcomes[0].state if outcomes else "missing"
    log.info("console replay", webhook=raw_id, state=done)
    return f"{PATH}/webhooks/{quote(raw_id)}?done=replayed-{done}"


def retry(request: Request, s: Services, form: Mapping[str, str]) -> str:
    """A failed, dead or unknown-outcome action queued again, as `infobip-events actions
    retry` does; then back to the page the button was on."""
    action_id = request.path_params["action_id"]
    with write_transaction(s.engine) as conn:
        ok = outbox_q.retry_action(conn, action_id, datetime.now(UTC))
    if ok:
        s.outbox_changed()
    log.info("console retry", action=action_id, queued=ok)
    back = safe_next(form.get("back"))
    joiner = "&" if "?" in back else "?"
    return f"{back}{joiner}done={'retried' if ok else 'not-retried'}&action={quote(action_id)}"
