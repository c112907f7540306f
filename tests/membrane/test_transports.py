"""The cli and http transports against the fake Membrane, and the one failure classifier."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

from events.membrane.cli_transport import CliClient
from events.membrane.client import MembraneError
from events.membrane.http_transport import HttpClient
from events.retry import Failure, classify
from tests.fakes.membrane import FakeMembrane, Knobs
from tests.fakes.membrane_api import FakeApiServer

FAKE_CLI = str(Path(__file__).resolve().parents[1] / "fakes" / "membrane_cli.py")
SMS = {"to": "41793026727", "text": "hello", "messageId": "ie-1"}


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "FAKE_MEMBRANE_STATE": str(tmp_path / "state.json")}


def cli(env: dict[str, str], timeout: float = 20.0, **knobs: str) -> CliClient:
    return CliClient(FAKE_CLI, "con_fake", timeout=timeout, env={**env, **knobs})


def test_cli_runs_an_action_with_the_documented_argument_form(cli_env: dict[str, str]) -> None:
    result = cli(cli_env).run_action("send-sms-message", SMS)
    assert result.action_run_id and result.action_run_id.startswith("arl_")
    assert result.output["messages"][0]["messageId"] == "ie-1"
    calls = json.loads(Path(cli_env["FAKE_MEMBRANE_STATE"]).read_text())["calls"]
    assert calls[-1] == [
        "action",
        "run",
        "send-sms-message",
        "--connectionId=con_fake",
        f"--input={json.dumps(SMS)}",
        "--json",
    ]


def test_cli_lists_actions_and_connections_and_proxies_requests(cli_env: dict[str, str]) -> None:
    client = cli(cli_env)
    assert len(client.list_actions()) == 18
    assert client.list_connections()[0]["id"] == "con_fake"
    client.run_action("send-sms-message", SMS)
    logs = client.request("GET", "/sms/3/logs", query={"messageId": "ie-1"})
    assert logs["results"][0]["messageId"] == "ie-1"
    calls = json.loads(Path(cli_env["FAKE_MEMBRANE_STATE"]).read_text())["calls"]
    assert calls[-1] == [
        "request",
        "con_fake",
        "/sms/3/logs",
        "-X",
        "GET",
        "--query",
        "messageId=ie-1",
    ]


def test_cli_timeout_is_an_unknown_outcome_for_a_send(cli_env: dict[str, str]) -> None:
    started = time.monotonic()
    with pytest.raises(MembraneError) as exc:
        cli(cli_env, timeout=1.0, FAKE_MEMBRANE_MODE="hang").run_action("send-sms-message", SMS)
    assert time.monotonic() - started < 10
    assert exc.value.timeout
    assert classify(exc.value, sends=True) is Failure.UNKNOWN_OUTCOME
    assert classify(exc.value, sends=False) is Failure.RETRYABLE


def test_cli_non_zero_exit_carries_stdout_and_stderr(cli_env: dict[str, str]) -> None:
    with pytest.raises(MembraneError) as exc:
        cli(cli_env, FAKE_MEMBRANE_EXIT="3").run_action("get-sms-message-logs", {})
    assert "exited 3" in str(exc.value)
    assert exc.value.stderr and "forced failure" in exc.value.stderr
    assert classify(exc.value, sends=False) is Failure.RETRYABLE


def test_cli_garbage_stdout_is_an_error(cli_env: dict[str, str]) -> None:
    with pytest.raises(MembraneError, match="not JSON") as exc:
        cli(cli_env, FAKE_MEMBRANE_MODE="garbage").run_action("send-sms-message", SMS)
    assert exc.value.stdout and "Welcome" in exc.value.stdout
    assert classify(exc.value, sends=True) is Failure.UNKNOWN_OUTCOME


def test_cli_not_logged_in_is_permanent(cli_env: dict[str, str]) -> None:
    with pytest.raises(MembraneError) as exc:
        cli(cli_env, FAKE_MEMBRANE_MODE="not_logged_in").run_action("send-sms-message", SMS)
    assert exc.value.status == 401
    assert classify(exc.value, sends=True) is Failure.PERMANENT


def test_cli_must_be_an_absolute_path() -> None:
    with pytest.raises(ValueError, match="absolute path"):
        CliClient("membrane", "con_fake")


@pytest.fixture
def api() -> Iterator[tuple[FakeMembrane, str]]:
    membrane = FakeMembrane(
        secret="ws-secret-0123456789abcdef0123456789", workspace_key="ws-key", knobs=Knobs()
    )
    with FakeApiServer(membrane) as server:
        yield membrane, server.url


def http(url: str, **kw: Any) -> HttpClient:
    kw.setdefault("workspace_key", "ws-key")
    kw.setdefault("workspace_secret", "ws-secret-0123456789abcdef0123456789")
    return HttpClient(url, "con_fake", timeout=kw.pop("timeout", 5.0), **kw)


def test_http_mints_an_hs256_jwt_and_runs_the_action(api: tuple[FakeMembrane, str]) -> None:
    membrane, url = api
    client = http(url, tenant_key="tenant-1")
    result = client.run_action("send-sms-message", SMS)
    assert result.output["messages"][0]["messageId"] == "ie-1"
    claims = jwt.decode(
        client.bearer(), "ws-secret-0123456789abcdef0123456789", algorithms=["HS256"]
    )
    assert claims["workspaceKey"] == "ws-key" and claims["tenantKey"] == "tenant-1"
    assert membrane.runs == [("send-sms-message", SMS)]
    assert client.request("GET", "/sms/3/logs", query={"messageId": "ie-1"})["results"]


def test_http_wrong_secret_is_401_permanent(api: tuple[FakeMembrane, str]) -> None:
    _, url = api
    with pytest.raises(MembraneError) as exc:
        http(url, workspace_secret="wrong-secret-0123456789abcdef0123456").run_action(
            "send-sms-message", SMS
        )
    assert exc.value.status == 401 and exc.value.error_key == "not_authenticated"
    assert classify(exc.value, sends=True) is Failure.PERMANENT


def test_http_personal_token_is_accepted(api: tuple[FakeMembrane, str]) -> None:
    _, url = api
    client = HttpClient(url, "con_fake", token="pat-fake")
    assert len(client.list_actions()) == 18


def test_http_unknown_action_is_404_permanent(api: tuple[FakeMembrane, str]) -> None:
    _, url = api
    with pytest.raises(MembraneError) as exc:
        http(url).run_action("launch-rocket", {})
    assert exc.value.status == 404
    assert classify(exc.value, sends=False) is Failure.PERMANENT


def test_http_429_honours_retry_after(api: tuple[FakeMembrane, str]) -> None:
    membrane, url = api
    membrane.knobs.rate_limit = True
    membrane.knobs.retry_after = 7
    with pytest.raises(MembraneError) as exc:
        http(url).run_action("send-sms-message", SMS)
    assert (exc.value.status, exc.value.retry_after) == (429, 7.0)
    assert classify(exc.value, sends=True) is Failure.RETRYABLE
    assert membrane.runs == []


def test_http_5xx_is_retryable_or_unknown_for_a_send(api: tuple[FakeMembrane, str]) -> None:
    membrane, url = api
    membrane.knobs.fail_status = 502
    with pytest.raises(MembraneError) as exc:
        http(url).run_action("send-sms-message", SMS)
    assert classify(exc.value, sends=False) is Failure.RETRYABLE
    assert classify(exc.value, sends=True) is Failure.UNKNOWN_OUTCOME


def test_http_timeout(api: tuple[FakeMembrane, str]) -> None:
    membrane, url = api
    membrane.knobs.hang = True
    with pytest.raises(MembraneError) as exc:
        http(url, timeout=0.5).run_action("send-sms-message", SMS)
    assert exc.value.timeout
    assert classify(exc.value, sends=True) is Failure.UNKNOWN_OUTCOME


def test_http_refused_connection_never_reached_membrane() -> None:
    with pytest.raises(MembraneError) as exc:
        http("http://127.0.0.1:9").run_action("send-sms-message", SMS)
    assert exc.value.connection and not exc.value.reached_server
    assert classify(exc.value, sends=True) is Failure.RETRYABLE


def test_http_garbage_answer_is_an_error(api: tuple[FakeMembrane, str]) -> None:
    membrane, url = api
    membrane.knobs.garbage = True
    with pytest.raises(MembraneError, match="not JSON"):
        http(url).list_connections()


# ---- issue 13: the fake CLI keeps 2FA state between runs, and proxies Number Lookups -------------


def test_the_fake_cli_sends_a_pin_and_verifies_it_in_a_later_run(cli_env: dict[str, str]) -> None:
    client = cli(cli_env)
    sent = client.run_action(
        "send-tfa-pin-sms", {"applicationId": "A", "messageId": "M", "to": "41793026727"}
    ).output
    state = json.loads(Path(cli_env["FAKE_MEMBRANE_STATE"]).read_text())
    pin = state["pins"][sent["pinId"]]["pin"]
    wrong = client.run_action("verify-tfa-pin", {"pinId": sent["pinId"], "pin": "x"}).output
    assert (wrong["verified"], wrong["pinError"]) == (False, "WRONG_PIN")
    right = client.run_action("verify-tfa-pin", {"pinId": sent["pinId"], "pin": pin}).output
    assert right["verified"] is True and right["msisdn"] == "41793026727"
    found = client.request("POST", "/number/1/query", body={"to": ["41793026727"]})
    assert found["results"][0]["originalNetwork"]["networkName"] == "Swisscom"
