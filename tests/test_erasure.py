"""Erasure: after `forget`, the contact appears in no table in any form, it is kept only as a
keyed hash, every send to it is still refused, and the erasure is audited."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType
from sqlalchemy import Engine, select

from events.cli.context import CommandError, ensure_schema
from events.config import Settings
from events.erasure import UNCHECKABLE, ErasureKey
from events.forget import Writings, phone_forms
from events.process import Processor
from events.services import build_dispatcher, build_processor
from storage.db import write_transaction
from storage.models import (
    erased_contacts,
    erasure_audit,
    metadata,
    opt_out_audit,
    rule_decisions,
)
from storage.queries.erasure import add_erased
from tests.conftest import drain, fixture_bytes, inbound_sms, make_client, post

CONTACT = "+41791000011"
EMAIL = "jane.doe@example.com"
SECRET = "a-test-erasure-key-0123456789"
OTHER = "41790000099"
# Every writing the test searches the database for, after the erasure.
PHONE_FORMS = ["+41791000011", "41791000011", "0041791000011", "0791000011", "079 100 00 11"]
RULES = """
[senders]
sms = "InfoSMS"
[[rules]]
name = "thanks"
when = { kind = "inbound" }
do = [{ type = "reply", text = "Thanks, we got your message." }]
"""


def settings_for(db_url: str, tmp_path: Path, **extra: Any) -> Settings:
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES)
    values: dict[str, Any] = {
        "database_url": db_url,
        "sqlite_synchronous": "NORMAL",
        "default_region": "CH",
        "erasure_key": SECRET,
        "rules_file": str(rules),
    }
    return Settings(_env_file=None, **{**values, **extra})  # type: ignore[call-arg]


@pytest.fixture
def erasing(db_url: str, tmp_path: Path) -> Settings:
    return settings_for(db_url, tmp_path)


@pytest.fixture
def api(erasing: Settings, engine: Engine) -> Iterator[Any]:
    with make_client(erasing, engine) as client:
        yield client


def found(engine: Engine, forms: list[str], *, emails: bool = False) -> list[str]:
    """Where any of these writings is still stored: every column of every table, as text,
    also with the separators people put in numbers taken out."""
    hits = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                for column, value in row._mapping.items():
                    text = _text(value)
                    if emails:
                        text = text.casefold()
                    compact = re.sub(r"[ \-().]", "", text)
                    if any(f in text or f.replace(" ", "") in compact for f in forms):
                        hits.append(f"{table.name}.{column}: {text[:120]}")
    return hits


def _text(value: Any) -> str:
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "" if value is None else str(value)


def delivery_reports(to: list[str]) -> bytes:
    """The SMS fixture's batch of reports, one to each of these numbers."""
    doc = json.loads(fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))
    for index, (item, number) in enumerate(zip(doc["results"], to, strict=True)):
        item["to"], item["messageId"] = number, f"out-{index}"
    return json.dumps(doc).encode()


def lookup_of(number: str) -> bytes:
    doc = json.loads(fixture_bytes("number-lookup/query_response_ported.json"))
    doc["results"][0]["to"] = number
    return json.dumps(doc).encode()


def seed(api: Any, processor: Processor, erasing: Settings, engine: Engine) -> None:
    """The contact everywhere: its inbound (a rule replies), a report shared with someone else,
    a mention in someone else's message, a lookup, a masking session, a STOP."""
    post(api, "sms", inbound_sms("hi, call me on 079 100 00 11", sender="41791000011"))
    post(api, "sms", inbound_sms("my friend is +41 79 100 00 11", sender=OTHER, message_id="mo-2"))
    post(api, "sms", delivery_reports(["41791000011", "41790000098"]))
    post(api, "number-lookup", lookup_of("41791000011"))
    session = {"party_a": "+41 79 100 00 11", "party_b": OTHER, "masking_number": "41790000000"}
    assert api.post("/v1/masking/sessions", json=session).status_code == 201
    drain(processor)
    post(api, "sms", inbound_sms("STOP", sender="0041791000011", message_id="mo-stop"))
    post(api, "sms", inbound_sms("pending mention of 41791000011", sender=OTHER, message_id="p"))
    drain(processor)
    # A send with the contact among others: the others keep theirs.
    send = {"channel": "sms", "to": OTHER, "text": "about 0791000011"}
    assert api.post("/v1/send", json=send).status_code == 202
    build_dispatcher(erasing, engine).run_once()


