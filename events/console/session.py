"""Who may use the console: the API token, typed once into the login form, becomes a signed
session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS); without a token, loopback clients
only, like the read API. Every form carries the session's CSRF token.

The cookie holds no secret: a flag, the CSRF token and an expiry, signed with HMAC-SHA256 under
a key derived from the API token (changing the token ends every session). Without a token the
key is random per process, so a restart logs the loopback user out of nothing they can notice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from events.api.common import is_local, services_of

COOKIE = "infobip_events_console"
PATH = "/console"
OVERVIEW = "/console/"
LIFETIME_SECONDS = 12 * 3600
_KEY_LABEL = b"infobip-events console session v1"


@dataclass(frozen=True, slots=True)
class Session:
    """What the cookie says: logged in or not yet, the CSRF token, when it ends; `fresh` when
    the response must set the cookie."""

    authenticated: bool
    csrf: str
    expires: int
    fresh: bool = False


def new_session(authenticated: bool) -> Session:
    expires = int(time.time()) + LIFETIME_SECONDS
    return Session(authenticated, secrets.token_urlsafe(24), expires, fresh=True)


def token_of(request: Request) -> str | None:
    token = services_of(request).settings.api_token
    return None if token is None else token.get_secret_value()


def _key(request: Request) -> bytes:
    token = token_of(request)
    if token is not None:
        return hmac.new(token.encode(), _KEY_LABEL, hashlib.sha256).digest()
    state = request.app.state
    key: bytes | None = getattr(state, "console_session_key", None)
    if key is None:
        key = state.console_session_key = secrets.token_bytes(32)
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(request: Request, session: Session) -> str:
    payload = _b64(json.dumps([session.authenticated, session.csrf, session.expires]).encode())
    signature = _b64(hmac.new(_key(request), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def decode(request: Request, value: str) -> Session | None:
    """The session this cookie value signs, or None (forged, from another key, expired)."""
    payload, _, signature = value.partition(".")
    expected = _b64(hmac.new(_key(request), payload.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(signature, expected):
        return None
    try:
        authenticated, csrf, expires = json.loads(_unb64(payload))
    except (ValueError, TypeError):
        return None
    if not isinstance(csrf, str) or not isinstance(expires, int) or expires < time.time():
        return None
    return Session(bool(authenticated), csrf, expires)


def current(request: Request) -> Session | None:
    value = request.cookies.get(COOKIE)
    return decode(request, value) if value else None


def set_cookie(request: Request, response: Response, session: Session) -> None:
    response.set_cookie(
        COOKIE,
        encode(request, session),
        max_age=LIFETIME_SECONDS,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def clear_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE, path=PATH, httponly=True, samesite="strict", secure=_secure(request)
    )


def _secure(request: Request) -> bool:
    """Served over HTTPS: seen directly, or said by PUBLIC_URL. Behind a proxy that ends TLS
    (the usual deployment) the request reaches the service as plain HTTP, so its scheme
    alone would never mark the cookie Secure."""
    public_url = services_of(request).settings.public_url or ""
    return request.url.scheme == "https" or public_url.startswith("https://")


class Refused(Exception):
    """The caller may not do this: answered with the response, or with the page `template`
    (403) when there is none."""

    def __init__(self, response: Response | None = None, template: str = "refused.html") -> None:
        super().__init__("refused")
        self.response = response
        self.template = template


def access(request: Request) -> Session:
    """The caller's session, or Refused: to the login page without a valid session when a token
    is set; a 403 page for a non-loopback client when none is set."""
    session = current(request)
    if token_of(request) is not None:
        if session is None or not session.authenticated:
            raise Refused(to_login(request))
        return session
    if not is_local(request):
        raise Refused()
    if session is None or not session.authenticated:
        return new_session(True)
    return session


def to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PATH}/login?next={quote(target, safe='')}", status_code=303)


async def checked_form(request: Request) -> tuple[Session, dict[str, Any]]:
    """A posted form from a caller with access whose CSRF token matches the session's."""
    session = access(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if session.fresh or not hmac.compare_digest(form.get("csrf", ""), session.csrf):
        raise Refused(template="expired.html")
    return replace(session, fresh=False), form


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a console path only (no open redirect)."""
    if target and target.startswith(PATH) and not target.startswith("//"):
        return target
    return OVERVIEW
