"""The command line: help everywhere, db upgrade, replay, worker --once."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from storage.models import events
from tests.conftest import fixture_bytes, post

COMMANDS = [
    [],
    ["serve"],
    ["receiver"],
    ["worker"],
    ["health"],
    ["db"],
    ["db", "upgrade"],
    ["db", "current"],
    ["replay"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "top")
def test_every_command_has_help(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "events.cli", *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "usage: infobip-events" in result.stdout


def run_cli(monkeypatch: pytest.MonkeyPatch, db_url: str, *args: str) -> int:
    from events.cli.main import main

    monkeypatch.setenv("INFOBIP_EVENTS_DATABASE_URL", db_url)
    monkeypatch.setenv("INFOBIP_EVENTS_LOG_FORMAT", "json")
    return main(list(args))


def test_db_upgrade_then_current_says_head(monkeypatch: pytest.MonkeyPatch, db_url: str) -> None:
    assert run_cli(monkeypatch, db_url, "db", "upgrade") == 0
    assert run_cli(monkeypatch, db_url, "db", "current") == 0


def test_worker_once_drains_pending_webhooks(
    monkeypatch: pytest.MonkeyPatch, db_url: str, client: Any, engine: Engine
) -> None:
    post(client, "sms", fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))
    assert run_cli(monkeypatch, db_url, "worker", "--once") == 0
    assert client.get("/v1/messages/MESSAGE-ID-123-xyz").json()["state"] == "delivered"


def test_replay_is_idempotent_and_reports_progress(
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    client: Any,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ok = post(client, "sms", fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))
    bad = post(client, "sms", b"<<<not a body")
    assert run_cli(monkeypatch, db_url, "worker", "--once") == 0
    before = client.get("/v1/messages/MESSAGE-ID-123-xyz").json()
    capsys.readouterr()
    assert run_cli(monkeypatch, db_url, "replay", "--since", "1h") == 0
    out = capsys.readouterr()
    assert "replayed 2/2" in out.err
    assert "1 failed, 1 processed; 0 new events" in out.out
    assert client.get("/v1/messages/MESSAGE-ID-123-xyz").json() == before
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 2
    assert run_cli(monkeypatch, db_url, "replay", "--failed", "--dry-run") == 0
    assert bad.headers["x-webhook-id"] in capsys.readouterr().out
    assert run_cli(monkeypatch, db_url, "replay", "--id", ok.headers["x-webhook-id"]) == 0


def test_replay_without_a_selection_explains_what_to_give(
    monkeypatch: pytest.MonkeyPatch, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(monkeypatch, db_url, "replay") == 2
    assert "--failed" in capsys.readouterr().err


def test_bad_setting_stops_the_start_with_its_name(
    monkeypatch: pytest.MonkeyPatch, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INFOBIP_EVENTS_WEBHOOK_ALLOWED_IPS", "300.1.1.1")
    assert run_cli(monkeypatch, db_url, "worker", "--once") == 2
    assert "INFOBIP_EVENTS_WEBHOOK_ALLOWED_IPS" in capsys.readouterr().err


def test_every_command_and_option_has_help() -> None:
    import argparse

    from events.cli.main import build_parser

    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helped = {a.dest for a in action._choices_actions if a.help}
                for name, sub in action.choices.items():
                    if name not in helped:
                        missing.append(" ".join([*path, name]))
                    walk(sub, [*path, name])
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(" ".join([*path, *(action.option_strings or [action.dest])]))

    walk(build_parser(), ["infobip-events"])
    assert missing == []


def test_a_log_level_that_is_not_one_stops_the_start_naming_the_levels(
    monkeypatch: pytest.MonkeyPatch, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INFOBIP_EVENTS_LOG_LEVEL", "LOUD")
    assert run_cli(monkeypatch, db_url, "db", "current") == 2
    error = capsys.readouterr().err
    assert "INFOBIP_EVENTS_LOG_LEVEL" in error and "'WARNING'" in error
    monkeypatch.setenv("INFOBIP_EVENTS_LOG_LEVEL", "warning")  # case does not matter
    assert run_cli(monkeypatch, db_url, "db", "current") == 0
