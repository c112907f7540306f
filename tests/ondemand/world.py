"""A service wired to the fake Membrane over HTTP (tests/fakes): the API, a processor and a
dispatcher on one database, for the on-demand calls of issue 13 (lookups, 2FA, validation)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from events.config import Settings
from events.dispatch import Dispatcher
from events.process import Processor
from events.services import build_dispatcher, build_processor
from tests.conftest import drain, make_client
from tests.fakes.membrane import FakeMembrane, Knobs
from tests.fakes.membrane_api import FakeApiServer


@dataclass
class World:
    membrane: FakeMembrane
    settings: Settings
    engine: Engine
    client: TestClient
    processor: Processor
    dispatcher: Dispatcher

    def environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The settings as INFOBIP_EVENTS_* variables, for a command run in this world."""
        for name, value in self.settings.model_dump().items():
            if value is not None and not isinstance(value, (list, dict)):
                monkeypatch.setenv(f"INFOBIP_EVENTS_{name.upper()}", str(value))
        monkeypatch.setenv("INFOBIP_EVENTS_MEMBRANE_TOKEN", "pat-fake")  # a secret: dumped masked

    def run(self) -> None:
        """What the workers would do next: process the inbox, run the due actions."""
        drain(self.processor)
        self.dispatcher.run_once()


@contextmanager
def world(
    db_url: str, engine: Engine, tmp_path: Path, rules: str | None = None, **overrides: Any
) -> Iterator[World]:
    membrane = FakeMembrane(knobs=Knobs())
    with FakeApiServer(membrane) as server:
        rules_file = None
        if rules is not None:
            rules_file = tmp_path / "rules.toml"
            rules_file.write_text(rules)
        settings = Settings(
            _env_file=None,
            database_url=db_url,
            sqlite_synchronous="NORMAL",
            default_region="CH",
            membrane_transport="http",
            membrane_api_url=server.url,
            membrane_token="pat-fake",
            membrane_connection_id="con_fake",
            rules_file=str(rules_file) if rules_file else None,
            **overrides,
        )
        with make_client(settings, engine) as client:
            made = World(
                membrane,
                settings,
                engine,
                client,
                build_processor(settings, engine),
                build_dispatcher(settings, engine),
            )
            try:
                yield made
            finally:
                made.dispatcher.stop(0)
