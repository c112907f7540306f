"""Opt-out compliance: phrasing tables, STOP end to end, the suppression list everywhere."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, select

from events.channels.registry import PARSERS
from events.config import Settings
from events.dispatch import Dispatcher
from events.membrane.catalogue import ACTIONS
from events.membrane.dryrun import DryRunClient
from events.outbox import enqueue
from events.process import Processor
from events.rules.optout import HELP, OPT_IN, OPT_OUT, Vocabulary, read_intent
from events.services import build_compliance
from storage.db import write_transaction
from storage.models import outbox
from tests.conftest import drain, fixture_bytes, inbound_sms, post

OPTS_OUT = [
    "STOP",
    "stop",
    "Stop.",
    "stop please",
    "Stop. Thank you",
    "STOP 12345",
    "stop!!!",
    "STOPALL",
    "Unsubscribe",
    "CANCEL",
    "end",
    "QUIT",
    "revoke",
    "OPTOUT",
    "please remove me",
    "Remove me from your list",
    "unsubscribe me",
    "Ｓｔｏｐ",
    "ST0P",
    "ѕтор",
    "STÖP",
    "ARRÊT",
    "arret svp",
    "BAJA",
    "baja por favor",
    "ALTO",
    "STOPP bitte",
    "basta grazie",
]
NOT_OPT_OUT = [
    "don't stop",
    "Dont stop",
    "never stop",
    "stopwatch",
    "stop the car",
    "I will stop by later",
    "please stop by",
    "end of the day",
    "quite",
    "backend",
    "non stop",
    "",
    "   ",
    "What time do you close?",
]


@pytest.mark.parametrize("text", OPTS_OUT)
def test_these_phrasings_opt_out(text: str) -> None:
    intent = read_intent(text)
    assert intent is not None and intent.kind == OPT_OUT


@pytest.mark.parametrize("text", NOT_OPT_OUT)
def test_these_do_not_opt_out(text: str) -> None:
    intent = read_intent(text)
    assert intent is None or intent.kind != OPT_OUT


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("START", OPT_IN),
        ("unstop", OPT_IN),
        ("Yes", OPT_IN),
        ("HELP", HELP),
        ("info", HELP),
        ("ayuda", HELP),
    ],
)
def test_start_and_help(text: str, kind: str) -> None:
    intent = read_intent(text)
    assert intent is not None and intent.kind == kind


def test_configured_words_in_other_languages_are_added() -> None:
    # Swahili is not among the reader's languages (Indonesian "hentikan", used here before,
    # now is: issue 10).
    vocabulary = Vocabulary.build(opt_out=["stop", "sitisha"])
    assert read_intent("SITISHA", vocabulary) == read_intent("SITISHA", vocabulary)
    intent = read_intent("Sitisha", vocabulary)
    assert intent is not None and intent.kind == OPT_OUT
    assert read_intent("sitisha", Vocabulary.build()) is None


def compliant_processor(engine: Engine, **settings_overrides: Any) -> Processor:
    settings = Settings(_env_file=None, **settings_overrides)  # type: ignore[call-arg]
    return Processor(engine, PARSERS, compliance=build_compliance(settings))


def actions(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(outbox).order_by(outbox.c.created_at)))


def test_stop_opts_out_confirms_once_and_blocks_every_later_send(
    client: Any, engine: Engine
) -> None:
    processor = compliant_processor(engine)
    post(client, "sms", inbound_sms("Stop please"))
    post(client, "sms", inbound_sms("Stop please"))  # Infobip redelivers
    post(client, "sms", inbound_sms("STOP", message_id="mo-2"))  # and the person insists
    drain(processor)
    queued = actions(engine)
    assert len(queued) == 1  # one confirmation
    confirmation = queued[0]
    assert confirmation.input["to"] == "385916242493"
    assert confirmation.input["from"] == "385921004026"
    assert confirmation.caused_by_event_id is not None
    state = client.get(
        "/v1/opt-outs", params={"channel": "sms", "contact": "+385 91 624 2493"}
    ).json()
    assert state["opted_out"] is True
    assert [h["words"] for h in state["history"]] == ["Stop please", "STOP"]

    dispatcher = Dispatcher(engine, DryRunClient(), dict(ACTIONS))
    dispatcher.run_once()
    assert actions(engine)[0].state == "done"  # the confirmation itself goes out

    # The API refuses, and says why.
    refused = client.post(
        "/v1/send", json={"channel": "sms", "to": "385916242493", "text": "Sale!"}
    )
    assert refused.status_code == 409 and "opted out" in refused.json()["error"]
    # A send queued another way (a rule, the CLI) is stopped by the dispatcher.
    with write_transaction(engine) as conn:
        blocked_id, _ = enqueue(
            conn,
            ACTIONS,
            "send-sms-message",
            {"to": "+385916242493", "text": "Sale!"},
            idempotency_key="r1",
        )
    dispatcher.run_once()
    blocked = client.get(f"/v1/actions/{blocked_id}").json()
    assert blocked["state"] == "failed" and "opted out" in blocked["last_error"]
    history = client.get(
        "/v1/opt-outs", params={"channel": "sms", "contact": "385916242493"}
    ).json()["history"]
    assert [h["action"] for h in history] == ["opt_out", "opt_out", "refused", "refused"]
    assert {h["source"] for h in history if h["action"] == "refused"} == {"api", "dispatcher"}


def test_start_opts_back_in_and_help_answers(client: Any, engine: Engine) -> None:
    processor = compliant_processor(engine)
    post(client, "sms", inbound_sms("STOP"))
    drain(processor)
    post(client, "sms", inbound_sms("START", message_id="mo-2"))
    post(client, "sms", inbound_sms("HELP", message_id="mo-3"))
    drain(processor)
    texts = [a.input["text"] for a in actions(engine)]
    assert len(texts) == 3
    assert "unsubscribed" in texts[0] and "subscribed again" in texts[1]
    assert "Reply STOP" in texts[2]
    assert (
        client.post(
            "/v1/send", json={"channel": "sms", "to": "385916242493", "text": "hi"}
        ).status_code
        == 202
    )


def test_opt_outs_api_and_cli(
    client: Any, monkeypatch: pytest.MonkeyPatch, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from events.cli.main import main

    assert client.post("/v1/opt-outs", json={"contact": "+41 79 302 67 27"}).status_code == 201
    listed = client.get("/v1/opt-outs").json()["items"]
    assert [(i["channel"], i["contact"]) for i in listed] == [("sms", "+41793026727")]
    assert client.delete("/v1/opt-outs/41793026727").json()["opted_out"] is False
    monkeypatch.setenv("INFOBIP_EVENTS_DATABASE_URL", db_url)
    assert main(["optouts", "add", "John@Example.com", "--channel", "email"]) == 0
    assert main(["optouts", "ls"]) == 0
    assert "john@example.com" in capsys.readouterr().out
    assert main(["optouts", "remove", "john@example.com", "--channel", "email"]) == 0


def test_compliance_is_only_on_for_the_configured_channels(client: Any, engine: Engine) -> None:
    processor = compliant_processor(engine, optout_channels=["sms"])
    body = json.dumps(
        {
            "results": [
                {
                    "from": "385919998888",
                    "to": "41793026731",
                    "integrationType": "WHATSAPP",
                    "receivedAt": "2025-01-01T10:10:00.000+0000",
                    "messageId": "wa-1",
                    "message": {"text": "STOP", "type": "TEXT"},
                }
            ]
        }
    ).encode()
    post(client, "whatsapp", body)
    drain(processor)
    assert actions(engine) == []


def _email_send(client: Any, to: str) -> int:
    body = {"channel": "email", "to": to, "from": "a@example.com", "subject": "Hi", "text": "x"}
    return int(client.post("/v1/send", json=body).status_code)


@pytest.mark.parametrize(
    "fixture", ["email/tracking_unsubscribed.json", "email/derived_tracking_complained.json"]
)
def test_infobip_email_unsubscribes_and_complaints_suppress_the_address(
    client: Any, engine: Engine, fixture: str
) -> None:
    processor = compliant_processor(engine)
    post(client, "email", fixture_bytes(fixture))
    drain(processor)
    assert _email_send(client, " John.Doe@Some-Domain.com") == 409
    history = client.get(
        "/v1/opt-outs", params={"channel": "email", "contact": "john.doe@some-domain.com"}
    ).json()
    assert history["opted_out"] and history["scope"] == "channel"
    assert history["history"][0]["source"] == "infobip"
    # Phone channels are not touched by an email address.
    sms = {"channel": "sms", "to": "41793026727", "text": "x"}
    assert client.post("/v1/send", json=sms).status_code == 202


def _bounce(permanent: bool) -> bytes:
    doc = json.loads(fixture_bytes("email/dlr_delivered.json"))
    item = doc["results"][0]
    item["status"] = {"groupId": 2, "groupName": "UNDELIVERABLE", "id": 4, "name": "UNDELIVERABLE"}
    item["error"] = {
        "groupId": 2,
        "groupName": "BOUNCED",
        "id": 6006,
        "name": "HARD_BOUNCE",
        "permanent": permanent,
    }
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("suppress", "permanent", "expected"),
    [(True, True, 409), (True, False, 202), (False, True, 202)],
)
def test_hard_bounces_suppress_the_address_only_when_asked(
    client: Any, engine: Engine, suppress: bool, permanent: bool, expected: int
) -> None:
    processor = compliant_processor(engine, suppress_hard_bounces=suppress)
    post(client, "email", _bounce(permanent))
    drain(processor)
    assert _email_send(client, "john.doe@gmail.com") == expected


def _send_sms(client: Any) -> int:
    body = {"channel": "sms", "to": "385916242493", "text": "hi"}
    return int(client.post("/v1/send", json=body).status_code)


def test_an_uncertain_opt_out_suppresses_until_a_person_dismisses_it(
    client: Any, engine: Engine
) -> None:
    processor = compliant_processor(engine)
    post(client, "sms", inbound_sms("where do I unsubscribe from this?"))
    drain(processor)
    assert actions(engine) == []  # no confirmation: nothing was opted out yet
    assert _send_sms(client) == 409  # but nothing automated goes out meanwhile
    [review] = client.get("/v1/opt-outs/review").json()["items"]
    assert review["contact"] == "+385916242493" and review["state"] == "pending"
    assert review["words"] == "where do I unsubscribe from this?"
    decided = client.post(f"/v1/opt-outs/review/{review['id']}", json={"decision": "dismiss"})
    assert decided.json() == {"id": review["id"], "state": "dismissed"}
    assert _send_sms(client) == 202
    again = client.post(f"/v1/opt-outs/review/{review['id']}", json={"decision": "confirm"})
    assert again.status_code == 409
    assert client.post("/v1/opt-outs/review/nope", json={"decision": "confirm"}).status_code == 404
    history = client.get("/v1/opt-outs", params={"contact": "385916242493"}).json()["history"]
    assert [h["action"] for h in history] == ["uncertain", "refused", "dismissed"]


def test_a_confirmed_review_is_an_opt_out_and_the_cli_lists_and_decides_reviews(
    client: Any,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from events.cli.main import main

    processor = compliant_processor(engine)
    post(client, "sms", inbound_sms("please leave me be"))
    drain(processor)
    monkeypatch.setenv("INFOBIP_EVENTS_DATABASE_URL", db_url)
    assert main(["optouts", "review"]) == 0
    listed = capsys.readouterr().out
    review_id = listed.split()[0]
    assert "+385916242493" in listed and "leave me be" in listed
    assert main(["optouts", "review", review_id]) == 2  # say which
    assert main(["optouts", "review", review_id, "--confirm"]) == 0
    assert main(["optouts", "review", review_id, "--dismiss"]) == 1  # decided already
    assert main(["optouts", "review"]) == 0
    assert "no uncertain opt-out is waiting" in capsys.readouterr().out
    found = client.get("/v1/opt-outs", params={"contact": "385916242493"}).json()
    assert found["opted_out"] and [h["action"] for h in found["history"]] == [
        "uncertain",
        "opt_out",
        "confirmed",
    ]


def test_with_optout_uncertain_ignore_a_probable_opt_out_is_only_audited(
    client: Any, engine: Engine
) -> None:
    processor = compliant_processor(engine, optout_uncertain="ignore")
    post(client, "sms", inbound_sms("please leave me be"))
    drain(processor)
    assert client.get("/v1/opt-outs/review").json()["items"] == []
    assert _send_sms(client) == 202
    history = client.get("/v1/opt-outs", params={"contact": "385916242493"}).json()["history"]
    assert [h["action"] for h in history] == ["uncertain"]
