"""The Membrane client protocol, its errors, and the one place failures are classified."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Failure(StrEnum):
    RETRYABLE = "retryable"  # timeout, connection error, 429, 5xx: try again later
    PERMANENT = "permanent"  # other 4xx, bad input: trying again cannot help
    UNKNOWN_OUTCOME = "unknown_outcome"  # a send that may have gone through


class MembraneError(Exception):
    """A call to Membrane that did not succeed, with what is known about why."""

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
        super().__init__(message)
        self.status = status
        self.timeout = timeout
        self.connection = connection
        # False when the request certainly never left (refused connection, bad argv): a send
        # that never left can be retried safely.
        self.reached_server = reached_server
        self.retry_after = retry_after
        self.stdout = stdout
        self.stderr = stderr
        self.error_type = error_type
        self.error_key = error_key


def classify(error: MembraneError, *, sends: bool) -> Failure:
    """Retryable, permanent or (for an action that sends) unknown outcome. The only place."""
    if error.status == 429:
        return Failure.RETRYABLE  # throttled before anything ran
    if error.status is not None and 400 <= error.status < 500:
        return Failure.PERMANENT
    transient = error.timeout or error.connection or (error.status or 0) >= 500
    if error.status is None and not transient:
        # No HTTP status and no transport trouble: a CLI that exited non-zero or printed
        # garbage. Whether it sent is unknown.
        transient = True
    if not transient:
        return Failure.PERMANENT
    if sends and error.reached_server:
        return Failure.UNKNOWN_OUTCOME
    return Failure.RETRYABLE


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
