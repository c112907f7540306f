"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from INFOBIP_EVENTS_TEST_POSTGRES_URL (default: the local server, user
postgres). When it cannot be reached the PostgreSQL half is skipped, unless
INFOBIP_EVENTS_REQUIRE_POSTGRES=1 (as in .ci/run), in which case those tests fail.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from events.api.app import create_app
from events.channels.registry import PARSERS
from events.config import Settings
from events.process import Processor
from storage.db import make_engine, upgrade
from storage.models import metadata

FIXTURES = Path(__file__).parent / "fixtures"
PG_ADMIN_URL = os.environ.get(
    "INFOBIP_EVENTS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_PG = os.environ.get("INFOBIP_EVENTS_REQUIRE_POSTGRES") == "1"
TABLES = tuple(t.name for t in metadata.sorted_tables)


def fixture_bytes(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


def content_type_of(path: str) -> str:
    if path.endswith(".xml"):
        return "application/xml"
    if path.endswith("multipart.bin"):
        return "multipart/form-data; boundary=infobip-events-fixture-boundary"
    return "application/json"


def _pg_reachable() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as exc:
        return str(exc).splitlines()[0]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head."""
    problem = _pg_reachable()
    if problem is not None:
        if REQUIRE_PG:
            pytest.fail(f"PostgreSQL is required but unreachable at {PG_ADMIN_URL}: {problem}")
        pytest.skip(
            f"PostgreSQL unreachable ({problem}); set INFOBIP_EVENTS_REQUIRE_POSTGRES=1 "
            "to make this a failure"
        )
    name = f"infobip_events_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    upgrade(url)
    yield url
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating each time is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "events.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("pg_database")
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY"))
    engine.dispose()
    yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url, sqlite_synchronous="NORMAL")
    yield eng
    eng.dispose()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, sqlite_synchronous="NORMAL", _env_file=None)  # type: ignore[call-arg]


def make_client(settings: Settings, engine: Engine, **kw: Any) -> TestClient:
    app = create_app(settings, engine=engine, run_processor=False, auto_migrate=False)
    kw.setdefault("client", ("127.0.0.1", 50000))
    return TestClient(app, **kw)


@pytest.fixture
def client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with make_client(settings, engine) as c:
        yield c


@pytest.fixture
def processor(engine: Engine) -> Processor:
    return Processor(engine, PARSERS, batch_size=50)


def drain(processor: Processor) -> int:
    """Process everything pending; return how many raw rows were handled."""
    total = 0
    while True:
        outcomes = processor.run_once()
        total += len(outcomes)
        if not outcomes:
            return total


def post(
    client: TestClient, channel: str, body: bytes, content_type: str = "application/json", **kw: Any
) -> Any:
    headers = {"content-type": content_type, **kw.pop("headers", {})}
    return client.post(f"/webhooks/{channel}", content=body, headers=headers, **kw)


def inbound_sms(text: str, sender: str = "385916242493", message_id: str = "mo-1") -> bytes:
    return json.dumps(
        {
            "results": [
                {
                    "messageId": message_id,
                    "from": sender,
                    "to": "385921004026",
                    "text": text,
                    "receivedAt": "2026-11-27T10:00:00.000+0000",
                }
            ]
        }
    ).encode()
