"""Build the Membrane client and the catalogue from settings (the transport is a setting)."""

from __future__ import annotations

import json
from typing import Any

from events.config import Settings
from events.membrane.catalogue import ACTIONS, Action, with_overrides
from events.membrane.cli_transport import CliClient
from events.membrane.client import MembraneClient
from events.membrane.dryrun import DryRunClient
from events.membrane.http_transport import HttpClient


def build_client(settings: Settings) -> MembraneClient:
    if settings.membrane_transport == "cli":
        assert settings.membrane_cli and settings.membrane_connection_id
        return CliClient(
            settings.membrane_cli,
            settings.membrane_connection_id,
            timeout=settings.membrane_timeout_seconds,
        )
    if settings.membrane_transport == "http":
        assert settings.membrane_connection_id
        return HttpClient(
            settings.membrane_api_url,
            settings.membrane_connection_id,
            token=settings.membrane_token.get_secret_value() if settings.membrane_token else None,
            workspace_key=settings.membrane_workspace_key,
            workspace_secret=settings.membrane_workspace_secret.get_secret_value()
            if settings.membrane_workspace_secret
            else None,
            tenant_key=settings.membrane_tenant_key,
            timeout=settings.membrane_timeout_seconds,
            max_connections=settings.dispatch_concurrency,
        )
    return DryRunClient()


def build_catalogue(settings: Settings) -> dict[str, Action]:
    if settings.membrane_templates is None:
        return dict(ACTIONS)
    try:
        overrides: Any = json.loads(settings.membrane_templates.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"INFOBIP_EVENTS_MEMBRANE_TEMPLATES: {exc}") from None
    if not isinstance(overrides, dict):
        raise ValueError("INFOBIP_EVENTS_MEMBRANE_TEMPLATES must hold a JSON object")
    return with_overrides(overrides)
