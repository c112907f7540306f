"""`infobip-events health`: the receiver's readiness on the configured port and the workers'
heartbeat, checked as a container orchestrator asks (exit 0 healthy, 1 not)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import Engine

from events.api.app import create_app
from events.channels.registry import PARSERS
from events.config import Settings
from events.health import Heartbeat, check_receiver, check_worker, run_checks
from events.process import Processor
from storage.db import make_engine
from tests.helpers_proc import Server, free_port


def wait_for(check, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_heartbeat_touches_its_file_at_most_once_per_interval(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    beat = Heartbeat(path, every_seconds=60)
    beat.beat()
    first = path.stat().st_mtime_ns
    os.utime(path, ns=(first - 10**9, first - 10**9))
    beat.beat()  # within the interval: not touched again
    assert path.stat().st_mtime_ns == first - 10**9


def test_a_heartbeat_that_cannot_be_written_never_stops_the_worker(tmp_path: Path) -> None:
    beat = Heartbeat(tmp_path / "missing-dir" / "heartbeat", every_seconds=0)
    beat.beat()
    beat.beat()
    assert not (tmp_path / "missing-dir").exists()


def test_the_worker_check_wants_a_fresh_heartbeat(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    assert not check_worker(None, 60).present
    missing = check_worker(path, 60)
    assert not missing.ok and not missing.present
    path.touch()
    assert check_worker(path, 60).ok
    stale = check_worker(path, 60, now=time.time() + 61)
    assert not stale.ok and stale.present
    assert "61s ago" in stale.detail


def test_the_processor_beats_after_each_round_that_reaches_the_database(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "heartbeat"
    processor = Processor(engine, PARSERS, idle_seconds=0.05)
    processor.on_round = Heartbeat(path, every_seconds=0).beat
    processor.start()
    try:
        wait_for(path.exists)
        first = path.stat().st_mtime_ns
        wait_for(lambda: path.stat().st_mtime_ns > first)
    finally:
        processor.stop()


def test_no_heartbeat_while_the_database_cannot_be_reached(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat"
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", connect_timeout=1)
    processor = Processor(engine, PARSERS, idle_seconds=0.05)
    processor.on_round = Heartbeat(path, every_seconds=0).beat
    processor.start()
    try:
        time.sleep(1.5)
        assert not path.exists()
    finally:
        processor.stop()
        engine.dispose()


def _serve_app(
    settings: Settings, engine: Engine, port: int
) -> tuple[uvicorn.Server, threading.Thread]:
    app = create_app(settings, engine=engine, run_processor=False, auto_migrate=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started)
    return server, thread


def test_the_receiver_check_reads_readyz_on_the_port(settings: Settings, engine: Engine) -> None:
    port = free_port()
    assert not check_receiver("127.0.0.1", port).present  # nothing listens: refused
    server, thread = _serve_app(settings, engine, port)
    try:
        ready = check_receiver("0.0.0.0", port)  # a wildcard address is checked on loopback
        assert ready.ok, ready.detail
        assert f"http://127.0.0.1:{port}/readyz" in ready.detail
    finally:
        server.should_exit = True
        thread.join(10)


def test_a_receiver_whose_schema_is_not_current_is_unhealthy(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    settings = Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]
    engine = make_engine(url)
    port = free_port()
    server, thread = _serve_app(settings, engine, port)
    try:
        check = check_receiver("127.0.0.1", port)
        assert not check.ok and check.present
        assert "503" in check.detail and "db upgrade" in check.detail
        fresh = tmp_path / "heartbeat"
        fresh.touch()
        healthy, _ = run_checks(host="127.0.0.1", port=port, heartbeat_file=fresh, max_age=60)
        assert not healthy  # a fresh worker does not hide a receiver that is not ready
    finally:
        server.should_exit = True
        thread.join(10)
        engine.dispose()


def test_with_no_flag_what_runs_here_is_checked(tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "heartbeat"
    healthy, checks = run_checks(host="127.0.0.1", port=port, heartbeat_file=path, max_age=60)
    assert not healthy  # nothing runs here
    path.touch()
    healthy, checks = run_checks(host="127.0.0.1", port=port, heartbeat_file=path, max_age=60)
    assert healthy  # a worker alone: nothing listens, and nothing should
    assert [c.name for c in checks] == ["worker"]
    healthy, _ = run_checks(
        host="127.0.0.1", port=port, heartbeat_file=path, max_age=60, receiver=True
    )
    assert not healthy  # --receiver: the receiver must answer


def _health(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "events.health", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.slow
def test_serve_is_healthy_with_its_receiver_and_worker_then_not_once_stopped(
    db_url: str, tmp_path: Path
) -> None:
    heartbeat = tmp_path / "heartbeat"
    server = Server(db_url, tmp_path / "serve.log", INFOBIP_EVENTS_HEARTBEAT_FILE=str(heartbeat))
    env = {
        "INFOBIP_EVENTS_PORT": str(server.port),
        "INFOBIP_EVENTS_HEARTBEAT_FILE": str(heartbeat),
        "INFOBIP_EVENTS_HEARTBEAT_MAX_AGE_SECONDS": "5",
    }
    server.start()
    try:
        wait_for(heartbeat.exists)
        result = _health(env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("receiver: ok:")
        assert "worker: ok:" in result.stdout
        assert _health(env, "--worker").returncode == 0
    finally:
        server.stop()
    result = _health(env, "--receiver")
    assert result.returncode == 1
    assert "receiver: FAIL" in result.stdout
    time.sleep(1.2)  # no worker beats any more
    result = _health({**env, "INFOBIP_EVENTS_HEARTBEAT_MAX_AGE_SECONDS": "1"}, "--worker")
    assert result.returncode == 1
    assert "worker: FAIL: last heartbeat" in result.stdout


def test_the_health_command_exits_1_on_a_stale_heartbeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from events.cli.main import main

    path = tmp_path / "heartbeat"
    path.touch()
    os.utime(path, (time.time() - 120, time.time() - 120))
    monkeypatch.setenv("INFOBIP_EVENTS_HEARTBEAT_FILE", str(path))
    assert main(["health", "--worker"]) == 1
    assert "worker: FAIL" in capsys.readouterr().out
    path.touch()
    assert main(["health", "--worker"]) == 0
