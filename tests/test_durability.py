"""Acked means kept: a SIGKILLed server loses no acknowledged webhook, and a database that
cannot take the request gets 503, never 200."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select

from events.config import Settings
from storage.db import make_engine
from storage.models import raw_webhooks
from tests.conftest import fixture_bytes, make_client, post
from tests.helpers_proc import Server, TcpProxy

REPORT = fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json")


@pytest.mark.slow
def test_sigkill_mid_stream_loses_no_acknowledged_webhook(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    server = Server(db_url, tmp_path / "server.log")
    server.start()
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=server.url, timeout=5) as http:
            while not stop.is_set():
                try:
                    r = http.post(
                        "/webhooks/sms",
                        content=REPORT,
                        headers={"content-type": "application/json"},
                    )
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 200:
                    with lock:
                        acked.append(r.headers["x-webhook-id"])

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    server.kill()  # SIGKILL while requests are in flight
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acked) > 50, "the load did not get going"

    with engine.connect() as conn:
        stored = set(conn.execute(select(raw_webhooks.c.id)).scalars())
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged webhooks were lost"

    # After a restart the processor finishes what the dead one had not.
    server.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                pending = conn.execute(
                    select(raw_webhooks.c.id).where(raw_webhooks.c.state == "pending")
                ).all()
            if not pending:
                break
            time.sleep(0.2)
        assert not pending
        sample = httpx.get(f"{server.url}/v1/webhooks/{acked[-1]}").json()
        assert sample["state"] == "processed"
    finally:
        server.stop()


def test_postgresql_unreachable_answers_503_never_200(request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("pg_database")
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.start()
    proxied = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    settings = Settings(
        database_url=proxied,
        db_connect_timeout_seconds=1,  # type: ignore[call-arg]
        ingest_commit_timeout_seconds=3,
        _env_file=None,
    )
    engine = make_engine(proxied, connect_timeout=1)
    try:
        with make_client(settings, engine) as client:
            assert post(client, "sms", REPORT).status_code == 200
            proxy.stop()
            statuses = [post(client, "sms", REPORT).status_code for _ in range(5)]
            assert statuses == [503] * 5
            assert client.get("/readyz").status_code == 503
            proxy.start()
            deadline = time.monotonic() + 15
            status = 0
            while time.monotonic() < deadline and status != 200:
                status = post(client, "sms", REPORT).status_code
                assert status in (200, 503)
            assert status == 200
            assert client.get("/readyz").status_code == 200
    finally:
        proxy.stop()
        engine.dispose()


def test_sqlite_locked_answers_503_never_200(tmp_path: Path, sqlite_template: Path) -> None:
    import shutil

    path = tmp_path / "locked.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    settings = Settings(
        database_url=url,
        sqlite_busy_timeout_ms=200,  # type: ignore[call-arg]
        _env_file=None,
    )
    engine = make_engine(url, busy_timeout_ms=200)
    blocker = sqlite3.connect(path, isolation_level=None)
    try:
        with make_client(settings, engine) as client:
            assert post(client, "sms", REPORT).status_code == 200
            blocker.execute("BEGIN EXCLUSIVE")
            assert [post(client, "sms", REPORT).status_code for _ in range(3)] == [503] * 3
            blocker.execute("ROLLBACK")
            assert post(client, "sms", REPORT).status_code == 200
    finally:
        blocker.close()
        engine.dispose()
    check = make_engine(url)
    with check.connect() as conn:
        assert len(conn.execute(select(raw_webhooks.c.id)).all()) == 2
    check.dispose()


def test_readiness_answers_within_a_second_during_a_database_stall(
    request: pytest.FixtureRequest,
) -> None:
    url = request.getfixturevalue("pg_database")
    proxy = TcpProxy(("127.0.0.1", 5432))
    proxy.start()
    proxied = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    settings = Settings(database_url=proxied, _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(proxied, connect_timeout=10)
    try:
        with make_client(settings, engine) as client:
            assert client.get("/readyz").status_code == 200
            proxy.stalled.set()
            for _ in range(5):  # one check in flight at a time; every answer within a second
                started = time.monotonic()
                response = client.get("/readyz")
                assert time.monotonic() - started < 1.5
                assert response.status_code == 503
                assert response.json()["database"] in ("not answering", "unreachable")
            proxy.stalled.clear()
            deadline = time.monotonic() + 20
            while client.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.2)
    finally:
        proxy.stalled.clear()
        proxy.stop()
        engine.dispose()
