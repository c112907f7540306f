"""WhatsApp's 24-hour window, end to end on SQLite and PostgreSQL: the real WhatsApp inbound
fixture (its receivedAt moved to the time the test needs) -> processor (sessions, rules,
compliance) -> outbox -> dispatcher -> the fake Membrane; the sessions API; POST /v1/send and
`infobip-events send`; `rules test` and `rules replay`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from events.cli.main import main
from events.dispatch import Dispatcher
from events.membrane.catalogue import ACTIONS
from events.membrane.http_transport import HttpClient
from storage.db import write_transaction
from storage.models import opt_out_audit
from storage.queries.raw import insert_raw, raw_row
from storage.queries.sessions import record_inbound, session_at
from tests.conftest import FIXTURES, drain, fixture_bytes, inbound_sms, post
from tests.fakes.membrane import FakeMembrane, Knobs
from tests.fakes.membrane_api import FakeApiServer
from tests.rules.test_rules_pipeline import actions, decisions, processor_with

CONTACT = "385919998888"  # who writes in tests/fixtures/whatsapp/inbound_text.json
OURS = "41793026731"  # our WhatsApp sender there
TEXT = "send-whatsapp-text-message"
TEMPLATE = "send-whatsapp-template-message"


def whatsapp_inbound(
    received: datetime, text: str = "Hello, World!", message_id: str = "wa-1"
) -> bytes:
    doc = json.loads(fixture_bytes("whatsapp/inbound_text.json"))
    item = doc["results"][0]
    item["receivedAt"] = received.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    item["messageId"] = message_id
    item["message"]["text"] = text
    return json.dumps(doc).encode()


@pytest.fixture
def fake() -> Iterator[tuple[FakeMembrane, str]]:
    membrane = FakeMembrane(knobs=Knobs())
    with FakeApiServer(membrane) as server:
        yield membrane, server.url


def dispatcher(engine: Engine, url: str, at: datetime | None = None) -> Dispatcher:
    client = HttpClient(url, "con_fake", token="pat-fake", timeout=5.0)
    clock = (lambda: at) if at is not None else (lambda: datetime.now(UTC))
    return Dispatcher(engine, client, dict(ACTIONS), clock=clock)


def runs(membrane: FakeMembrane) -> list[tuple[str, dict[str, Any]]]:
    return [(key, values) for key, values in membrane.runs if key.startswith("send-")]


def one_inbound(
    client: Any, engine: Engine, tmp_path: Path, url: str, rules: str, hours_ago: float
) -> None:
    """A WhatsApp message received `hours_ago`, processed with `rules`, what it queued sent."""
    processor = processor_with(engine, tmp_path, rules)
    post(client, "whatsapp", whatsapp_inbound(datetime.now(UTC) - timedelta(hours=hours_ago)))
    drain(processor)
    dispatcher(engine, url).run_once()


REPLY_WITH_TEMPLATE = """
[[rules]]
name = "hello"
when = { channel = "whatsapp", kind = "inbound" }

[[rules.do]]
type = "reply"
text = "Hi, about {text}"
template = { name = "follow_up", language = "es", placeholders = ["{text}", "fixed"] }
"""

REPLY_ELSE_SMS = """
[senders]
sms = "InfoSMS"

