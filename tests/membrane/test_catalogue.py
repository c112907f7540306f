"""The action catalogue: templates, message ids in Infobip's answers, and `membrane check`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from events.config import Settings
from events.membrane.catalogue import ACTIONS, message_ids, render, with_overrides
from events.membrane.check import check

SEED_KEYS = {
    "send-sms-message",
    "preview-sms-message",
    "get-sms-delivery-reports",
    "get-sms-message-logs",
    "send-email",
    "validate-email-addresses",
    "get-email-delivery-reports",
    "get-email-logs",
    "send-whatsapp-text-message",
    "send-whatsapp-template-message",
    "send-voice-message-tts",
    "get-voice-delivery-reports",
    "send-tfa-pin-sms",
    "resend-tfa-pin-sms",
    "verify-tfa-pin",
    "create-tfa-application",
    "list-tfa-applications",
    "create-tfa-message-template",
}


def test_the_catalogue_has_the_eighteen_actions_of_the_seed_document() -> None:
    membrane = {key for key, action in ACTIONS.items() if not action.http}
    assert membrane == SEED_KEYS
    # The one action that is not Membrane's: the rules' signed forward to a URL.
    assert {key for key, action in ACTIONS.items() if action.http} == {"forward-http"}


@pytest.mark.parametrize(
    ("template", "values", "expected"),
    [
        ({"to": "{to}", "text": "{text}"}, {"to": "1", "text": "hi"}, {"to": "1", "text": "hi"}),
        ({"to": "{to}", "from": "{from}"}, {"to": "1"}, {"to": "1"}),
        ({"ids": "{ids}"}, {"ids": ["a", "b"]}, {"ids": ["a", "b"]}),
        ({"n": "{n}"}, {"n": 4}, {"n": 4}),
        ({"msg": "Hi {name}!"}, {"name": "Ana"}, {"msg": "Hi Ana!"}),
        ({"a": {"b": "{x}"}, "c": "{y}"}, {"y": 1}, {"c": 1}),
        ({"d": [{"to": "{to}"}]}, {}, None),
        ({"fixed": True, "t": "{t}"}, {}, {"fixed": True}),
    ],
)
def test_templates_fill_placeholders_and_drop_what_has_no_value(
    template: Any, values: dict[str, Any], expected: Any
) -> None:
    assert render(template, values) == expected


@pytest.mark.parametrize(
    ("output", "ids"),
    [
        ({"bulkId": "b", "messages": [{"messageId": "m1"}, {"messageId": "m2"}]}, ["m1", "m2"]),
        ({"to": "1", "messageCount": 1, "messageId": "wa-1"}, ["wa-1"]),
        ({"results": [{"messageId": 123}]}, ["123"]),
        ({"pinId": "p", "smsStatus": "MESSAGE_SENT"}, []),
        ([{"messageId": "x"}, {"messageId": "x"}], ["x"]),
    ],
)
def test_message_ids_are_found_wherever_infobip_puts_them(output: Any, ids: list[str]) -> None:
    assert message_ids(output) == ids


def test_overrides_replace_a_template_and_refuse_unknown_actions() -> None:
    catalogue = with_overrides({"send-sms-message": {"destination": "{to}", "body": "{text}"}})
    assert render(catalogue["send-sms-message"].template, {"to": "1", "text": "x"}) == {
        "destination": "1",
        "body": "x",
    }
    with pytest.raises(ValueError, match="unknown actions"):
        with_overrides({"send-fax": {}})


def test_membrane_check_passes_on_the_fake_connection() -> None:
    lines, ok = check(Settings(_env_file=None))  # type: ignore[call-arg]
    assert ok, lines
    assert sum(1 for line in lines if line.startswith("ok ")) == 18


def test_membrane_check_says_what_does_not_fit(tmp_path: Path) -> None:
    templates = tmp_path / "templates.json"
    templates.write_text(json.dumps({"send-sms-message": {"destination": "{to}"}}))
    settings = Settings(_env_file=None, membrane_templates=templates)  # type: ignore[call-arg]
    lines, ok = check(settings)
    assert not ok
    text = "\n".join(lines)
    assert "MISFIT   send-sms-message" in text
    assert "'to' is a required property" in text
    assert "INFOBIP_EVENTS_MEMBRANE_TEMPLATES" in text


def test_membrane_check_command_exits_1_on_a_misfit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from events.cli.main import main

    templates = tmp_path / "templates.json"
    templates.write_text(json.dumps({"verify-tfa-pin": {"pin": "{pin}"}}))
    monkeypatch.setenv("INFOBIP_EVENTS_MEMBRANE_TEMPLATES", str(templates))
    assert main(["membrane", "check"]) == 1
    assert "pinId" in capsys.readouterr().out


def test_cli_transport_settings_must_name_the_executable() -> None:
    from events.config import SettingsError, load_settings

    with pytest.raises(SettingsError, match="MEMBRANE_CLI"):
        load_settings(_env_file=None, membrane_transport="cli", membrane_connection_id="c")
    with pytest.raises(SettingsError, match="MEMBRANE_TOKEN"):
        load_settings(_env_file=None, membrane_transport="http", membrane_connection_id="c")


def test_send_command_sends_through_the_dry_run(
    monkeypatch: pytest.MonkeyPatch, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from events.cli.main import main

    monkeypatch.setenv("INFOBIP_EVENTS_DATABASE_URL", db_url)
    assert main(["send", "--channel", "sms", "--to", "41793026727", "--text", "hi"]) == 0
    action = json.loads(capsys.readouterr().out)
    assert action["state"] == "done" and action["message_ids"] == [action["tracking_id"]]
    assert main(["actions", "ls", "--state", "done"]) == 0
    assert action["id"] in capsys.readouterr().out
    assert main(["actions", "run", "preview-sms-message", "--input", '{"text": "hello"}']) == 0
    preview = json.loads(capsys.readouterr().out)
    assert preview["output"]["previews"][0]["messageCount"] == 1
    assert main(["send", "--channel", "email", "--to", "a@b.c", "--text", "x"]) == 2
