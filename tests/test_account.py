"""The account through Membrane (issue 13): balance and its alert, the cost ledger, own numbers,
CPaaS X applications and entities. Every read goes through the fake Membrane's HTTP API (the
CLI transport in one test), on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from events import account as account_mod
from events.account import Account, AccountError, AccountSync
from events.config import Settings
from events.membrane.dryrun import DryRunClient
from events.membrane.http_transport import HttpClient
from events.process import Processor
from events.services import build_processor
from storage.models import costs, events, membrane_answers, outbox
from tests.conftest import drain, fixture_bytes, make_client, post
from tests.fakes.membrane import FakeMembrane, Knobs
from tests.fakes.membrane_api import FakeApiServer

ROOT = Path(__file__).resolve().parents[1]
FAKE_CLI = str(ROOT / "tests" / "fakes" / "membrane_cli.py")


@pytest.fixture
def fake() -> Iterator[tuple[FakeMembrane, str]]:
    membrane = FakeMembrane(knobs=Knobs())
    with FakeApiServer(membrane) as server:
        yield membrane, server.url


def client_for(url: str, timeout: float = 5.0) -> HttpClient:
    return HttpClient(url, "con_fake", token="pat-fake", timeout=timeout)


def account_for(engine: Engine, url: str, **kw: Any) -> Account:
    return Account(engine, client_for(url), **kw)


def rules_settings(db_url: str, tmp_path: Path, rules: str, **kw: Any) -> Settings:
    path = tmp_path / "rules.toml"
    path.write_text(rules)
    return Settings(  # type: ignore[call-arg]
        database_url=db_url,
        sqlite_synchronous="NORMAL",
        rules_file=str(path),
        forward_hmac_secret="s3cret",
        _env_file=None,
        **kw,
    )


PENDING = {"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED"}
DELIVERED = {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"}


def priced_sms(
    message_id: str, price: str | None, currency: str = "EUR", count: int = 1, **extra: Any
) -> bytes:
    """An SMS delivery report priced at `price` a part (None: no price at all)."""
    item = {
        "messageId": message_id,
        "to": "41793026727",
        "sender": "InfoSMS",
        "doneAt": extra.pop("done_at", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")),
        "messageCount": count,
        "status": extra.pop("status", DELIVERED),
        **extra,
    }
    if price is not None:
        item["price"] = {"pricePerMessage": Decimal(price), "currency": currency}
    return json.dumps({"results": [item]}, default=str).encode()


# ---- balance ------------------------------------------------------------------------------------


def test_the_balance_is_stored_raw_then_kept_as_a_history_shown_by_the_api(
    engine: Engine, settings: Settings, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    reading = account_for(engine, url).check_balance()
    assert (reading.balance, reading.currency) == (Decimal("47.79134"), "EUR")
    assert membrane.infobip.account.calls == ["/account/1/balance"]
    with engine.connect() as conn:
        raw = conn.execute(select(membrane_answers)).one()
    assert raw.call == "GET /account/1/balance" and json.loads(raw.body)["balance"] == 47.79134
    membrane.infobip.account.balance = Decimal("45.5")
    account_for(engine, url).check_balance()
    with make_client(settings, engine) as client:
        doc = client.get("/v1/account/balance").json()
    assert doc["latest"]["balance"] == "45.5" and doc["latest"]["currency"] == "EUR"
    assert [h["balance"] for h in doc["history"]] == ["45.5", "47.79134"]
    assert doc["alert"] == {"below": None, "active": False}
    assert account_mod.latest_balance(engine) is not None


def test_balance_low_fires_once_per_crossing_and_rules_act_on_it(
    db_url: str, engine: Engine, tmp_path: Path, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    rules = (
        '[[rules]]\nname = "money"\nwhen = { kind = "balance_low" }\n'
        'do = [{ type = "forward", url = "https://hooks.example/balance" },\n'
        '      { type = "send", channel = "sms", to = "+41793026727", text = "Top up" }]\n'
        'match = "all"\n'
    )
    settings = rules_settings(db_url, tmp_path, rules, balance_alert_below=Decimal("50"))
    processor = build_processor(settings, engine)
    account = account_for(engine, url, alert_below=Decimal("50"), automation=processor.automation)
    assert account.check_balance().alerted  # 47.79 < 50
    assert not account.check_balance().alerted  # still low: no second alert
    membrane.infobip.account.balance = Decimal("80")
    assert not account.check_balance().alerted  # recovered
    membrane.infobip.account.balance = Decimal("10")
    assert account.check_balance().alerted  # a new crossing
    with engine.connect() as conn:
        low = conn.execute(select(events).where(events.c.kind == "balance_low")).all()
        forwards = conn.execute(select(outbox).where(outbox.c.action == "forward-http")).all()
    assert [e.data["balance"] for e in low] == ["47.79134", "10.0"]
    assert all(e.message_id is None and e.source == "account" for e in low)
    assert len(forwards) == 2
    with engine.connect() as conn:
        alerts = conn.execute(select(outbox).where(outbox.c.action == "send-sms-message")).all()
    assert [a.input["to"] for a in alerts] == ["41793026727", "41793026727"]


def test_hours_left_is_the_balance_at_the_last_24_hours_spend(
    engine: Engine, client: Any, processor: Processor, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    assert account_for(engine, url).check_balance().hours_left is None  # nothing spent yet
    post(client, "sms", priced_sms("m-1", "0.5", count=2))  # 1 EUR
    post(client, "sms", priced_sms("m-2", "1"))  # 1 EUR
    post(client, "sms", priced_sms("m-3", "100", currency="USD"))  # another currency
    old = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    post(client, "sms", priced_sms("m-4", "100", done_at=old))  # outside 24 hours
    drain(processor)
    membrane.infobip.account.balance = Decimal("4")
    # 4 EUR at 2 EUR a day: 48 hours.
    assert account_for(engine, url).check_balance().hours_left == 48.0


def test_in_dry_run_reads_are_shown_never_kept_nor_polled(engine: Engine) -> None:
    account = Account(engine, DryRunClient(), alert_below=Decimal("1000"))
    reading = account.check_balance()
    assert not reading.stored and not reading.alerted
    with engine.connect() as conn:
        assert conn.execute(select(events)).first() is None
    sync = AccountSync(account, balance_seconds=900.0, numbers_seconds=3600.0)
    assert sync.balance_seconds is None and sync.numbers_seconds is None and not sync.needed
    assert account.sync_numbers() == 0
    with engine.connect() as conn:
        assert conn.execute(select(membrane_answers)).first() is None


# ---- the cost ledger ----------------------------------------------------------------------------


def ledger(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {r.message_id: r for r in conn.execute(select(costs))}


def test_each_priced_report_is_one_ledger_line_corrected_by_a_later_price(
    engine: Engine, client: Any, processor: Processor
) -> None:
    post(client, "sms", fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))
    post(client, "sms", priced_sms("parts", "0.0001000000", count=3, status=PENDING))
    drain(processor)
    lines = ledger(engine)
    first = lines["MESSAGE-ID-123-xyz"]
    assert (first.amount, first.currency, first.units, first.unit) == (
        Decimal("0.01"),
        "EUR",
        Decimal(1),
        "message",
    )
    assert (first.country, first.application_id, first.entity_id, first.sender) == (
        "CH",
        "marketing-automation-application",
        "promotional-traffic-entity",
        "InfoSMS",
    )
    assert lines["parts"].amount == Decimal("0.0003")
    later = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    # Infobip re-prices the message in a later report: the line follows.
    post(client, "sms", priced_sms("parts", "0.0002", count=3, done_at=later))
    drain(processor)
    assert ledger(engine)["parts"].amount == Decimal("0.0006")
    assert len(ledger(engine)) == 3


def test_voice_is_priced_by_the_charged_seconds(
    engine: Engine, client: Any, processor: Processor
) -> None:
    post(client, "voice", fixture_bytes("voice/dlr_current_answered.json"))
    drain(processor)
    (line,) = ledger(engine).values()
    # 0.01 EUR a second, 30 charged seconds (10 talked).
    assert (line.unit, line.units, line.amount) == ("second", Decimal(30), Decimal("0.30"))


def test_costs_are_summed_per_group_never_across_currencies_and_unpriced_counted_apart(
    settings: Settings, engine: Engine, client: Any, processor: Processor
) -> None:
    post(client, "sms", fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))
    post(client, "sms", priced_sms("usd-1", "0.05", currency="USD"))
    post(client, "sms", priced_sms("no-price-1", None))
    post(client, "sms", priced_sms("no-price-2", None))
    drain(processor)
    doc = client.get("/v1/costs", params={"group_by": "channel", "from": "3650d"}).json()
    assert doc["groups"] == [
        {
            "key": "sms",
            "name": None,
            "currency": "EUR",
            "messages": 2,
            "units": "2",
            "amount": "0.0200000000",
        },
        {
            "key": "sms",
            "name": None,
            "currency": "USD",
            "messages": 1,
            "units": "1",
            "amount": "0.0500000000",
        },
    ]
    assert {t["currency"]: t["amount"] for t in doc["totals"]} == {
        "EUR": "0.0200000000",
        "USD": "0.0500000000",
    }
    assert doc["unpriced"] == {"messages": 2, "by_channel": {"sms": 2}}
    assert client.get("/v1/costs", params={"group_by": "planet"}).status_code == 400
    by_app = client.get(
        "/v1/costs", params={"group_by": "application", "from": "3650d", "entity_id": "nope"}
    ).json()
    assert by_app["groups"] == []


def test_costs_cli_writes_csv(
    db_url: str, engine: Engine, client: Any, processor: Processor
) -> None:
    post(client, "sms", fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))
    drain(processor)
    done = run_cli(db_url, "costs", "--from", "3650d", "--group-by", "country", "--csv")
    assert done.stdout.splitlines() == [
        "country,name,currency,messages,units,amount",
        "CH,,EUR,2,2,0.0200000000",
    ]


def run_cli(db_url: str, *args: str, env: dict[str, str] | None = None) -> Any:
    environ = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(ROOT),
        "INFOBIP_EVENTS_DATABASE_URL": db_url,
        "HOME": str(ROOT),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "events.cli.main", *args],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


# ---- own numbers, applications, entities --------------------------------------------------------


def test_numbers_are_synced_page_by_page_as_e164_keys(
    settings: Settings,
    engine: Engine,
    fake: tuple[FakeMembrane, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    membrane, url = fake
    monkeypatch.setattr(account_mod, "NUMBERS_PAGE", 2)
    assert account_for(engine, url).sync_numbers() == 3
    assert membrane.infobip.account.calls == ["/numbers/1/numbers"] * 2
    with make_client(settings, engine) as client:
        doc = client.get("/v1/numbers").json()
    assert [n["number"] for n in doc["items"]] == ["+385921004026", "+41793026700", "+447860041117"]
    assert doc["items"][0]["capabilities"] == ["SMS", "VOICE"]
    # A number given up is ours no more.
    membrane.infobip.account.numbers = membrane.infobip.account.numbers[:1]
    assert account_for(engine, url).sync_numbers() == 1


def test_inbound_to_a_number_not_ours_is_marked_and_counted_and_synced_numbers_are_own(
    db_url: str, engine: Engine, tmp_path: Path, fake: tuple[FakeMembrane, str]
) -> None:
    _, url = fake
    rules = (
        '[[rules]]\nname = "to-us"\nwhen = { kind = "inbound", recipient_is_own = true }\n'
        'do = [{ type = "tag", tags = ["to-us"] }]\n'
    )
    settings = rules_settings(db_url, tmp_path, rules)
    processor = build_processor(settings, engine)
    account_for(engine, url).sync_numbers()
    doc = json.loads(fixture_bytes("sms/inbound_mo_json_2_keyword_quiz.json"))
    other = copy.deepcopy(doc)
    for i, item in enumerate(other["results"]):
        item["to"], item["messageId"] = "41790000000", f"other-{i}"
    with make_client(settings, engine) as client:
        post(client, "sms", json.dumps(doc).encode())  # to 385921004026: ours
        post(client, "sms", json.dumps(other).encode())
        drain(processor)
        counted = client.get("/v1/numbers").json()["inbound_to_other_numbers_24h"]
        tagged = client.get("/v1/messages", params={"direction": "inbound"}).json()["items"]
    with engine.connect() as conn:
        marks = {
            e.message_id: e.data.get("not_our_number")
            for e in conn.execute(select(events).where(events.c.kind == "inbound"))
        }
    assert counted == len(other["results"]) and processor.bookkeeping.not_ours == counted
    assert all(marks[f"other-{i}"] is True for i in range(len(other["results"])))
    assert all(v is None for k, v in marks.items() if not k.startswith("other-"))
    assert {m["message_id"] for m in tagged if "to-us" in m["tags"]} == {
        item["messageId"] for item in doc["results"]
    }


def test_applications_and_entities_are_synced_and_named_beside_ids(
    settings: Settings,
    engine: Engine,
    client: Any,
    processor: Processor,
    fake: tuple[FakeMembrane, str],
) -> None:
    _, url = fake
    result = account_for(engine, url).sync_all()
    assert (result.numbers, result.applications, result.entities, result.errors) == (3, 2, 1, [])
    post(client, "sms", fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))
    post(client, "sms", priced_sms("no-app", "0.01"))
    drain(processor)
    app = "marketing-automation-application"
    messages = client.get("/v1/messages", params={"application_id": app}).json()["items"]
    assert len(messages) == 2
    assert {(m["application_name"], m["entity_name"]) for m in messages} == {
        ("Marketing", "Promotions")
    }
    found = client.get("/v1/events", params={"entity_id": "promotional-traffic-entity"}).json()
    assert {e["message_id"] for e in found["items"]} == {m["message_id"] for m in messages}
    costs_doc = client.get(
        "/v1/costs", params={"group_by": "application", "from": "3650d", "application_id": app}
    ).json()
    assert [(g["key"], g["name"], g["messages"]) for g in costs_doc["groups"]] == [
        (app, "Marketing", 2)
    ]
    names = client.get("/v1/applications").json()["items"]
    assert {i["id"]: i["name"] for i in names} == {
        app: "Marketing",
        "default": "Default application",
    }


def test_a_failing_membrane_keeps_what_was_known(
    engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    account = account_for(engine, url)
    account.sync_numbers()
    membrane.knobs.fail_status = 500
    result = account.sync_all()
    assert result.numbers is None and len(result.errors) == 3
    with pytest.raises(AccountError, match="GET /account/1/balance"):
        account.check_balance()
    with engine.connect() as conn:
        from storage.queries.account import list_numbers

        assert len(list_numbers(conn)) == 3


def test_a_hanging_membrane_during_a_sync_never_holds_up_a_webhook(
    settings: Settings, engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    membrane.knobs.hang = True
    account = Account(engine, client_for(url, timeout=30.0))
    sync = AccountSync(account, balance_seconds=900.0, numbers_seconds=900.0, first_after=0.0)
    started = threading.Event()
    original = account._get

    def marked(*args: Any, **kw: Any) -> Any:
        started.set()
        return original(*args, **kw)

    account._get = marked  # type: ignore[method-assign]
    sync.start()
    try:
        assert started.wait(10)
        with make_client(settings, engine) as client:
            answer = post(client, "sms", fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))
        assert answer.status_code == 200
        assert sync._thread is not None and sync._thread.is_alive()  # still waiting on Membrane
    finally:
        membrane.knobs.hang = False
        sync._stop.set()


def test_the_cli_transport_reads_the_balance_through_membrane_request(
    db_url: str, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    env = {
        "INFOBIP_EVENTS_MEMBRANE_TRANSPORT": "cli",
        "INFOBIP_EVENTS_MEMBRANE_CLI": FAKE_CLI,
        "INFOBIP_EVENTS_MEMBRANE_CONNECTION_ID": "con_fake",
        "FAKE_MEMBRANE_STATE": str(state),
    }
    done = run_cli(db_url, "balance", env=env)
    assert "balance 47.79134 EUR" in done.stdout
    calls = json.loads(state.read_text())["calls"]
    assert calls[-1][:3] == ["request", "con_fake", "/account/1/balance"]
    listed = run_cli(db_url, "numbers", "sync", env=env)
    assert "3 numbers synced" in listed.stdout
    assert "+447860041117" in run_cli(db_url, "numbers", "list", env=env).stdout


def test_intervals_read_as_ages_or_off_and_a_bad_one_says_what_to_write() -> None:
    from events.config import SettingsError, load_settings

    found = Settings(balance_interval="90s", numbers_interval="OFF", _env_file=None)  # type: ignore[call-arg]
    assert found.interval_seconds("balance_interval") == 90.0
    assert found.interval_seconds("numbers_interval") is None
    with pytest.raises(SettingsError, match="write 90s, 15m, 1h or 2d"):
        load_settings(balance_interval="soon")


def test_the_loop_guard_never_auto_replies_to_a_synced_number(
    db_url: str, engine: Engine, tmp_path: Path, fake: tuple[FakeMembrane, str]
) -> None:
    from storage.models import rule_decisions

    _, url = fake
    rules = (
        '[[rules]]\nname = "thanks"\nwhen = { kind = "inbound" }\n'
        'do = [{ type = "reply", text = "Thanks" }]\n'
    )
    settings = rules_settings(db_url, tmp_path, rules)
    processor = build_processor(settings, engine)
    account_for(engine, url).sync_numbers()
    doc = json.loads(fixture_bytes("sms/inbound_mo_json_2_keyword_quiz.json"))
    item = doc["results"][0]
    from_us = {**item, "from": "447860041117", "messageId": "loop-1"}
    from_them = {**item, "messageId": "person-1"}
    with make_client(settings, engine) as client:
        post(client, "sms", json.dumps({"results": [from_us, from_them]}).encode())
        drain(processor)
    with engine.connect() as conn:
        decided = {d.reason: d.outcome for d in conn.execute(select(rule_decisions)).all()}
        replies = conn.execute(select(outbox).where(outbox.c.action == "send-sms-message")).all()
    assert decided.get("never auto-reply to one of our own numbers") == "skipped"
    assert [r.input["to"] for r in replies] == [item["from"]]


def test_costs_by_day_are_utc_days(client: Any, processor: Processor) -> None:
    # 16:00 and 17:00 at +01:00 on 9 November; a third report at 00:30 +01:00 on the 10th is
    # still the 9th in UTC.
    post(client, "sms", fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))
    post(client, "sms", priced_sms("late", "0.02", done_at="2019-11-10T00:30:00.000+0100"))
    post(client, "sms", priced_sms("next", "0.03", done_at="2019-11-10T01:30:00.000+0100"))
    drain(processor)
    doc = client.get("/v1/costs", params={"from": "2019-11-01T00:00:00Z"}).json()
    assert [(g["key"], g["messages"], g["amount"]) for g in doc["groups"]] == [
        ("2019-11-09", 3, "0.0400000000"),
        ("2019-11-10", 1, "0.0300000000"),
    ]
