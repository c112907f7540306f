"""The `http` transport: Membrane's REST API, a given token or a minted HS256 JWT.

urllib3 rather than httpx here: the dispatcher makes hundreds of calls a second from a thread
pool, and urllib3 costs about a quarter less CPU a call on this path (measured; see
benchmarks/dispatch.py), which is what bounds the dispatcher's throughput.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import jwt
import orjson
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
)

from events import metrics
from events.membrane import contract
from events.membrane.cli_transport import _action_info
from events.membrane.client import ActionInfo, MembraneError, RunResult
from events.retry import retry_after_seconds


class HttpClient:
    name = "http"

    def __init__(
        self,
        api_url: str,
        connection_id: str,
        *,
        token: str | None = None,
        workspace_key: str | None = None,
        workspace_secret: str | None = None,
        tenant_key: str | None = None,
        timeout: float = 30.0,
        max_connections: int = 100,
    ) -> None:
        if not token and not (workspace_key and workspace_secret):
            raise ValueError(
                "the http transport needs INFOBIP_EVENTS_MEMBRANE_TOKEN, or "
                "INFOBIP_EVENTS_MEMBRANE_WORKSPACE_KEY and _WORKSPACE_SECRET to mint one"
            )
        self.connection_id = connection_id
        self._token = token
        self._workspace_key = workspace_key
        self._workspace_secret = workspace_secret
        self._tenant_key = tenant_key
        self._minted: tuple[str, float] | None = None
        self._base = api_url.rstrip("/")
        # No retries and no redirects: a failed call is classified once (events/retry.py),
        # and the dispatcher decides what happens next.
        self._http = urllib3.PoolManager(
            maxsize=max_connections,
            timeout=urllib3.Timeout(connect=min(5.0, timeout), read=timeout),
            retries=False,
        )

    def close(self) -> None:
        self._http.clear()

    def bearer(self) -> str:
        if self._token:
            return self._token
        now = time.time()
        if self._minted and self._minted[1] - now > contract.TOKEN_REFRESH_MARGIN_SECONDS:
            return self._minted[0]
        assert self._workspace_key and self._workspace_secret
        claims = contract.jwt_claims(self._workspace_key, self._tenant_key, int(now))
        token = jwt.encode(claims, self._workspace_secret, algorithm="HS256")
        self._minted = (token, float(claims["exp"]))
        return token

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.bearer()}",
            contract.API_VERSION_HEADER[0]: contract.API_VERSION_HEADER[1],
        }

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> Any:
        url = self._base + path + ("?" + urlencode(params) if params else "")
        headers = self._headers()
        body = None
        if json is not None:
            body = orjson.dumps(json)
            headers["Content-Type"] = "application/json"
        try:
            response = self._http.request(
                method, url, body=body, headers=headers, redirect=False, retries=False
            )
        except HTTPError as exc:
            raise _transport_error(exc) from None
        return _answer(response.status, response.data, response.headers.get("retry-after"))

    @staticmethod
    def _run_call(key: str, input: dict[str, Any], connection_id: str) -> tuple[str, str, Any]:
        kw = {"params": {"connectionId": connection_id}, "json": {"input": input}}
        return "POST", contract.run_action_path(key), kw

    def _request_call(
        self, method: str, path: str, body: Any, query: dict[str, str] | None
    ) -> tuple[str, str, Any]:
        kw: dict[str, Any] = {"params": query or {}}
        if body is not None:
            kw["json"] = body
        return method.upper(), contract.proxy_path(self.connection_id, path), kw

    @metrics.membrane_call("run_action")
    def run_action(self, key: str, input: dict[str, Any]) -> RunResult:
        method, path, kw = self._run_call(key, input, self.connection_id)
        return _run_result(self._call(method, path, **kw))

    @metrics.membrane_call("request")
    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        verb, url, kw = self._request_call(method, path, body, query)
        return self._call(verb, url, **kw)

    @metrics.membrane_call("list_actions")
    def list_actions(self) -> list[ActionInfo]:
        doc = self._call(
            "GET",
            contract.LIST_ACTIONS_PATH,
            params={"connectionId": self.connection_id, "limit": 1000},
        )
        return [_action_info(i) for i in contract.items_of(doc)]

    @metrics.membrane_call("list_connections")
    def list_connections(self) -> list[dict[str, Any]]:
        return contract.items_of(self._call("GET", contract.LIST_CONNECTIONS_PATH))


def _transport_error(exc: HTTPError) -> MembraneError:
    # urllib3's NewConnectionError is a ConnectTimeoutError: test it first.
    if isinstance(exc, NewConnectionError):
        return MembraneError(f"cannot reach Membrane: {exc}", connection=True, reached_server=False)
    if isinstance(exc, (ConnectTimeoutError, ReadTimeoutError, TimeoutError)):
        # A connect timeout never reached the server; a read timeout may have.
        return MembraneError(
            f"Membrane timed out: {type(exc).__name__}",
            timeout=True,
            reached_server=not isinstance(exc, ConnectTimeoutError),
        )
    return MembraneError(f"Membrane connection failed: {exc}", connection=True)


def _answer(status: int, data: bytes, retry_after: str | None) -> Any:
    text = data.decode("utf-8", "replace")
    if status >= 400:
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            doc = None
        error_type, error_key, message = contract.error_of(doc)
        raise MembraneError(
            f"Membrane answered {status}: {message or text[:200]}",
            status=status,
            retry_after=retry_after_seconds(retry_after),
            stdout=text,
            error_type=error_type,
            error_key=error_key,
        )
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        raise MembraneError(
            f"Membrane answered {status} with something that is not JSON", stdout=text
        ) from None


def _run_result(doc: Any) -> RunResult:
    try:
        output, run_id = contract.run_output(doc)
    except ValueError as exc:
        raise MembraneError(str(exc), status=200) from None
    return RunResult(output=output, action_run_id=run_id, raw=doc)
