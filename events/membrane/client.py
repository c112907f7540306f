"""The Membrane client protocol and its error (classified with every other failed call in
events/retry.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from events.retry import CallError


class MembraneError(CallError):
    """A call to Membrane that did not succeed; what the CLI printed and Membrane's error type
    and key, when there are any (docs/membrane.md, How failures are classified)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        timeout: bool = False,
        connection: bool = False,
        reached_server: bool = True,
        retry_after: float | None = None,
        stdout: str | None = None,
        stderr: str | None = None,
        error_type: str | None = None,
        error_key: str | None = None,
    ) -> None:
        super().__init__(
            message,
            status=status,
            timeout=timeout,
            connection=connection,
            reached_server=reached_server,
            retry_after=retry_after,
        )
        self.stdout = stdout
        self.stderr = stderr
        self.error_type = error_type
        self.error_key = error_key


@dataclass(frozen=True)
class RunResult:
    output: Any
    action_run_id: str | None = None
    raw: Any = None


@dataclass(frozen=True)
class ActionInfo:
    key: str
    id: str | None
    name: str | None
    input_schema: dict[str, Any] = field(default_factory=dict)


class MembraneClient(Protocol):
    """What the service needs of Membrane; three transports implement it."""

    name: str

    def run_action(self, key: str, input: dict[str, Any]) -> RunResult: ...

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
    ) -> Any: ...

    def list_actions(self) -> list[ActionInfo]: ...

    def list_connections(self) -> list[dict[str, Any]]: ...
