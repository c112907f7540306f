"""`infobip-events membrane check`: do our templates fit the connection's real input schemas?"""

from __future__ import annotations

from typing import Any

import jsonschema

from events.config import Settings
from events.membrane.catalogue import render
from events.membrane.client import MembraneError
from events.membrane.factory import build_catalogue, build_client


def check(settings: Settings) -> tuple[list[str], bool]:
    """Report lines and whether every catalogue action exists and its template fits."""
    lines: list[str] = []
    try:
        catalogue = build_catalogue(settings)
        client = build_client(settings)
        remote = {a.key: a for a in client.list_actions()}
    except (MembraneError, ValueError) as exc:
        return [f"cannot list the connection's actions: {exc}"], False
    lines.append(f"transport {client.name}: {len(remote)} actions on the connection")
    ok = True
    for key, action in sorted(catalogue.items()):
        if action.http:
            continue  # run by the dispatcher itself, not by Membrane
        found = remote.get(key)
        if found is None:
            ok = False
            lines.append(f"MISSING  {key}: the connection has no action with this key")
            continue
        sample: dict[str, Any] = {
            **action.sample,
            "message_id": "ie-check",
            "callback_data": "check",
        }
        payload = render(action.template, sample) or {}
        errors = _validate(payload, found.input_schema)
        if errors:
            ok = False
            lines.append(f"MISFIT   {key}:")
            lines.extend(f"           - {e}" for e in errors)
            lines.append(
                f"           fix: override its template in "
                f"INFOBIP_EVENTS_MEMBRANE_TEMPLATES (sent: {sorted(payload)})"
            )
        else:
            lines.append(f"ok       {key}")
    extra = sorted(set(remote) - set(catalogue))
    if extra:
        lines.append(f"(the connection also has {len(extra)} actions the service does not use)")
    return lines, ok


def _validate(payload: Any, schema: dict[str, Any]) -> list[str]:
    if not schema:
        return []
    try:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return [f"the action's inputSchema is itself invalid: {exc.message}"]
    validator = validator_class(schema)
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(input)'}: {e.message}"
        for e in sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path))
    ]
