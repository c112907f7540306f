"""Rules end to end, on SQLite and PostgreSQL: webhook -> processor (rules, outbox) ->
dispatcher -> the fake Membrane; explain in the read API; replay is read-only."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from events.config import Settings
from events.dispatch import Dispatcher
from events.membrane.catalogue import ACTIONS
from events.membrane.http_transport import HttpClient
from events.process import Processor
from events.rules.load import load_rules
from events.rules.simulate import replay
from events.services import build_compliance, build_processor
from storage.models import metadata, outbox, raw_webhooks, rule_decisions
from tests.conftest import drain, inbound_sms, post
from tests.fakes.membrane import FakeMembrane, Knobs
from tests.fakes.membrane_api import FakeApiServer

SECRET = "forward-secret-0123"


def processor_with(engine: Engine, tmp_path: Path, rules: str, **settings: Any) -> Processor:
    path = tmp_path / "rules.toml"
    path.write_text(rules)
    made = Settings(
        _env_file=None,  # type: ignore[call-arg]
        rules_file=str(path),
        forward_hmac_secret=SECRET,
        **settings,
    )
    return build_processor(made, engine)


@pytest.fixture
def fake() -> Iterator[tuple[FakeMembrane, str]]:
    membrane = FakeMembrane(knobs=Knobs())
    with FakeApiServer(membrane) as server:
        yield membrane, server.url


def dispatcher_for(engine: Engine, url: str) -> Dispatcher:
    client = HttpClient(url, "con_fake", token="pat-fake", timeout=5.0)
    return Dispatcher(engine, client, dict(ACTIONS), forward_secret=SECRET)


def sent_to(membrane: FakeMembrane, number: str) -> list[dict[str, Any]]:
    return [m for m in membrane.infobip.sent.values() if str(m.get("to")) == number]


def decisions(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(rule_decisions).order_by(rule_decisions.c.id)))


def actions(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(outbox).order_by(outbox.c.created_at, outbox.c.id)))


PRICES = """
[[rules]]
name = "prices"
when = { channel = "sms", kind = "inbound", first_word = ["price"] }
do = [
  { type = "reply", text = "Prices: https://example.com/p ({keyword})" },
  { type = "tag", tags = ["asked-prices"] },
]

[[rules]]
name = "thanks"
when = { kind = "inbound" }
do = [{ type = "reply", text = "Thanks, we got your message." }]
"""


def test_a_keyword_reply_goes_out_through_membrane_and_is_explained(
    client: Any, engine: Engine, tmp_path: Path, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    processor = processor_with(engine, tmp_path, PRICES)
    post(client, "sms", inbound_sms("Ｐrice?"))
    drain(processor)
    dispatcher_for(engine, url).run_once()
    [reply] = sent_to(membrane, "385916242493")
    assert reply["text"] == "Prices: https://example.com/p (PRICE)"
    assert reply["from"] == "385921004026"  # from the number that was written to

    message = client.get("/v1/messages/mo-1").json()
    assert message["tags"] == ["asked-prices"]
    [event] = message["events"]
    [decision] = event["decisions"]
    assert decision["rule"] == "prices" and decision["outcome"] == "fired"
    assert [a["type"] for a in decision["actions"]] == ["reply", "tag"]
    action_id = decision["actions"][0]["action_id"]
    assert client.get(f"/v1/actions/{action_id}").json()["state"] == "done"
    assert client.get(f"/v1/events/{event['id']}").json()["decisions"] == [decision]
    listed = client.get("/v1/events", params={"kind": "inbound"}).json()["items"]
    assert listed[0]["decisions"][0]["rule"] == "prices"


def test_stop_opts_out_confirms_once_and_later_rules_and_the_api_are_refused(
    client: Any, engine: Engine, tmp_path: Path, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    processor = processor_with(engine, tmp_path, PRICES)
    dispatcher = dispatcher_for(engine, url)
    post(client, "sms", inbound_sms("STOP"))
    post(client, "sms", inbound_sms("STOP"))  # redelivered
    drain(processor)
    dispatcher.run_once()
    [confirmation] = sent_to(membrane, "385916242493")
    assert "unsubscribed" in confirmation["text"]  # and no "Thanks" for a STOP

    post(client, "sms", inbound_sms("price?", message_id="mo-2"))
    drain(processor)
    dispatcher.run_once()
    assert len(sent_to(membrane, "385916242493")) == 1
    later = client.get("/v1/messages/mo-2").json()["events"][0]["decisions"]
    assert [(d["rule"], d["outcome"]) for d in later] == [("prices", "suppressed")]
    assert "opted out" in later[0]["reason"]
    first = client.get("/v1/messages/mo-1").json()["events"][0]["decisions"]
    assert [(d["rule"], d["outcome"]) for d in first] == [("compliance:opt_out", "fired")]

    refused = client.post("/v1/send", json={"channel": "sms", "to": "385916242493", "text": "x"})
    assert refused.status_code == 409


def test_two_auto_responders_replying_to_each_other_stop_within_the_cap(
    client: Any, engine: Engine, tmp_path: Path, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    bot = "385919990000"
    processor = processor_with(engine, tmp_path, PRICES)
    dispatcher = dispatcher_for(engine, url)
    post(client, "sms", inbound_sms("Hi, I am away until Monday.", sender=bot, message_id="bot-0"))
    for round_ in range(1, 40):
        drain(processor)
        dispatcher.run_once()
        ours = len(sent_to(membrane, bot))
        if ours < round_:
            break  # we did not answer: the loop is broken
        # Their auto-responder answers each of our replies.
        post(
            client,
            "sms",
            inbound_sms("Hi, I am away until Monday.", sender=bot, message_id=f"bot-{round_}"),
        )
    assert len(sent_to(membrane, bot)) == 20  # the default identical-message cap, 20 in 5m
    last = decisions(engine)[-1]
    assert last.outcome == "skipped" and "identical-message cap" in last.reason


def test_an_event_never_fires_a_rule_twice_on_redelivery_or_replay(
    client: Any, engine: Engine, tmp_path: Path
) -> None:
    processor = processor_with(engine, tmp_path, PRICES)
    for _ in range(3):
        post(client, "sms", inbound_sms("price"))
    drain(processor)
    with engine.connect() as conn:
        raw_ids = [r.id for r in conn.execute(select(raw_webhooks.c.id))]
    processor.process_ids(raw_ids)  # `infobip-events replay --all`
    assert [(d.rule, d.outcome) for d in decisions(engine)] == [("prices", "fired")]
    assert len(actions(engine)) == 1


def test_a_whatsapp_message_that_ends_undeliverable_is_sent_again_as_sms(
    client: Any, engine: Engine, tmp_path: Path, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    rules = """
