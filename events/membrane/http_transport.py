"""The `http` transport: Membrane's REST API with httpx, a given token or a minted HS256 JWT."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt

from events.membrane import contract
from events.membrane.cli_transport import _action_info
from events.membrane.client import ActionInfo, MembraneError, RunResult


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
        transport: httpx.BaseTransport | None = None,
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
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        self._http = httpx.Client(
            base_url=api_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
            transport=transport,
            limits=limits,
        )

    def close(self) -> None:
        self._http.close()

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

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            response = self._http.request(method, path, headers=self._headers(), **kw)
        except httpx.HTTPError as exc:
            raise _transport_error(exc) from None
        return _answer(response)

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

    def run_action(self, key: str, input: dict[str, Any]) -> RunResult:
        method, path, kw = self._run_call(key, input, self.connection_id)
        return _run_result(self._call(method, path, **kw))

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

    def list_actions(self) -> list[ActionInfo]:
        doc = self._call(
            "GET",
            contract.LIST_ACTIONS_PATH,
            params={"connectionId": self.connection_id, "limit": 1000},
        )
        return [_action_info(i) for i in contract.items_of(doc)]

    def list_connections(self) -> list[dict[str, Any]]:
        return contract.items_of(self._call("GET", contract.LIST_CONNECTIONS_PATH))


def _transport_error(exc: httpx.HTTPError) -> MembraneError:
    if isinstance(exc, httpx.TimeoutException):
        # A connect timeout never reached the server; a read timeout may have.
        return MembraneError(
            f"Membrane timed out: {type(exc).__name__}",
            timeout=True,
            reached_server=not isinstance(exc, httpx.ConnectTimeout),
        )
    if isinstance(exc, httpx.ConnectError):
        return MembraneError(f"cannot reach Membrane: {exc}", connection=True, reached_server=False)
    return MembraneError(f"Membrane connection failed: {exc}", connection=True)


def _answer(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            doc = response.json()
        except ValueError:
            doc = None
        error_type, error_key, message = contract.error_of(doc)
        raise MembraneError(
            f"Membrane answered {response.status_code}: {message or response.text[:200]}",
            status=response.status_code,
            retry_after=_retry_after(response.headers.get("retry-after")),
            stdout=response.text,
            error_type=error_type,
            error_key=error_key,
        )
    try:
        return response.json()
    except ValueError:
        raise MembraneError(
            f"Membrane answered {response.status_code} with something that is not JSON",
            stdout=response.text,
        ) from None


def _run_result(doc: Any) -> RunResult:
    try:
        output, run_id = contract.run_output(doc)
    except ValueError as exc:
        raise MembraneError(str(exc), status=200) from None
    return RunResult(output=output, action_run_id=run_id, raw=doc)


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