[[rules]]
name = "hello"
when = { channel = "whatsapp", kind = "inbound" }
do = [{ type = "reply", text = "Hi" }]
else = [{ type = "send", channel = "sms", text = "We saw your WhatsApp message: {text}" }]
"""


def test_inside_the_window_a_whatsapp_reply_goes_as_text(
    client: Any, engine: Engine, tmp_path: Path, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    one_inbound(client, engine, tmp_path, url, REPLY_WITH_TEMPLATE, hours_ago=1)
    [(key, values)] = runs(membrane)
    assert key == TEXT and values["text"] == "Hi, about Hello, World!"
    [decision] = decisions(engine)
    assert decision.outcome == "fired"
    assert "session open until" in decision.actions[0]["summary"]


def test_outside_the_window_the_rules_template_goes_with_its_placeholders(
    client: Any, engine: Engine, tmp_path: Path, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    # A message received 25 hours ago (a late redelivery): its window is already closed.
    one_inbound(client, engine, tmp_path, url, REPLY_WITH_TEMPLATE, hours_ago=25)
    [(key, values)] = runs(membrane)
    assert key == TEMPLATE
    assert values["templateName"] == "follow_up" and values["language"] == "es"
    assert values["placeholders"] == ["Hello, World!", "fixed"]
    [decision] = decisions(engine)
    assert decision.outcome == "fired"
    assert "outside the WhatsApp 24-hour window" in decision.actions[0]["summary"]


def test_outside_the_window_without_a_template_the_rule_is_skipped_and_else_sends_sms(
    client: Any, engine: Engine, tmp_path: Path, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    one_inbound(client, engine, tmp_path, url, REPLY_ELSE_SMS, hours_ago=30)
    [(key, values)] = runs(membrane)
    assert (
        key == "send-sms-message"
        and values["text"] == "We saw your WhatsApp message: Hello, World!"
    )
    [decision] = decisions(engine)
    assert decision.outcome == "skipped"
    assert decision.reason.startswith("outside the WhatsApp 24-hour window")
    assert "else: fired" in decision.reason
    assert [a["channel"] for a in decision.actions] == ["sms"]


def test_inside_the_window_the_else_actions_do_not_run(
    client: Any, engine: Engine, tmp_path: Path, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    one_inbound(client, engine, tmp_path, url, REPLY_ELSE_SMS, hours_ago=0.08333333333333333)
    assert [key for key, _ in runs(membrane)] == [TEXT]


def test_a_redelivered_or_reconciled_older_inbound_never_moves_the_session_later(
    client: Any, engine: Engine, tmp_path: Path
) -> None:
    processor = processor_with(engine, tmp_path, "")
    recent = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    post(client, "whatsapp", whatsapp_inbound(recent, message_id="wa-new"))
    drain(processor)
    # The same message again, and an older one that a reconciliation finds late.
    post(client, "whatsapp", whatsapp_inbound(recent, message_id="wa-new"))
    post(client, "whatsapp", whatsapp_inbound(recent - timedelta(hours=20), message_id="wa-old"))
    drain(processor)
    [session] = client.get(f"/v1/contacts/{CONTACT}").json()["sessions"]
    assert session["channel"] == "whatsapp" and session["sender"] == OURS
    assert datetime.fromisoformat(session["last_inbound_at"]) == recent
    assert datetime.fromisoformat(session["closes_at"]) == recent + timedelta(hours=24)
    assert session["open"] is True and session["message_id"] == "wa-new"


def reconciled_whatsapp_inbound(engine: Engine, received: datetime, message_id: str) -> str:
    """A Messages API pull response holding one WhatsApp inbound, stored as the reconciler
    stores what it pulls (events/reconcile.py): source reconcile, then processed by id."""
    doc = json.loads(fixture_bytes("messages-api/mo_text_with_keyword.json"))
    item = doc["results"][0]
    item |= {"channel": "WHATSAPP", "sender": CONTACT, "destination": OURS}
    item["receivedAt"] = received.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
    item["messageId"] = message_id
    row = raw_row(
        channel="messages-api",
        body=json.dumps(doc).encode(),
        content_type="application/json",
        headers={},
        remote_addr=None,
        inbound=True,
        source="reconcile",
        received_at=datetime.now(UTC),
    )
    with write_transaction(engine) as conn:
        insert_raw(conn, [row])
    return str(row["id"])


def test_a_reconciled_inbound_moves_the_session_only_when_it_is_later(
    client: Any, engine: Engine, tmp_path: Path
) -> None:
    processor = processor_with(engine, tmp_path, "")
    now = datetime.now(UTC).replace(microsecond=0)
    post(client, "whatsapp", whatsapp_inbound(now - timedelta(hours=1), message_id="wa-hook"))
    drain(processor)
    older = reconciled_whatsapp_inbound(engine, now - timedelta(hours=10), "wa-pulled-old")
    processor.process_ids([older])

    def last() -> datetime:
        [session] = client.get(f"/v1/contacts/{CONTACT}").json()["sessions"]
        return datetime.fromisoformat(session["last_inbound_at"])

    assert last() == now - timedelta(hours=1)
    newer = reconciled_whatsapp_inbound(engine, now - timedelta(minutes=10), "wa-pulled-new")
    processor.process_ids([newer])
    assert last() == now - timedelta(minutes=10)


def test_the_session_upsert_keeps_the_latest_time_whatever_the_order(engine: Engine) -> None:
    base = datetime(2026, 1, 1, 12, tzinfo=UTC)

    def row(at: datetime, message_id: str) -> Any:
        return {
            "contact": "+" + CONTACT,
            "channel": "whatsapp",
            "sender": "+" + OURS,
            "last_inbound_at": at,
            "message_id": message_id,
            "updated_at": base,
        }

    with write_transaction(engine) as conn:
        record_inbound(conn, [row(base, "a"), row(base - timedelta(hours=1), "b")])
        record_inbound(conn, [row(base - timedelta(hours=3), "c")])
    with engine.connect() as conn:
        assert session_at(conn, "+" + CONTACT, "whatsapp", "+" + OURS) == base
    with write_transaction(engine) as conn:
        record_inbound(conn, [row(base + timedelta(minutes=1), "d")])
    with engine.connect() as conn:
        assert session_at(conn, "+" + CONTACT, "whatsapp", "+" + OURS) == base + timedelta(
            minutes=1
        )


def test_the_sessions_api_says_which_field_is_wrong(client: Any) -> None:
    answer = client.get("/v1/contacts/12")
    assert answer.status_code == 422 and answer.json()["field"] == "contact"
    assert client.get(f"/v1/contacts/{CONTACT}").json() == {
        "contact": "+" + CONTACT,
        "sessions": [],
    }


def quiet_rule(now: datetime, template: bool) -> str:
    """Quiet hours from an hour ago to three hours on (UTC): a reply is deferred 2-3 hours."""
    start, end = (now.hour - 1) % 24, (now.hour + 3) % 24
    extra = ', template = { name = "morning", language = "en" }' if template else ""
    return f"""