[senders]
sms = "InfoSMS"
[[rules]]
name = "fallback"
when = { channel = "whatsapp", kind = "delivery", state = "undeliverable", max_age = "1h" }
do = [{ type = "send", channel = "sms", text = "{original_text}" }]
"""
    processor = processor_with(engine, tmp_path, rules)
    dispatcher = dispatcher_for(engine, url)
    sent = client.post(
        "/v1/send",
        json={
            "channel": "whatsapp",
            "to": "41793026731",
            "from": "447860099299",
            "text": "Your order has shipped",
            # Not what this test is about: the person never wrote, so the window is closed.
            "force": True,
            "reason": "the fallback is under test, not the window",
        },
    ).json()
    dispatcher.run_once()
    action = client.get(f"/v1/actions/{sent['id']}").json()
    [message_id] = action["message_ids"]
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "+0000")
    report = {
        "results": [
            {
                "messageId": message_id,
                "to": "41793026731",
                "sentAt": now,
                "doneAt": now,
                "status": {
                    "id": 7,
                    "groupId": 2,
                    "groupName": "UNDELIVERABLE",
                    "name": "UNDELIVERABLE_NOT_DELIVERED",
                    "description": "Not delivered",
                },
                "error": {
                    "id": 1,
                    "name": "EC_UNKNOWN_SUBSCRIBER",
                    "groupId": 1,
                    "groupName": "HANDSET_ERRORS",
                    "permanent": True,
                },
            }
        ]
    }
    post(client, "whatsapp", json.dumps(report).encode())
    drain(processor)
    dispatcher.run_once()
    sms = [m for m in sent_to(membrane, "41793026731") if m["channel"] == "sms"]
    assert [(m["text"], m["from"]) for m in sms] == [("Your order has shipped", "InfoSMS")]
    [decision] = decisions(engine)
    assert decision.rule == "fallback" and decision.outcome == "fired"


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[type[_Hook], str]]:
    handler = type("Hook", (_Hook,), {"received": [], "status": 200})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


def test_forward_posts_the_event_signed_through_the_outbox_with_retries(
    client: Any,
    engine: Engine,
    tmp_path: Path,
    hook: tuple[type[_Hook], str],
    fake: tuple[FakeMembrane, str],
) -> None:
    handler, url = hook
    rules = f"""
[[rules]]
name = "alert"
when = {{ kind = "inbound" }}
do = [{{ type = "forward", url = "{url}" }}]
"""
    processor = processor_with(engine, tmp_path, rules)
    dispatcher = dispatcher_for(engine, fake[1])
    handler.status = 503  # the receiver is down at first
    post(client, "sms", inbound_sms("hello"))
    drain(processor)
    dispatcher.run_once()
    [first] = actions(engine)
    assert first.state == "pending" and first.attempts == 1 and "503" in first.last_error
    handler.status = 200
    with engine.begin() as conn:
        conn.execute(outbox.update().values(next_attempt_at=datetime.now(UTC)))
    dispatcher.run_once()
    assert actions(engine)[0].state == "done"
    headers, body = handler.received[-1]
    stamp = headers["X-Infobip-Events-Timestamp"]
    expected = hmac.new(SECRET.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    assert headers["X-Infobip-Events-Signature"] == "sha256=" + expected.hexdigest()
    event = json.loads(body)
    assert event["text"] == "hello" and event["sender"] == "385916242493"


def test_quiet_hours_defer_the_action_in_the_outbox(
    client: Any, engine: Engine, tmp_path: Path
) -> None:
    rules = """
