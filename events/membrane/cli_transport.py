"""The `cli` transport: the membrane executable at a fixed path, never through a shell."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from events import metrics
from events.membrane import contract
from events.membrane.client import ActionInfo, MembraneError, RunResult


class CliClient:
    name = "cli"

    def __init__(
        self,
        executable: str,
        connection_id: str,
        *,
        timeout: float = 30.0,
        env: dict[str, str] | None = None,
    ) -> None:
        path = Path(executable)
        if not path.is_absolute():
            # Whatever is first on PATH may be another "membrane" (docs/membrane.md, The three
            # transports).
            raise ValueError(
                f"INFOBIP_EVENTS_MEMBRANE_CLI must be an absolute path, not {executable!r}"
            )
        self.executable = str(path)
        self.connection_id = connection_id
        self.timeout = timeout
        self.env = env

    def _run(self, argv: list[str]) -> Any:
        try:
            done = subprocess.run(
                [self.executable, *argv],
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env=self.env,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise MembraneError(
                f"membrane did not answer within {self.timeout:g}s",
                timeout=True,
                stdout=_text(exc.stdout),
                stderr=_text(exc.stderr),
            ) from None
        except OSError as exc:
            raise MembraneError(
                f"cannot run {self.executable}: {exc}", connection=True, reached_server=False
            ) from None
        if done.returncode != 0:
            error_type, error_key, message = contract.error_of(_json_or_none(done.stdout))
            last_line = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise MembraneError(
                f"membrane exited {done.returncode}: {message or last_line}",
                stdout=done.stdout,
                stderr=done.stderr,
                error_type=error_type,
                error_key=error_key,
                status=_status_of(error_key),
            )
        try:
            return contract.parse_cli_output(done.stdout)
        except ValueError:
            raise MembraneError(
                "membrane printed something that is not JSON",
                stdout=done.stdout,
                stderr=done.stderr,
            ) from None

    @metrics.membrane_call("run_action")
    def run_action(self, key: str, input: dict[str, Any]) -> RunResult:
        doc = self._run(contract.cli_run_action(key, self.connection_id, json.dumps(input)))
        try:
            output, run_id = contract.run_output(doc)
        except ValueError as exc:
            raise MembraneError(str(exc), stdout=json.dumps(doc)) from None
        return RunResult(output=output, action_run_id=run_id, raw=doc)

    @metrics.membrane_call("request")
    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        data = json.dumps(body) if body is not None else None
        return self._run(
            contract.cli_request(self.connection_id, path, method.upper(), data, query or {})
        )

    @metrics.membrane_call("list_actions")
    def list_actions(self) -> list[ActionInfo]:
        items = contract.items_of(self._run(contract.cli_list_actions(self.connection_id)))
        return [_action_info(i) for i in items]

    @metrics.membrane_call("list_connections")
    def list_connections(self) -> list[dict[str, Any]]:
        return contract.items_of(self._run(contract.cli_list_connections()))


def _action_info(item: dict[str, Any]) -> ActionInfo:
    schema = item.get("inputSchema")
    return ActionInfo(
        key=str(item.get("key") or item.get("id") or ""),
        id=item.get("id"),
        name=item.get("name"),
        input_schema=schema if isinstance(schema, dict) else {},
    )


def _status_of(error_key: str | None) -> int | None:
    """The HTTP status a CLI error stands for, from its error key (docs/membrane.md, How
    failures are classified)."""
    return {
        "not_authenticated": 401,
        "access_denied": 403,
        "not_found": 404,
        "rate_limit_exceeded": 429,
    }.get(error_key or "")


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _text(value: bytes | str | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value