[[rules]]
name = "later"
when = {{ channel = "whatsapp", kind = "inbound" }}
quiet_hours = {{ start = "{start:02d}:00", end = "{end:02d}:00", tz = "UTC" }}
do = [{{ type = "reply", text = "Good morning"{extra} }}]
"""


@pytest.mark.parametrize("template", [True, False], ids=["template", "no-template"])
def test_a_send_deferred_by_quiet_hours_past_the_windows_end_is_checked_when_due(
    client: Any,
    engine: Engine,
    tmp_path: Path,
    fake: tuple[FakeMembrane, str],
    template: bool,
) -> None:
    membrane, url = fake
    now = datetime.now(UTC)
    processor = processor_with(engine, tmp_path, quiet_rule(now, template))
    # The window closes in an hour; the quiet hours end two to three hours from now.
    post(client, "whatsapp", whatsapp_inbound(now - timedelta(hours=23)))
    drain(processor)
    [decision] = decisions(engine)
    assert decision.outcome == "deferred"
    assert "the WhatsApp window closes before then" in decision.reason
    [action] = actions(engine)
    dispatcher(engine, url, decision.not_before + timedelta(minutes=1)).run_once()
    [done] = [a for a in actions(engine) if a.id == action.id]
    if template:
        assert [key for key, _ in runs(membrane)] == [TEMPLATE]
        assert done.state == "done" and done.action == TEMPLATE
    else:
        assert runs(membrane) == []
        assert done.state == "failed"
        assert "outside the WhatsApp 24-hour window" in done.last_error


def test_a_deferred_send_goes_as_text_when_the_person_wrote_again_before_it_fell_due(
    client: Any, engine: Engine, tmp_path: Path, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    now = datetime.now(UTC)
    processor = processor_with(engine, tmp_path, quiet_rule(now, template=True))
    post(client, "whatsapp", whatsapp_inbound(now - timedelta(hours=23), message_id="wa-1"))
    post(client, "whatsapp", whatsapp_inbound(now, text="still there?", message_id="wa-2"))
    drain(processor)
    due = max(d.not_before for d in decisions(engine))
    dispatcher(engine, url, due + timedelta(minutes=1)).run_once()
    assert [key for key, _ in runs(membrane)] == [TEXT, TEXT]


COMPLIANCE_TEXTS = """
[compliance.texts.es]
opt_out = "Te has dado de baja. Escribe ALTA para volver."
help = "Ayuda: escribe BAJA para no recibir más mensajes."

