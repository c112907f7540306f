"""Email validation before an automated email (VALIDATE_EMAIL) and the SMS preview of the
rules' texts (`rules check --preview`), through the fake Membrane (issue 13, item 7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from events.cli.main import main
from events.cli.rules import encoding_of
from events.dispatch import invalid_reason
from storage.models import outbox, raw_webhooks
from tests.conftest import inbound_sms, post
from tests.ondemand.world import World, world

ALERT = """
[senders]
email = "alerts@example.com"
[[rules]]
name = "mail-the-team"
when = { kind = "inbound", channel = "sms" }
[[rules.do]]
type = "send"
channel = "email"
to = "team@example.com"
subject = "New SMS"
text = "{sender} wrote: {text}"
"""


def runs(w: World, key: str) -> list[dict[str, Any]]:
    return [i for k, i in w.membrane.runs if k == key]


def email_action(engine: Engine) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(outbox).where(outbox.c.action == "send-email")).one()


def test_an_automated_email_to_an_invalid_address_is_skipped_with_infobips_reason(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with world(db_url, engine, tmp_path, rules=ALERT, validate_email=True) as w:
        w.membrane.infobip.invalid_emails["team@example.com"] = "known_hardbounce"
        post(w.client, "sms", inbound_sms("hello"))
        w.run()
        assert runs(w, "validate-email-addresses") == [{"to": "team@example.com"}]
        assert runs(w, "send-email") == []
        action = email_action(engine)
        assert action.state == "skipped"
        assert "known_hardbounce" in action.last_error
        with engine.connect() as conn:
            kept = conn.execute(
                select(raw_webhooks.c.id, raw_webhooks.c.body, raw_webhooks.c.state).where(
                    raw_webhooks.c.channel == "email-validation"
                )
            ).one()
        assert kept.state == "ignored"
        assert json.loads(kept.body)["validMailbox"] == "false"
        # A replay passing by leaves a kept answer as it is: nothing to parse.
        [replayed] = w.processor.process_ids([kept.id])
        assert replayed.state == "ignored"
        assert w.client.get("/v1/actions", params={"state": "skipped"}).json()["items"]


def test_a_valid_address_is_mailed_and_without_the_setting_nothing_is_validated(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with world(db_url, engine, tmp_path, rules=ALERT, validate_email=True) as w:
        post(w.client, "sms", inbound_sms("hello"))
        w.run()
        assert len(runs(w, "validate-email-addresses")) == 1
        assert email_action(engine).state == "done"
        assert runs(w, "send-email")[0]["to"] == "team@example.com"
    with world(db_url, engine, tmp_path, rules=ALERT) as w:
        post(w.client, "sms", inbound_sms("hello again", message_id="mo-2"))
        w.run()
        assert runs(w, "validate-email-addresses") == []
        assert len(runs(w, "send-email")) == 1


def test_an_email_a_person_sends_is_not_validated(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with world(db_url, engine, tmp_path, validate_email=True) as w:
        w.membrane.infobip.invalid_emails["ana@example.com"] = "known_hardbounce"
        body = {"channel": "email", "to": "ana@example.com", "from": "a@example.com"}
        body |= {"subject": "Hi", "text": "Hi"}
        assert w.client.post("/v1/send", json=body).status_code == 202
        w.run()
        assert runs(w, "validate-email-addresses") == []
        assert len(runs(w, "send-email")) == 1


def test_a_failed_validation_sends_nothing_and_is_tried_again(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with world(db_url, engine, tmp_path, rules=ALERT, validate_email=True) as w:
        post(w.client, "sms", inbound_sms("hello"))
        w.membrane.knobs.fail_times = 1
        w.run()
        action = email_action(engine)
        assert (action.state, action.attempts) == ("pending", 1)
        assert runs(w, "send-email") == []


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"validMailbox": "true", "validSyntax": True}, None),
        ({"validMailbox": "unknown", "validSyntax": True}, None),
        ({"validMailbox": "false", "detailedReasons": "known_hardbounce"}, "known_hardbounce"),
        ({"validMailbox": "false"}, "invalid mailbox"),
        ({"validMailbox": "false", "validSyntax": False}, "invalid syntax"),
        ([{"validMailbox": "false", "detailedReasons": "no_mx_record"}], "no_mx_record"),
        ("garbage", None),
    ],
)
def test_what_infobips_validation_answer_means(answer: Any, reason: str | None) -> None:
    assert invalid_reason(answer) == reason


RUSSIAN = (
    "Спасибо! Мы получили ваше сообщение и ответим как можно скорее, "
    "обычно в течение одного рабочего дня."
)
PREVIEWED = f"""
[[rules]]
name = "merci"
when = {{ kind = "inbound", first_word = "merci" }}
do = [{{ type = "reply", text = "{RUSSIAN}" }}]
[[rules]]
name = "thanks"
when = {{ kind = "inbound" }}
do = [{{ type = "reply", text = "Thanks, we got your message." }}]
"""


def test_rules_check_preview_shows_each_reply_texts_parts_and_encoding(
    db_url: str,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rules = tmp_path / "preview.toml"
    rules.write_text(PREVIEWED)
    with world(db_url, engine, tmp_path) as w:
        w.environment(monkeypatch)
        assert main(["rules", "check", str(rules), "--preview"]) == 0
        out = capsys.readouterr().out
        assert len(runs(w, "preview-sms-message")) == 2
    assert "thanks: 1 SMS part, GSM-7" in out
    assert "merci: 2 SMS parts, UCS-2" in out


@pytest.mark.parametrize(
    ("text", "parts", "remaining", "encoding"),
    [
        ("Hello", 1, 155, "GSM-7"),
        ("a" * 161, 2, 145, "GSM-7"),
        ("Привет", 1, 64, "UCS-2"),
        ("П" * 71, 2, 63, "UCS-2"),
        ("", 1, 160, "GSM-7"),
    ],
)
def test_the_encoding_is_read_from_the_room_infobip_leaves(
    text: str, parts: int, remaining: int, encoding: str
) -> None:
    assert encoding_of(len(text), parts, remaining) == encoding
