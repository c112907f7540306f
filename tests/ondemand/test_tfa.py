"""Two-factor PINs (issue 13, item 6) through the fake Membrane: send, check, resend; attempts,
expiry and outcome kept and audited; the hourly limit; a PIN reaches an opted-out number and
nothing else does; the PIN is in no log line and no table; `tfa setup`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from events.cli.main import main
from events.logs import configure_logging
from events.membrane.catalogue import ACTIONS
from events.outbox import VERIFICATION_FLAG, enqueue
from storage.db import write_transaction
from storage.models import metadata, outbox, verifications
from tests.ondemand.world import World, world

NUMBER = "+41 79 100 00 11"
KEY = "+41791000011"
TFA: dict[str, Any] = {"tfa_application_id": "APP-1", "tfa_message_id": "MSG-1"}


@pytest.fixture
def w(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[World]:
    with world(db_url, engine, tmp_path, tfa_max_per_hour=3, **TFA) as made:
        yield made


def start(w: World, to: str = NUMBER) -> dict[str, Any]:
    response = w.client.post("/v1/verify", json={"to": to})
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/v1/verify/{response.json()['id']}"
    return dict(response.json())


def sent_pin(w: World, vid: str) -> tuple[str, str]:
    """Run the dispatcher, then read the verification's pin id and the PIN from the phone."""
    w.run()
    doc = w.client.get(f"/v1/verify/{vid}").json()
    assert doc["outcome"] == "sent", doc
    return doc["pin_id"], w.membrane.infobip.pins[doc["pin_id"]]["pin"]


def check(w: World, vid: str, pin: str) -> Any:
    return w.client.post(f"/v1/verify/{vid}/check", json={"pin": pin})


def test_a_pin_is_sent_then_a_wrong_and_a_right_one_are_checked_and_audited(w: World) -> None:
    made = start(w)
    assert (made["to"], made["outcome"], made["attempts"]) == (KEY, "sending", 0)
    assert not [r for r in w.membrane.runs if r[0] == "send-tfa-pin-sms"]  # queued, not sent
    _, pin = sent_pin(w, made["id"])
    [(_, sent)] = [r for r in w.membrane.runs if r[0] == "send-tfa-pin-sms"]
    assert sent == {"applicationId": "APP-1", "messageId": "MSG-1", "to": "41791000011"}
    wrong = check(w, made["id"], "0000" if pin != "0000" else "1111").json()
    assert (wrong["verified"], wrong["verification"]["attempts"]) == (False, 1)
    assert wrong["attempts_remaining"] == 9
    assert wrong["verification"]["reason"] == "WRONG_PIN"
    right = check(w, made["id"], pin).json()
    assert right["verified"] is True
    assert right["verification"]["outcome"] == "verified"
    assert right["verification"]["verified_at"] is not None
    assert check(w, made["id"], pin).status_code == 409  # verified: start a new one
    steps = [s["step"] for s in w.client.get(f"/v1/verify/{made['id']}").json()["steps"]]
    assert steps == ["send", "sent", "check", "check"]


def test_a_check_before_the_pin_is_out_answers_409_with_retry_after(w: World) -> None:
    made = start(w)
    early = check(w, made["id"], "1234")
    assert early.status_code == 409 and early.headers["retry-after"] == "1"
    assert "still being sent" in early.json()["error"]
    assert check(w, "nope", "1234").status_code == 404
    assert check(w, made["id"], "12 34").status_code == 400


def test_no_attempts_left_fails_the_verification(w: World) -> None:
    made = start(w)
    pin_id, pin = sent_pin(w, made["id"])
    w.membrane.infobip.pins[pin_id]["attempts_left"] = 1
    last = check(w, made["id"], "0" * 8).json()
    assert last["verification"]["outcome"] == "failed"
    assert last["attempts_remaining"] == 0
    assert check(w, made["id"], pin).status_code == 409


