"""Never message someone who said stop, whatever the writing of their number, the channel or the
path that sends: counted at the fake Membrane, on SQLite and PostgreSQL.

A contact texts STOP once. Then every path that can send is tried with every writing of the
number; exactly one message reaches the contact: the opt-out confirmation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from events.config import Settings
from events.contacts import wire_key
from events.dispatch import Dispatcher
from events.process import Processor
from events.services import build_dispatcher, build_processor
from storage.models import opt_out_audit, outbox, rule_decisions
from tests.conftest import drain, inbound_sms, make_client, post
from tests.fakes.membrane import FakeMembrane, Knobs
from tests.fakes.membrane_api import FakeApiServer

CONTACT = "+41791000011"
# Every writing of CONTACT people (and misbehaving clients) use; the last needs the region.
WRITINGS = [
    "+41791000011",
    "41791000011",
    "0041791000011",
    "+41 79 100 00 11",
    "+41-79-100-00-11",
    "+41.79.100.00.11",
    "(+41) 79 100 00 11",
    "+41 (0)79 100 00 11",
    "0041 (0) 79 100 00 11",
    "079 100 00 11",
]
OTHER = "41790000099"  # someone who did not opt out
OUR_NUMBER = "41793026731"
CATCH_ALL = """
[senders]
sms = "InfoSMS"
whatsapp = "41793026731"
[[rules]]
name = "thanks"
when = { kind = "inbound" }
do = [{ type = "reply", text = "Thanks, we got your message." }]
"""


@dataclass
class World:
    membrane: FakeMembrane
    settings: Settings
    engine: Engine
    client: Any
    processor: Processor
    dispatcher: Dispatcher
    tmp_path: Path
    env: dict[str, str]

    def to_contact(self) -> list[dict[str, Any]]:
        return [m for m in self.membrane.infobip.sent.values() if wire_key(str(m["to"])) == CONTACT]

    def run(self) -> None:
        drain(self.processor)
        self.dispatcher.run_once()

    def with_rules(self, rules: str) -> Processor:
        path = self.tmp_path / f"rules-{len(rules)}-{hash(rules) & 0xFFFF}.toml"
        path.write_text(rules)
        self.processor = build_processor(
            self.settings.model_copy(update={"rules_file": str(path)}), self.engine
        )
        return self.processor

    def stop(self) -> None:
        """The contact texts STOP (as Infobip writes its number) and is confirmed once."""
        post(self.client, "sms", inbound_sms("STOP", sender="41791000011", message_id="mo-stop"))
        self.run()
        [confirmation] = self.to_contact()
        assert "unsubscribed" in confirmation["text"]


@pytest.fixture
def world(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[World]:
    membrane = FakeMembrane(knobs=Knobs())
    with FakeApiServer(membrane) as server:
        env = {
            "INFOBIP_EVENTS_DATABASE_URL": db_url,
            "INFOBIP_EVENTS_DEFAULT_REGION": "CH",
            "INFOBIP_EVENTS_MEMBRANE_TRANSPORT": "http",
            "INFOBIP_EVENTS_MEMBRANE_API_URL": server.url,
            "INFOBIP_EVENTS_MEMBRANE_TOKEN": "pat-fake",
            "INFOBIP_EVENTS_MEMBRANE_CONNECTION_ID": "con_fake",
        }
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=db_url,
            sqlite_synchronous="NORMAL",
            default_region="CH",
            membrane_transport="http",
            membrane_api_url=server.url,
            membrane_token="pat-fake",
            membrane_connection_id="con_fake",
        )
        with make_client(settings, engine) as client:
            made = World(
                membrane,
                settings,
                engine,
                client,
                build_processor(settings, engine),
                build_dispatcher(settings, engine),
                tmp_path,
                env,
            )
            made.with_rules(CATCH_ALL)
            yield made
            made.dispatcher.stop(0)


def test_post_v1_send_refuses_every_writing_of_an_opted_out_number(world: World) -> None:
    world.stop()
    for writing in WRITINGS:
        for channel, extra in (("sms", {}), ("whatsapp", {"from": OUR_NUMBER}), ("voice", {})):
            body = {"channel": channel, "to": writing, "text": "promo", **extra}
            response = world.client.post("/v1/send", json=body)
            assert response.status_code == 409, (channel, writing, response.text)
    world.run()
    assert len(world.to_contact()) == 1
    assert (
        world.client.post(
            "/v1/send", json={"channel": "sms", "to": OTHER, "text": "hi"}
        ).status_code
        == 202
    )


def _as_a_shell(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """The service stopped, its settings in the environment: the CLI as an operator runs it."""
    world.stop()
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)


def test_cli_send_and_actions_run_refuse_every_writing(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from events.cli.main import main

    _as_a_shell(world, monkeypatch)
    for writing in WRITINGS:
        assert main(["send", "--channel", "sms", "--to", writing, "--text", "promo"]) == 1
        for key, extra in (
            ("send-sms-message", {"from": "InfoSMS"}),
            ("send-voice-message-tts", {"language": "en"}),
            ("send-whatsapp-text-message", {"from": OUR_NUMBER}),
            (
                "send-whatsapp-template-message",
                {"from": OUR_NUMBER, "templateName": "promo", "language": "en"},
            ),
            # A PIN goes to an opted-out number only within a verification of that number.
            ("send-tfa-pin-sms", {"applicationId": "app-1", "messageId": "tpl-1"}),
        ):
            values = json.dumps({"to": writing, "text": "promo", **extra})
            assert main(["actions", "run", key, "--input", values]) == 1, (key, writing)
    assert "opted out" in capsys.readouterr().err
    assert len(world.to_contact()) == 1


def test_actions_run_of_a_send_without_a_recipient_is_refused_before_it_is_queued(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from events.cli.main import main

    _as_a_shell(world, monkeypatch)
    count = select(func.count()).select_from(outbox)
    with world.engine.connect() as conn:
        before = conn.execute(count).scalar_one()  # the opt-out's confirmation
    values = json.dumps({"text": "promo", "from": "InfoSMS"})
    assert main(["actions", "run", "send-sms-message", "--input", values]) == 2
    assert "to: missing" in capsys.readouterr().err
    with world.engine.connect() as conn:
        assert conn.execute(count).scalar_one() == before


def test_rule_replies_to_an_opted_out_sender_in_any_writing_are_suppressed(world: World) -> None:
    world.stop()
    for index, writing in enumerate(WRITINGS):
        post(world.client, "sms", inbound_sms("hello", sender=writing, message_id=f"mo-{index}"))
    world.run()
    assert len(world.to_contact()) == 1
    with world.engine.connect() as conn:
        outcomes = conn.execute(
            select(rule_decisions.c.outcome, rule_decisions.c.contact).where(
                rule_decisions.c.rule == "thanks"
            )
        ).all()
    assert outcomes == [("suppressed", CONTACT)] * len(WRITINGS)


@pytest.mark.parametrize("writing", WRITINGS)
def test_rule_sends_and_catalogue_actions_to_a_fixed_writing_are_refused(
    world: World, writing: str
) -> None:
    world.stop()
    world.with_rules(
        f"""