[compliance.texts.fr]
opt_out = "Vous êtes désinscrit."
"""


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("BAJA", "Te has dado de baja. Escribe ALTA para volver."),
        ("AYUDA", "Ayuda: escribe BAJA para no recibir más mensajes."),
        ("Arrêt", "Vous êtes désinscrit."),
        ("STOP", None),  # no language told: the settings' (English) confirmation
    ],
)
def test_confirmations_and_help_are_in_the_language_the_reader_recognised(
    client: Any,
    engine: Engine,
    tmp_path: Path,
    fake: tuple[FakeMembrane, str],
    words: str,
    expected: str | None,
) -> None:
    membrane, url = fake
    processor = processor_with(engine, tmp_path, COMPLIANCE_TEXTS)
    post(client, "whatsapp", whatsapp_inbound(datetime.now(UTC), text=words))
    drain(processor)
    dispatcher(engine, url).run_once()
    [(key, values)] = runs(membrane)
    assert key == TEXT
    if expected is None:
        assert values["text"] == processor.compliance.opt_out_text  # type: ignore[union-attr]
    else:
        assert values["text"] == expected


TEXT_TABLE = """
[[rules]]
name = "thanks"
when = { channel = "sms", kind = "inbound" }

[[rules.do]]
type = "reply"
text.en = "Thanks, we got it."
text.es = "Gracias, lo recibimos."
text.pt = "Obrigado, recebemos."
"""


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("Hola, quiero saber el precio", "Gracias, lo recibimos."),
        ("Olá, obrigado pelo pedido", "Obrigado, recebemos."),
        ("Hello, what is the price", "Thanks, we got it."),
        ("Bonjour, je voudrais un rendez-vous", "Thanks, we got it."),  # no fr: the first
        ("12345", "Thanks, we got it."),
    ],
)
def test_a_rule_text_table_answers_in_the_language_of_the_message(
    client: Any,
    engine: Engine,
    tmp_path: Path,
    fake: tuple[FakeMembrane, str],
    said: str,
    expected: str,
) -> None:
    membrane, url = fake
    processor = processor_with(engine, tmp_path, TEXT_TABLE)
    post(client, "sms", inbound_sms(said))
    drain(processor)
    dispatcher(engine, url).run_once()
    [(_, values)] = runs(membrane)
    assert values["text"] == expected


SEND = {"channel": "whatsapp", "to": CONTACT, "from": OURS, "text": "Your order shipped"}


def test_api_send_refuses_whatsapp_text_outside_the_window(client: Any, engine: Engine) -> None:
    answer = client.post("/v1/send", json=SEND)
    assert answer.status_code == 422
    assert "outside the WhatsApp 24-hour window" in answer.json()["error"]
    assert answer.json()["field"] == "text"
    assert actions(engine) == []


def test_api_send_takes_a_template_outside_the_window(client: Any, engine: Engine) -> None:
    body = {**SEND, "text": None, "template": "shipped", "language": "en", "placeholders": ["7"]}
    answer = client.post("/v1/send", json=body)
    assert answer.status_code == 202 and answer.json()["action"] == TEMPLATE


def test_api_send_forced_outside_the_window_needs_a_reason_and_is_audited(
    client: Any, engine: Engine
) -> None:
    assert client.post("/v1/send", json={**SEND, "force": True}).status_code == 400
    answer = client.post("/v1/send", json={**SEND, "force": True, "reason": "agreed by phone"})
    assert answer.status_code == 202
    with engine.connect() as conn:
        [audit] = list(conn.execute(select(opt_out_audit)))
    assert audit.action == "forced" and audit.source == "api"
    assert audit.contact == "+" + CONTACT and "agreed by phone" in audit.words


def test_api_send_text_inside_the_window_is_queued(
    client: Any, engine: Engine, tmp_path: Path
) -> None:
    post(client, "whatsapp", whatsapp_inbound(datetime.now(UTC) - timedelta(hours=3)))
    drain(processor_with(engine, tmp_path, ""))
    answer = client.post("/v1/send", json=SEND)
    assert answer.status_code == 202 and answer.json()["action"] == TEXT


def test_cli_send_refuses_whatsapp_text_outside_the_window_unless_forced(
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("INFOBIP_EVENTS_DATABASE_URL", db_url)
    monkeypatch.setenv("INFOBIP_EVENTS_LOG_FORMAT", "json")
    argv = ["send", "--channel", "whatsapp", "--to", CONTACT, "--from", OURS, "--text", "hi"]
    assert main([*argv, "--queue-only"]) == 1
    assert "outside the WhatsApp 24-hour window" in capsys.readouterr().err
    assert main([*argv, "--queue-only", "--force", "--reason", "the customer asked"]) == 0
    with engine.connect() as conn:
        [audit] = list(conn.execute(select(opt_out_audit)))
    assert audit.source == "cli" and "the customer asked" in audit.words


def test_rules_test_shows_the_window_open_then_closed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(REPLY_ELSE_SMS)
    payload = str(FIXTURES / "whatsapp" / "inbound_text.json")
    assert main(["rules", "test", str(rules), payload, "--channel", "whatsapp"]) == 0
    out = capsys.readouterr().out
    assert "WhatsApp session: open until 2025-01-02T10:10:00+00:00" in out
    assert "hello: fired" in out
    later = ["--at", "2025-01-03T09:00:00Z"]
    assert main(["rules", "test", str(rules), payload, "--channel", "whatsapp", *later]) == 0
    out = capsys.readouterr().out
    assert "WhatsApp session: closed at 2025-01-02T10:10:00+00:00" in out
    assert "hello: skipped (outside the WhatsApp 24-hour window" in out and "sms to" in out


def test_rules_test_last_inbound_opens_the_window_for_a_delivery_report_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[senders]\nwhatsapp = "41793026731"\n[[rules]]\nname = "follow"\n'
        'when = { channel = "whatsapp", kind = "delivery", session_open = true }\n'
        'do = [{ type = "send", channel = "whatsapp", text = "Delivered!" }]\n'
    )
    payload = str(FIXTURES / "whatsapp" / "dlr_delivered.json")
    args = ["rules", "test", str(rules), payload, "--channel", "whatsapp"]
    assert main(args) == 0
    assert "no rule matches" in capsys.readouterr().out
    assert main([*args, "--last-inbound", "2h"]) == 0
    out = capsys.readouterr().out
    assert "WhatsApp session: open until" in out and "follow: fired" in out


def test_rules_replay_shows_the_window_in_its_explanations(
    client: Any,
    engine: Engine,
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    processor = processor_with(engine, tmp_path, "")
    post(client, "whatsapp", whatsapp_inbound(datetime.now(UTC) - timedelta(hours=1)))
    post(
        client,
        "whatsapp",
        whatsapp_inbound(datetime.now(UTC) - timedelta(hours=48), message_id="wa-old"),
    )
    drain(processor)
    candidate = tmp_path / "candidate.toml"
    candidate.write_text(REPLY_ELSE_SMS)
    monkeypatch.setenv("INFOBIP_EVENTS_DATABASE_URL", db_url)
    assert main(["rules", "replay", str(candidate), "--since", "7d", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    sessions = [entry["session"] for entry in report["changed"]]
    assert len(sessions) == 2
    assert all(s.startswith("WhatsApp session: open until") for s in sessions)
