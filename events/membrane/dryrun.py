"""The `dry-run` transport (the default): nothing leaves the machine. It records what it would
have run and answers with what a fake Infobip would, so `serve` shows the actions it takes."""

from __future__ import annotations

from typing import Any

from events.membrane.client import ActionInfo, MembraneError, RunResult
from events.membrane.fake import FakeMembrane


class DryRunClient:
    name = "dry-run"

    def __init__(self) -> None:
        self.fake = FakeMembrane()
        self.recorded: list[dict[str, Any]] = []

    def run_action(self, key: str, input: dict[str, Any]) -> RunResult:
        self.recorded.append({"action": key, "input": input})
        if _reads_reports(key):
            # Nothing was really sent, so no log or report will ever say it was delivered.
            return RunResult(output={"results": []}, action_run_id="dry-read")
        status, doc = self.fake.run(key, self.fake.connection_id, input)
        if status >= 400:
            raise MembraneError(str(doc.get("message")), status=status)
        return RunResult(output=doc["output"], action_run_id=f"dry-{doc['actionRunId']}", raw=doc)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        self.recorded.append({"request": f"{method} {path}", "body": body, "query": query})
        if method.upper() == "GET":
            return {"results": []}
        status, doc = self.fake.proxy(method.upper(), path, body, query or {})
        if status >= 400:
            raise MembraneError(f"dry-run proxy answered {status}", status=status)
        return doc

    def list_actions(self) -> list[ActionInfo]:
        _, doc = self.fake.actions(self.fake.connection_id)
        return [
            ActionInfo(key=i["key"], id=i["id"], name=i["name"], input_schema=i["inputSchema"])
            for i in doc["items"]
        ]

    def list_connections(self) -> list[dict[str, Any]]:
        return list(self.fake.connections()[1]["items"])


def _reads_reports(key: str) -> bool:
    return key.endswith("-logs") or key.endswith("delivery-reports")
