"""`serve` as separate processes under a supervisor: a receiver and a worker, a child that dies
is restarted, SIGTERM drains the receiver first, a port in use stops it before any work, and
kill -9 of serve leaves no orphan."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import fixture_bytes
from tests.helpers_proc import Server, free_port, post_json

pytestmark = pytest.mark.slow


def children_of(pid: int) -> dict[int, str]:
    """pid -> command line of the processes whose parent is `pid` (read from /proc)."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out[int(entry.name)] = cmdline
    return out


def wait_for(check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def role(children: dict[int, str], name: str) -> list[int]:
    return [pid for pid, cmd in children.items() if f"events.cli {name}" in cmd]


def processed(server: Server, message_id: str) -> bool:
    response = httpx.get(f"{server.url}/v1/messages/{message_id}", timeout=5)
    return response.status_code == 200


def test_serve_runs_a_receiver_and_a_worker_and_restarts_a_worker_that_dies(
    db_url: str, tmp_path: Path
) -> None:
    server = Server(db_url, tmp_path / "serve.log")
    server.start()
    try:
        assert server.proc is not None
        supervisor = server.proc.pid
        wait_for(lambda: len(role(children_of(supervisor), "worker")) == 1)
        kids = children_of(supervisor)
        assert len(role(kids, "receiver")) == 1
        [worker] = role(kids, "worker")
        body = fixture_bytes("sms/inbound_mo_json_2_keyword_quiz.json")
        assert post_json(f"{server.url}/webhooks/sms", body).status_code == 200
        wait_for(lambda: processed(server, "817790313235066447"))
        os.kill(worker, signal.SIGKILL)
        wait_for(lambda: role(children_of(supervisor), "worker") not in ([], [worker]))
        doc = json.loads(body)
        doc["results"][0]["messageId"] = "after-the-restart"
        assert post_json(f"{server.url}/webhooks/sms", json.dumps(doc).encode()).status_code == 200
        wait_for(lambda: processed(server, "after-the-restart"))
        log = (tmp_path / "serve.log").read_text()
        assert "child died: restarting" in log and '"child": "worker-1"' in log
        listening = [json.loads(line) for line in log.splitlines() if '"serving"' in line]
        assert listening[0]["address"] == server.url
    finally:
        server.stop()


def test_sigterm_stops_the_receiver_first_then_the_workers(db_url: str, tmp_path: Path) -> None:
    server = Server(db_url, tmp_path / "serve.log")
    server.start()
    assert server.proc is not None
    wait_for(lambda: len(role(children_of(server.proc.pid), "worker")) == 1)  # type: ignore[union-attr]
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(60) == 0
    stopped = [
        json.loads(line)["child"]
        for line in (tmp_path / "serve.log").read_text().splitlines()
        if '"child stopped"' in line
    ]
    assert stopped == ["receiver", "worker-1"]


def test_kill_9_of_serve_leaves_no_child_behind(db_url: str, tmp_path: Path) -> None:
    server = Server(db_url, tmp_path / "serve.log")
    server.start()
    assert server.proc is not None
    supervisor = server.proc.pid
    wait_for(lambda: len(role(children_of(supervisor), "worker")) == 1)
    kids = list(children_of(supervisor))
    server.kill()
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in kids), timeout=10)
    # The port is free again: a new serve can start at once.
    server.start()
    server.stop()


def test_a_port_in_use_stops_serve_before_any_work(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "never.db"
    with socket.create_server(("127.0.0.1", port)):
        result = subprocess.run(
            [sys.executable, "-m", "events.cli", "serve", "--port", str(port)],
            env={**os.environ, "INFOBIP_EVENTS_DATABASE_URL": f"sqlite:///{database}"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    [line] = [x for x in result.stderr.splitlines() if "cannot listen" in x]
    assert f"127.0.0.1:{port}" in line and "INFOBIP_EVENTS_PORT" in line
    assert not database.exists()  # nothing was started, migrated or written


def test_serve_children_get_two_malloc_heaps_and_a_fixed_mmap_threshold_unless_set() -> None:
    from events.supervisor import child_environment

    tuned = child_environment({"PATH": "/bin"})
    assert tuned["MALLOC_ARENA_MAX"] == "2"
    assert tuned["MALLOC_MMAP_THRESHOLD_"] == "131072"
    assert tuned["PATH"] == "/bin"
    chosen = child_environment({"MALLOC_ARENA_MAX": "8", "MALLOC_MMAP_THRESHOLD_": "0"})
    assert chosen["MALLOC_ARENA_MAX"] == "8"
    assert chosen["MALLOC_MMAP_THRESHOLD_"] == "0"
