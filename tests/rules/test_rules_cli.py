"""`infobip-events rules check|test|replay`, a bad rules file at start, and SIGHUP reloads."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from events.automation import build_holder
from events.cli.main import main
from tests.conftest import FIXTURES, drain, inbound_sms, post
from tests.helpers_proc import Server
from tests.rules.test_rules_pipeline import PRICES, processor_with

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rules.toml"
QUIZ = FIXTURES / "sms" / "inbound_mo_json_2_keyword_quiz.json"


def write(tmp_path: Path, text: str, name: str = "rules.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_rules_check_says_ok_and_lists_the_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["rules", "check", str(write(tmp_path, PRICES))]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: ") and "prices: reply, tag  [keyword" in out


def test_rules_check_names_every_problem_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, '[[rules]]\nname = "x"\nwhen = { chanel = "sms" }\ndo = [{ type = "z" }]')
    assert main(["rules", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "2 problem(s)" in err and "did you mean 'channel'" in err and "do[0].type" in err
    assert main(["rules", "check", str(tmp_path / "missing.toml")]) == 1
    assert "cannot read" in capsys.readouterr().err


def no_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("INFOBIP_EVENTS_")]:
        monkeypatch.delenv(name)


def test_rules_check_passes_the_example_as_shipped_with_no_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    no_settings(monkeypatch)
    assert main(["rules", "check", str(EXAMPLE)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"ok: {EXAMPLE}: ") and err == ""


def test_every_path_the_example_names_exists() -> None:
    root = EXAMPLE.parents[1]
    named = re.findall(r"(?:examples|tests)/[\w./-]+\.\w+", EXAMPLE.read_text())
    assert named and all((root / path).is_file() for path in named), named


def example_with_forwards() -> str:
    """The example with the forward rules of its last section uncommented."""
    head, marker, forwards = EXAMPLE.read_text().partition("# ---- forwards")
    assert marker and "[[rules]]" in forwards
    return head + marker + re.sub(r"(?m)^# (?=\[\[rules|\w+ = )", "", forwards)


def test_rules_check_says_ok_only_when_the_forward_secret_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    no_settings(monkeypatch)
    rules = write(tmp_path, example_with_forwards())
    assert main(["rules", "check", str(rules)]) == 1
    out, err = capsys.readouterr()
    assert "ok" not in out and "2 problem(s)" in err
    for name in ("alert-on-opt-out", "alert-on-rejected"):
        assert re.search(rf"rule '{name}' \(rules\[\d\]\): do\[0\]: .*set it", err), err
    assert "INFOBIP_EVENTS_FORWARD_HMAC_SECRET is not set" in err
    # rules test tries a file without sending anything: it needs no secret.
    assert main(["rules", "test", str(rules), str(QUIZ), "--channel", "sms"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("INFOBIP_EVENTS_FORWARD_HMAC_SECRET", "s")
    assert main(["rules", "check", str(rules)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: ") and "alert-on-opt-out: forward  [compliance" in out


def test_a_forwarding_rules_file_without_the_secret_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    no_settings(monkeypatch)
    monkeypatch.setenv("INFOBIP_EVENTS_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.setenv("INFOBIP_EVENTS_RULES_FILE", str(write(tmp_path, example_with_forwards())))
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "INFOBIP_EVENTS_RULES_FILE" in err and "rule 'alert-on-rejected'" in err
    assert "INFOBIP_EVENTS_FORWARD_HMAC_SECRET is not set" in err


def test_a_reload_that_adds_a_forward_without_the_secret_keeps_the_old_rules(
    tmp_path: Path,
) -> None:
    rules = write(tmp_path, TAG_RULES.format("first"))
    holder = build_holder(str(rules), forward_secret_set=False)
    rules.write_text(example_with_forwards())
    assert holder.reload() is False
    assert [r.name for r in holder.current.rules] == ["first"]
    rules.write_text(TAG_RULES.format("second"))
    assert holder.reload() is True
    assert [r.name for r in holder.current.rules] == ["second"]


def test_rules_test_prints_what_would_happen_to_a_payload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = write(
        tmp_path,
        '[[rules]]\nname = "quiz"\nwhen = { first_word = ["quiz"] }\n'
        'do = [{ type = "reply", text = "You answered: {text}" }]',
    )
    assert main(["rules", "test", str(rules), str(QUIZ), "--channel", "sms"]) == 0
    out = capsys.readouterr().out
    assert "sms inbound (received) 385916242493: 'QUIZ Correct answer is Paris'" in out
    assert "quiz: fired (conditions met) -> sms to 385916242493: 'You answered: QUIZ" in out
    assert main(["rules", "test", str(rules), str(QUIZ), "--channel", "sms", "--json"]) == 0
    [item] = json.loads(capsys.readouterr().out)
    assert item["decisions"][0]["outcome"] == "fired"
    assert main(["rules", "test", str(rules), str(QUIZ), "--channel", "fax"]) == 2


def test_rules_replay_reports_on_the_stored_history(
    client: Any,
    engine: Any,
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    processor = processor_with(engine, tmp_path, PRICES)
    post(client, "sms", inbound_sms("price"))
    drain(processor)
    monkeypatch.setenv("INFOBIP_EVENTS_DATABASE_URL", db_url)
    candidate = write(
        tmp_path,
        '[[rules]]\nname = "none"\nwhen = { kind = "delivery" }\n'
        'do = [{ type = "tag", tags = ["x"] }]',
        "candidate.toml",
    )
    assert main(["rules", "replay", str(candidate), "--since", "30d"]) == 0
    out = capsys.readouterr().out
    assert "did:   prices: fired" in out and "would: nothing" in out
    assert "Would send 0 messages" in out and "sent 1" in out and "Nothing was written" in out


def test_a_bad_rules_file_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INFOBIP_EVENTS_DATABASE_URL", f"sqlite:///{tmp_path}/x.db")
    monkeypatch.setenv("INFOBIP_EVENTS_RULES_FILE", str(write(tmp_path, "[[rules]]\nname = 1")))
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert "INFOBIP_EVENTS_RULES_FILE" in err and "problem(s)" in err


def _tags(server: Server, message_id: str) -> list[str] | None:
    reply = httpx.get(f"{server.url}/v1/messages/{message_id}", timeout=5)
    if reply.status_code != 200:
        return None
    tags: list[str] = reply.json()["tags"]
    return tags


def _wait_tags(server: Server, message_id: str) -> list[str]:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        tags = _tags(server, message_id)
        if tags is not None:
            return tags
        time.sleep(0.1)
    raise AssertionError(f"{message_id} was not processed")


TAG_RULES = '[[rules]]\nname = "{0}"\ndo = [{{ type = "tag", tags = ["{0}"] }}]\n'


def test_sighup_reloads_the_rules_and_a_bad_file_keeps_the_old_ones(
    tmp_path: Path, db_url: str
) -> None:
    rules = write(tmp_path, TAG_RULES.format("first"))
    server = Server(db_url, tmp_path / "server.log", INFOBIP_EVENTS_RULES_FILE=str(rules))
    server.start()
    try:
        assert server.proc is not None

        def send(message_id: str) -> list[str]:
            reply = httpx.post(
                f"{server.url}/webhooks/sms",
                content=inbound_sms("hi", message_id=message_id),
                headers={"content-type": "application/json"},
                timeout=5,
            )
            assert reply.status_code == 200
            return _wait_tags(server, message_id)

        assert send("m-1") == ["first"]
        rules.write_text(TAG_RULES.format("second"))
        server.proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert send("m-2") == ["second"]
        rules.write_text("[[rules]]\nname = ")  # broken: the old rules stay
        server.proc.send_signal(signal.SIGHUP)
        time.sleep(1.0)
        assert send("m-3") == ["second"]
        assert server.proc.poll() is None
        log = (tmp_path / "server.log").read_text()
        assert "rules reloaded" in log and "rules not reloaded" in log
    finally:
        server.stop()
