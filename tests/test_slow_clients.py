"""Clients that never finish their request are closed (headers too slow, body too slow), and a
thousand of them do not stop normal traffic. The receiver runs on uvloop and httptools."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.conftest import fixture_bytes
from tests.helpers_proc import Server, post_json

pytestmark = pytest.mark.slow


def closed(sock: socket.socket) -> bool:
    """Whether the server closed this connection (a read gives EOF or a reset)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_trickling_clients_are_closed_and_normal_clients_are_served(tmp_path: Path) -> None:
    server = Server(
        f"sqlite:///{tmp_path / 'events.db'}",
        tmp_path / "serve.log",
        INFOBIP_EVENTS_CLIENT_HEADER_TIMEOUT_SECONDS="1",
        INFOBIP_EVENTS_CLIENT_MIN_BODY_RATE="1000",
    )
    server.start()
    body = fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json")
    try:
        headers_only = []
        for _ in range(1000):
            sock = socket.create_connection(("127.0.0.1", server.port))
            sock.sendall(b"POST /webhooks/sms HTTP/1.1\r\nHost: x\r\n")  # headers never end
            headers_only.append(sock)
        slow_body = socket.create_connection(("127.0.0.1", server.port))
        slow_body.sendall(
            b"POST /webhooks/sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n{"
        )
        started = time.monotonic()
        for _ in range(20):  # normal clients meanwhile: served at once
            response = post_json(f"{server.url}/webhooks/sms", body, timeout=5)
            assert response.status_code == 200
        assert time.monotonic() - started < 10
        time.sleep(2.5)
        assert all(closed(s) for s in headers_only)
        for _ in range(8):  # the body: one byte a second, below the minimum rate
            if closed(slow_body):
                break
            slow_body.setblocking(True)
            slow_body.sendall(b" ")
            time.sleep(1)
        assert closed(slow_body)
        log = (tmp_path / "serve.log").read_text()
        assert '"waited_for": "headers"' in log and '"waited_for": "body"' in log
        started_lines = [json.loads(x) for x in log.splitlines() if '"event": "started"' in x]
        assert started_lines[0]["loop"] == "uvloop"
        assert any('"http": "httptools"' in x for x in log.splitlines())
    finally:
        for sock in headers_only:
            sock.close()
        server.stop()