@pytest.mark.parametrize("command", [["contacts"], ["contacts", "forget"], ["db", "prune"]])
def test_the_new_commands_have_help(command: list[str]) -> None:
    from events.cli.main import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*command, "--help"])
    assert exit_.value.code == 0


def test_the_writings_of_a_number_and_an_address_are_found_and_nothing_else() -> None:
    phone = Writings(CONTACT)
    assert phone_forms(CONTACT) == ["41791000011", "410791000011", "0791000011"]
    for writing in [
        "+41 79 100 00 11",
        "(+41) 79 100 00 11",
        "+41 (0)79 100 00 11",
        "0041791000011",
        "079 100 00 11",
        '"to":"41791000011"',
        "41-79-100-00-11",
    ]:
        assert phone.found_in(writing), writing
        assert "1000011" not in phone.text(writing)
    for other in ["41791000012", "141791000011", "417910000111", "+41 79 100 00 12"]:
        assert not phone.found_in(other), other
    assert phone.json({"to": 41791000011, "n": 5}) == {"to": "[erased]", "n": 5}
    assert json.loads(phone.body(b'{"to": 41791000011}')) == {"to": "[erased]"}
    mail = Writings(EMAIL)
    assert mail.text("From: Jane <Jane.Doe@Example.COM>.") == "From: Jane <[erased]>."
    assert mail.found_in(b"to=jane.doe%40example.com")
    for other in ["xjane.doe@example.com", "jane.doe@example.community", "jane.doe@example.com.au"]:
        assert not mail.found_in(other), other


@pytest.mark.parametrize("region", ["CH", "US", "GB", "DE", "FR", "HR", "IN", "BR", "JP"])
def test_every_format_of_a_number_is_found_and_redacted(region: str) -> None:
    number = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    assert number is not None
    key = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    writings = Writings(key)
    nsn = phonenumbers.national_significant_number(number)
    for fmt in PhoneNumberFormat.E164, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.NATIONAL:
        written = phonenumbers.format_number(number, fmt)
        for text in (written, f"call {written} now", written.replace("+", "00")):
            assert writings.found_in(text), (fmt, text)
            assert nsn[-4:] not in re.sub(r"[^0-9]", "", writings.text(text)), (fmt, text)


@pytest.mark.parametrize("running_key", [None, "another-key-of-32-characters-xx"])
def test_an_erasure_made_under_a_key_the_running_service_lacks_stops_every_send(
    db_url: str, tmp_path: Path, engine: Engine, running_key: str | None
) -> None:
    running = settings_for(db_url, tmp_path, erasure_key=running_key)
    with make_client(running, engine) as client:
        # `contacts forget` run from another shell, with the key, while this service runs.
        with write_transaction(engine) as conn:
            key = ErasureKey.of(SECRET)
            add_erased(conn, key.hash(CONTACT), key.key_id, datetime.now(UTC))
        for to in ("+41 79 100 00 11", "+41791000022"):  # it cannot tell who was erased
            body = {"channel": "sms", "to": to, "text": "promo"}
            assert client.post("/v1/send", json=body).status_code == 409, to
    with engine.connect() as conn:
        refused = conn.execute(
            select(opt_out_audit.c.contact).where(opt_out_audit.c.action == "refused")
        ).scalars()
        assert set(refused) == {UNCHECKABLE}