[senders]
sms = "InfoSMS"
[[rules]]
name = "promo"
match = "all"
when = {{ kind = "inbound" }}
do = [{{ type = "send", channel = "sms", to = "{writing}", text = "promo" }}]
[[rules]]
name = "raw-action"
match = "all"
when = {{ kind = "inbound" }}
do = [{{ type = "action", key = "send-sms-message", input = {{ to = "{writing}", text = "x" }} }}]
"""
    )
    post(world.client, "sms", inbound_sms("hello", sender=OTHER, message_id="mo-other"))
    world.run()
    assert len(world.to_contact()) == 1
    with world.engine.connect() as conn:
        decided = dict(conn.execute(select(rule_decisions.c.rule, rule_decisions.c.outcome)).all())
    assert decided["promo"] == "suppressed" and decided["raw-action"] == "suppressed"


def test_a_whatsapp_fallback_to_sms_never_reaches_an_opted_out_number(world: World) -> None:
    sent = world.client.post(
        "/v1/send",
        # Forced: the person never wrote, so the WhatsApp window is closed; not under test here.
        json={"channel": "whatsapp", "to": CONTACT, "from": OUR_NUMBER, "text": "Shipped"}
        | {"force": True, "reason": "the fallback is under test"},
    ).json()
    world.dispatcher.run_once()  # before the opt-out: it goes
    [message_id] = world.client.get(f"/v1/actions/{sent['id']}").json()["message_ids"]
    world.with_rules(
        """
[senders]
sms = "InfoSMS"
[[rules]]
name = "fallback"
when = { channel = "whatsapp", kind = "delivery", state = "undeliverable" }
do = [{ type = "send", channel = "sms", text = "{original_text}" }]
"""
    )
    post(world.client, "sms", inbound_sms("STOP", sender="41791000011", message_id="mo-stop"))
    world.run()
    before = len(world.to_contact())  # the WhatsApp message and the confirmation
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "+0000")
    for writing in WRITINGS[:3]:  # as Infobip writes it, and two more
        report = {
            "results": [
                {
                    "messageId": message_id,
                    "to": writing,
                    "doneAt": now,
                    "status": {
                        "groupId": 2,
                        "groupName": "UNDELIVERABLE",
                        "id": 7,
                        "name": "UNDELIVERABLE_NOT_DELIVERED",
                    },
                }
            ]
        }
        post(world.client, "whatsapp", json.dumps(report).encode())
        world.run()
    assert len(world.to_contact()) == before == 2


def test_sends_queued_before_the_opt_out_and_deferred_ones_are_refused_when_due(
    world: World,
) -> None:
    world.with_rules(
        """
