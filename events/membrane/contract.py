"""Every assumption about Membrane, in one place (docs/membrane.md, Assumed).

What the CLI prints, how it exits and which HTTP paths back it are partly NOT FOUND in any
public source. Where this module says "assumed", change it here when the real CLI is observed;
nothing else in the code knows these details.
"""

from __future__ import annotations

import json
from typing import Any

# ---- HTTP API (confirmed by the SDK and its wire traffic: docs/membrane.md, Confirmed) ---------

DEFAULT_API_URL = "https://api.getmembrane.com"
API_VERSION_HEADER = ("membrane-api-version", "2025-10-21")
TOKEN_TTL_SECONDS = 3600
TOKEN_REFRESH_MARGIN_SECONDS = 60


def run_action_path(action: str) -> str:
    # Whether a catalogue *key* works as the selector is not known (docs/membrane.md, Assumed);
    # the SDK passes any selector through, so keys are sent as they are. Assumed.
    return f"/actions/{action}/run"


def proxy_path(connection_id: str, path: str) -> str:
    return f"/connections/{connection_id}/proxy/{path.lstrip('/')}"


LIST_ACTIONS_PATH = "/actions"
LIST_CONNECTIONS_PATH = "/connections"


def jwt_claims(workspace_key: str, tenant_key: str | None, now: int) -> dict[str, Any]:
    """The documented claim layout (D-AUTH): workspaceKey, tenantKey, exp."""
    claims: dict[str, Any] = {"workspaceKey": workspace_key, "exp": now + TOKEN_TTL_SECONDS}
    if tenant_key:
        claims["tenantKey"] = tenant_key
    return claims


# ---- CLI (assumed where docs/membrane.md says so) --------------------------------------------


def cli_run_action(action: str, connection_id: str, input_json: str) -> list[str]:
    """`membrane action run KEY --connectionId=ID --input=JSON --json`: positionals first,
    --flag=value, --json last (minimist could swallow a positional after a bare --json)."""
    return [
        "action",
        "run",
        action,
        f"--connectionId={connection_id}",
        f"--input={input_json}",
        "--json",
    ]


def cli_request(
    connection_id: str, path: str, method: str, body: str | None, query: dict[str, str]
) -> list[str]:
    argv = ["request", connection_id, path, "-X", method]
    if body is not None:
        argv += ["-d", body]
    for key, value in query.items():
        argv += ["--query", f"{key}={value}"]
    # `--json` on `request` means "send a JSON body" (docs/membrane.md, Assumed), so it goes
    # with a body.
    if body is not None:
        argv.append("--json")
    return argv


def cli_list_actions(connection_id: str) -> list[str]:
    return ["action", "list", f"--connectionId={connection_id}", "--json"]


def cli_list_connections() -> list[str]:
    return ["connection", "list", "--json"]


def parse_cli_output(stdout: str) -> Any:
    """The CLI's --json stdout is assumed to be the API response body, unwrapped (5.2)."""
    return json.loads(stdout)


def items_of(doc: Any) -> list[dict[str, Any]]:
    """Lists may come as a bare array, {"items": [...]} or {"output": {"items": [...]}} (1.3)."""
    if isinstance(doc, dict) and isinstance(doc.get("output"), dict):
        doc = doc["output"]
    if isinstance(doc, dict):
        doc = doc.get("items", [])
    return [d for d in doc if isinstance(d, dict)] if isinstance(doc, list) else []


def run_output(doc: Any) -> tuple[Any, str | None]:
    """(output, actionRunId) of an action run; an error body raises ValueError (1.3: a run
    carries a top-level output, an error carries type/error)."""
    if isinstance(doc, dict) and "output" in doc:
        return doc["output"], doc.get("actionRunId")
    raise ValueError("no 'output' in the action run response")


def error_of(doc: Any) -> tuple[str | None, str | None, str | None]:
    """(type, key, message) of a Membrane error envelope, when the body is one."""
    if isinstance(doc, dict) and ("type" in doc or "error" in doc):
        return (
            doc.get("type") or doc.get("error"),
            doc.get("key"),
            doc.get("message"),
        )
    return None, None, None