def test_after_forget_the_number_is_in_no_table_in_no_form_and_every_send_is_refused(
    api: Any, erasing: Settings, engine: Engine
) -> None:
    processor = build_processor(erasing, engine)
    seed(api, processor, erasing, engine)
    assert len(found(engine, PHONE_FORMS)) > 10  # the seed put it everywhere

    response = api.delete(f"/v1/contacts/{quote('+41 79 100 00 11')}")
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["actor"] == "api" and done["total"] > 10
    about = ("messages", "events", "raw_webhooks", "opt_outs", "lookups", "rule_decisions")
    for table in (*about, "masking_sessions", "actions"):
        assert done["rows"][table]["deleted"] > 0, table
    # Someone else's message that mentions the number is kept, with the number redacted.
    assert done["rows"]["events"]["redacted"] > 0 and done["rows"]["raw_webhooks"]["redacted"] > 0
    assert found(engine, PHONE_FORMS) == []

    key = ErasureKey.of(SECRET)
    with engine.connect() as conn:
        assert conn.execute(select(erased_contacts.c.contact_hash)).scalars().all() == [
            key.hash(CONTACT)
        ]
        [audit] = conn.execute(select(erasure_audit)).all()
    assert (audit.actor, audit.contact_hash) == ("api", key.hash(CONTACT))
    assert audit.rows == done["rows"]

    # Still never messaged: the API, in every writing and on every phone channel...
    for writing in PHONE_FORMS:
        for channel in ("sms", "voice"):
            body = {"channel": channel, "to": writing, "text": "promo"}
            assert api.post("/v1/send", json=body).status_code == 409, (channel, writing)
    # ... and the refusals are audited by the hash, so the number is still nowhere.
    with engine.connect() as conn:
        refused = conn.execute(
            select(opt_out_audit.c.contact).where(opt_out_audit.c.action == "refused")
        ).scalars()
        assert set(refused) == {key.label(CONTACT)}
    assert found(engine, PHONE_FORMS) == []
    # The rules: a new message from the person is stored (it is new), but not answered.
    post(api, "sms", inbound_sms("hello again", sender="41791000011", message_id="mo-new"))
    drain(processor)
    with engine.connect() as conn:
        outcome = conn.execute(
            select(rule_decisions.c.outcome).order_by(rule_decisions.c.id.desc()).limit(1)
        ).scalar_one()
    assert outcome == "suppressed"
    assert (
        api.post("/v1/send", json={"channel": "sms", "to": OTHER, "text": "x"}).status_code == 202
    )


def test_forget_of_an_address_by_the_cli_is_audited_with_the_actor(
    api: Any,
    erasing: Settings,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from events.cli.main import main

    assert api.post("/v1/opt-outs", json={"contact": "Jane.Doe@Example.com", "channel": "email"})
    post(api, "sms", inbound_sms(f"mail me at {EMAIL.upper()}", sender=OTHER))
    drain(build_processor(erasing, engine))
    assert found(engine, [EMAIL], emails=True)
    for name, value in {
        "INFOBIP_EVENTS_DATABASE_URL": erasing.database_url,
        "INFOBIP_EVENTS_ERASURE_KEY": SECRET,
        "INFOBIP_EVENTS_LOG_FORMAT": "json",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["contacts", "forget", EMAIL]) == 2  # no --yes, no terminal: nothing done
    assert "--yes" in capsys.readouterr().err
    assert found(engine, [EMAIL], emails=True)
    assert main(["contacts", "forget", "JANE.DOE@example.com", "--yes", "--actor", "dpo"]) == 0
    assert "erased jane.doe@example.com" in capsys.readouterr().out
    assert found(engine, [EMAIL], emails=True) == []
    with engine.connect() as conn:
        assert conn.execute(select(erasure_audit.c.actor)).scalars().all() == ["dpo"]
    send = ["send", "--channel", "email", "--to", "Jane.Doe@Example.com", "--text", "x"]
    assert main([*send, "--subject", "s", "--from", "shop@example.org"]) == 1
    body = {
        "channel": "email",
        "to": "Jane.Doe@example.com",
        "text": "x",
        "subject": "s",
        "from": "shop@example.org",
    }
    assert api.post("/v1/send", json=body).status_code == 409


def test_forget_needs_the_key_and_the_service_refuses_another_key_after_an_erasure(
    db_url: str, tmp_path: Path, engine: Engine
) -> None:
    without = settings_for(db_url, tmp_path, erasure_key=None)
    with make_client(without, engine) as client:
        response = client.delete("/v1/contacts/+41791000011")
        assert response.status_code == 409 and "ERASURE_KEY" in response.json()["error"]
    with make_client(settings_for(db_url, tmp_path), engine) as client:
        for wrong in ("InfoSMS", "12"):  # a sender id is not a person; a number too short
            response = client.delete(f"/v1/contacts/{wrong}")
            assert response.status_code == 422 and "contact" in response.json()["error"]
    ensure_schema(without)  # no erasure yet: no key needed
    with make_client(settings_for(db_url, tmp_path), engine) as client:
        assert client.delete("/v1/contacts/+41791000011").status_code == 200
    ensure_schema(settings_for(db_url, tmp_path))
    for wrong in (without, settings_for(db_url, tmp_path, erasure_key="another-key-0123456789")):
        with pytest.raises(CommandError, match="ERASURE_KEY"):
            ensure_schema(wrong)