[[rules]]
name = "night"
quiet_hours = { start = "00:00", end = "00:00", tz = "Pacific/Auckland", mode = "defer" }
do = [{ type = "reply", text = "Good morning" }]
"""
    )
    for index, writing in enumerate(WRITINGS):
        assert (
            world.client.post(
                "/v1/send", json={"channel": "sms", "to": writing, "text": f"queued {index}"}
            ).status_code
            == 202
        )
        post(world.client, "sms", inbound_sms("hello", sender=writing, message_id=f"mo-{index}"))
    drain(world.processor)  # deferred replies wait in the outbox; nothing dispatched yet
    world.processor = build_processor(world.settings, world.engine)  # no rules: STOP only
    world.stop()
    with world.engine.begin() as conn:  # time passes: the deferred replies fall due
        conn.execute(outbox.update().values(next_attempt_at=datetime.now(UTC)))
    world.dispatcher.run_once()
    world.dispatcher.run_once()
    assert len(world.to_contact()) == 1
    with world.engine.connect() as conn:
        states = conn.execute(select(outbox.c.state, outbox.c.last_error)).all()
        refused = conn.execute(
            select(opt_out_audit).where(opt_out_audit.c.action == "refused")
        ).all()
    assert sum(1 for s, e in states if s == "failed" and e.startswith("suppressed")) == 2 * len(
        WRITINGS
    )
    assert {r.contact for r in refused} == {CONTACT}


def test_an_sms_opt_out_holds_on_whatsapp_in_the_contact_scope_but_not_in_the_channel_scope(
    world: World,
) -> None:
    world.stop()
    body = {"channel": "whatsapp", "to": CONTACT, "from": OUR_NUMBER, "text": "hi"}
    body |= {"force": True, "reason": "the scope is under test, not the WhatsApp window"}
    assert world.client.post("/v1/send", json=body).status_code == 409
    listed = world.client.get("/v1/opt-outs").json()["items"]
    assert listed[0]["scope"] == "contact" and "whatsapp" in listed[0]["applies_to"]
    channel_scoped = world.settings.model_copy(update={"optout_scope": "channel"})
    with make_client(channel_scoped, world.engine) as client:
        assert client.post("/v1/send", json=body).status_code == 202
        assert client.get("/v1/opt-outs").json()["items"][0]["scope"] == "channel"


def test_start_on_any_phone_channel_lifts_the_contact_scoped_opt_out(world: World) -> None:
    world.stop()
    whatsapp_start = {
        "results": [
            {
                "from": "41791000011",
                "to": OUR_NUMBER,
                "integrationType": "WHATSAPP",
                "receivedAt": "2026-11-27T10:00:00.000+0000",
                "messageId": "wa-start",
                "message": {"text": "START", "type": "TEXT"},
            }
        ]
    }
    post(world.client, "whatsapp", json.dumps(whatsapp_start).encode())
    world.run()
    body = {"channel": "sms", "to": "0041 79 100 00 11", "text": "welcome back"}
    assert world.client.post("/v1/send", json=body).status_code == 202


def test_numbers_that_cannot_be_read_are_refused_with_the_field_named(
    world: World, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from events.cli.main import main

    for bad in ("12", "079 100", "not-a-number", "+99 123"):
        response = world.client.post("/v1/send", json={"channel": "sms", "to": bad, "text": "x"})
        assert response.status_code == 422 and response.json()["field"] == "to", bad
    no_region = world.settings.model_copy(update={"default_region": None})
    with make_client(no_region, world.engine) as client:
        response = client.post(
            "/v1/send", json={"channel": "sms", "to": "079 100 00 11", "text": "x"}
        )
        assert response.status_code == 422 and "DEFAULT_REGION" in response.json()["error"]
    for name, value in world.env.items():
        monkeypatch.setenv(name, value)
    assert main(["send", "--channel", "sms", "--to", "12", "--text", "x"]) == 2
    assert "not a possible phone number" in capsys.readouterr().err
    assert main(["optouts", "add", "12"]) == 2
    with world.engine.connect() as conn:
        assert conn.execute(select(outbox)).all() == []


def test_a_rule_reply_to_a_sender_that_is_not_a_number_is_recorded_failed(world: World) -> None:
    post(world.client, "sms", inbound_sms("hello", sender="12", message_id="mo-short"))
    world.run()
    with world.engine.connect() as conn:
        [decision] = conn.execute(select(rule_decisions)).all()
        queued = conn.execute(select(outbox)).all()
    assert decision.outcome == "failed" and "not a possible phone number" in decision.reason
    assert queued == []