def test_an_expired_pin_is_not_checked_with_infobip(w: World, engine: Engine) -> None:
    made = start(w)
    sent_pin(w, made["id"])
    with engine.begin() as conn:
        conn.execute(
            verifications.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    late = check(w, made["id"], "1234")
    assert late.status_code == 409 and "expired" in late.json()["error"]
    assert not [r for r in w.membrane.runs if r[0] == "verify-tfa-pin"]


def test_a_resend_sends_the_same_pin_id_again(w: World) -> None:
    made = start(w)
    pin_id, pin = sent_pin(w, made["id"])
    again = w.client.post(f"/v1/verify/{made['id']}/resend")
    assert again.status_code == 202 and again.json()["sends"] == 2
    w.run()
    [(_, resent)] = [r for r in w.membrane.runs if r[0] == "resend-tfa-pin-sms"]
    assert resent == {"pinId": pin_id}
    assert check(w, made["id"], pin).json()["verified"] is True


def test_the_hourly_limit_per_number_answers_429_with_retry_after_and_is_audited(
    w: World,
) -> None:
    first = start(w)
    start(w, "0041791000011")  # the same number, written otherwise
    sent_pin(w, first["id"])
    assert w.client.post(f"/v1/verify/{first['id']}/resend").status_code == 202
    over = w.client.post("/v1/verify", json={"to": "079 100 00 11"})
    assert over.status_code == 429
    assert 3500 <= int(over.headers["retry-after"]) <= 3601
    assert "3 PINs an hour" in over.json()["error"]
    assert w.client.post(f"/v1/verify/{first['id']}/resend").status_code == 429
    assert start(w, "+41 79 100 00 12")["outcome"] == "sending"  # another number may
    steps = [s["step"] for s in w.client.get(f"/v1/verify/{first['id']}").json()["steps"]]
    assert steps[-1] == "limited"


def test_a_pin_reaches_an_opted_out_number_but_nothing_else_and_no_forged_pin_does(
    w: World, engine: Engine
) -> None:
    assert w.client.post("/v1/opt-outs", json={"contact": NUMBER}).status_code == 201
    assert (
        w.client.post("/v1/send", json={"channel": "sms", "to": NUMBER, "text": "hi"}).status_code
        == 409
    )
    made = start(w)
    sent_pin(w, made["id"])  # the person asked for it: sent
    # A PIN action that names no verification of this number (a rule, an API action, a
    # forged flag) is refused like any send to an opted-out number.
    with write_transaction(engine) as conn:
        for index, flag in enumerate((None, "no-such-verification", made["id"])):
            values = {"application_id": "APP-1", "template_id": "MSG-1", "to": KEY}
            if flag:
                values[VERIFICATION_FLAG] = flag
            # The third names a real verification, but of another number.
            to = KEY if flag != made["id"] else "+41791000012"
            enqueue(
                conn,
                ACTIONS,
                "send-tfa-pin-sms",
                {**values, "to": to},
                idempotency_key=f"forged-{index}",
            )
    w.dispatcher.run_once()
    with engine.connect() as conn:
        states = conn.execute(
            select(outbox.c.state, outbox.c.last_error).where(
                outbox.c.idempotency_key.like("forged-%")
            )
        ).all()
    sends = [r for r in w.membrane.runs if r[0] == "send-tfa-pin-sms"]
    assert len(sends) == 2  # the person's PIN, and the one to the other number
    refused = [s for s in states if s.state == "failed" and "opted out" in (s.last_error or "")]
    assert len(refused) == 2  # the two to the opted-out number
    assert len(states) == 3  # the third, to a number that did not opt out, may go


def test_the_pin_is_in_no_log_line_and_no_table(
    w: World, engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("DEBUG", "json")
    made = start(w)
    pin_id, _ = sent_pin(w, made["id"])
    pin = "Zq7Kx93PwL"  # what the phone shows (unlike any id or time)
    w.membrane.infobip.pins[pin_id]["pin"] = pin
    assert check(w, made["id"], "Wr0ngPin00").status_code == 200
    assert check(w, made["id"], pin).json()["verified"] is True
    captured = capsys.readouterr()
    assert pin not in captured.out + captured.err
    assert "tfa" in captured.out + captured.err  # the steps were logged
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                assert pin not in repr(tuple(row)), table.name


def test_tfa_setup_creates_then_finds_the_application_and_prints_the_settings(
    w: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    w.environment(monkeypatch)
    assert main(["tfa", "setup", "--name", "login", "--pin-length", "6"]) == 0
    first = capsys.readouterr().out.splitlines()
    app = w.membrane.infobip.tfa_apps[0]["applicationId"]
    template = w.membrane.infobip.tfa_templates[0]
    assert first == [
        f"INFOBIP_EVENTS_TFA_APPLICATION_ID={app}",
        f"INFOBIP_EVENTS_TFA_MESSAGE_ID={template['messageId']}",
        "INFOBIP_EVENTS_TFA_PIN_TTL=15m",
    ]
    assert template["messageText"] == "Your verification code is {{pin}}"
    assert template["pinLength"] == 6
    assert main(["tfa", "setup", "--name", "login", "--message-id", "MSG-9"]) == 0
    assert capsys.readouterr().out.splitlines()[:2] == [
        f"INFOBIP_EVENTS_TFA_APPLICATION_ID={app}",
        "INFOBIP_EVENTS_TFA_MESSAGE_ID=MSG-9",
    ]
    assert len(w.membrane.infobip.tfa_apps) == 1  # found, not created again
    assert main(["tfa", "setup", "--text", "no placeholder"]) == 2


def test_without_a_configured_application_a_send_is_refused_saying_what_to_set(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with world(db_url, engine, tmp_path) as bare:
        response = bare.client.post("/v1/verify", json={"to": NUMBER})
        assert response.status_code == 400
        assert "infobip-events tfa setup" in response.json()["error"]
        assert bare.client.post("/v1/verify", json={"to": "hello"}).status_code == 422