[[rules]]
name = "night"
quiet_hours = { start = "00:00", end = "00:00", tz = "Pacific/Auckland", mode = "defer" }
do = [{ type = "reply", text = "Good morning" }]
"""
    processor = processor_with(engine, tmp_path, rules)
    post(client, "sms", inbound_sms("hello"))
    drain(processor)
    [decision] = decisions(engine)
    assert decision.outcome == "deferred" and "Pacific/Auckland" in decision.reason
    [action] = actions(engine)
    assert action.next_attempt_at == decision.not_before > datetime.now(UTC)


def test_counts_of_what_a_contact_sent_come_from_the_database(
    client: Any, engine: Engine, tmp_path: Path
) -> None:
    rules = """
[[rules]]
name = "insistent"
when = { kind = "inbound", count = { kind = "inbound", within = "1h", at_least = 3 } }
do = [{ type = "tag", tags = ["needs-a-person"] }]
"""
    processor = processor_with(engine, tmp_path, rules)
    for i in range(4):
        post(client, "sms", inbound_sms(f"hello {i}", message_id=f"mo-{i}"))
        drain(processor)
    tagged = [client.get(f"/v1/messages/mo-{i}").json()["tags"] for i in range(4)]
    assert tagged == [[], [], ["needs-a-person"], ["needs-a-person"]]


def _snapshot(engine: Engine) -> str:
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def test_replaying_a_rules_file_is_read_only_and_compares_with_what_was_decided(
    client: Any, engine: Engine, tmp_path: Path
) -> None:
    processor = processor_with(engine, tmp_path, PRICES)
    post(client, "sms", inbound_sms("price", message_id="mo-1"))
    post(client, "sms", inbound_sms("hello", message_id="mo-2", sender="385910000001"))
    post(client, "sms", inbound_sms("STOP", message_id="mo-3", sender="385910000002"))
    post(client, "sms", inbound_sms("hello again", message_id="mo-4", sender="385910000002"))
    drain(processor)
    candidate = tmp_path / "candidate.toml"
    candidate.write_text(
        '[[rules]]\nname = "prices-v2"\nwhen = { first_word = ["price"] }\n'
        'do = [{ type = "reply", text = "New prices" }]\n'
    )
    before = _snapshot(engine)
    compliance = build_compliance(Settings(_env_file=None))  # type: ignore[call-arg]
    report = replay(
        engine, load_rules(candidate), datetime(2000, 1, 1, tzinfo=UTC), compliance=compliance
    )
    assert _snapshot(engine) == before
    assert report.events == 4
    assert report.would_send == 1 and report.did_send == 2  # prices + thanks; not the opted-out
    changed = {e.event_id: e for e in report.entries if e.differs}
    texts = {
        e.text: ([d.rule for d in e.would], [d["rule"] for d in e.did]) for e in changed.values()
    }
    assert texts == {
        "price": (["prices-v2"], ["prices"]),
        "hello": ([], ["thanks"]),
        "hello again": ([], ["thanks"]),  # suppressed then, and nothing would match now
    }


def test_rules_can_opt_a_contact_out_and_run_any_catalogue_action(
    client: Any, engine: Engine, tmp_path: Path
) -> None:
    rules = """
[[rules]]
name = "leave"
when = { kind = "inbound", contains = ["unfollow"] }
do = [
  { type = "opt_out" },
  { type = "action", key = "get-sms-message-logs", input = { message_id = "{message_id}" } },
]
"""
    processor = processor_with(engine, tmp_path, rules)
    # Not "leave me alone": the opt-out reader now reads that itself (probably an opt-out, for a
    # person to confirm), and the rules leave what compliance reads to compliance.
    post(client, "sms", inbound_sms("Please UNFOLLOW!"))
    drain(processor)
    state = client.get("/v1/opt-outs", params={"channel": "sms", "contact": "385916242493"}).json()
    assert state["opted_out"] is True
    assert [(h["action"], h["source"]) for h in state["history"]] == [("opt_out", "rule:leave")]
    [action] = actions(engine)
    assert action.action == "get-sms-message-logs" and action.input == {"message_id": "mo-1"}
    refused = client.post("/v1/send", json={"channel": "sms", "to": "385916242493", "text": "x"})
    assert refused.status_code == 409
