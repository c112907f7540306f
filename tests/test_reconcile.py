"""Reconciliation against the fake Membrane serving fake Infobip logs and reports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from events.channels.registry import PARSERS
from events.config import Settings
from events.dispatch import Dispatcher
from events.membrane.catalogue import ACTIONS
from events.membrane.http_transport import HttpClient
from events.outbox import enqueue
from events.process import Processor
from events.reconcile import LOGS, Pacer, Reconciler, Source
from events.services import build_compliance
from storage.db import write_transaction
from storage.models import events, raw_webhooks
from tests.conftest import drain, post
from tests.fakes.membrane import FakeMembrane, Knobs
from tests.fakes.membrane_api import FakeApiServer


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def fake() -> Iterator[tuple[FakeMembrane, str]]:
    membrane = FakeMembrane(knobs=Knobs())
    with FakeApiServer(membrane) as server:
        yield membrane, server.url


def client_for(url: str) -> HttpClient:
    return HttpClient(url, "con_fake", token="pat-fake")


def reconciler(engine: Engine, url: str, clock: Clock, **kw: Any) -> Reconciler:
    processor = Processor(engine, PARSERS, compliance=build_compliance(Settings(_env_file=None)))  # type: ignore[call-arg]
    return Reconciler(
        engine,
        client_for(url),
        dict(ACTIONS),
        processor,
        clock=clock,
        delays={"sms": timedelta(minutes=15)},
        pacer=kw.pop("pacer", Pacer()),
        **kw,
    )


def send_sms(engine: Engine, url: str, n: int = 1) -> list[str]:
    """Send through the dispatcher: the messages are tracked as unknown."""
    with write_transaction(engine) as conn:
        for i in range(n):
            enqueue(
                conn,
                ACTIONS,
                "send-sms-message",
                {"to": f"4179302{i:04d}", "text": "hi"},
                idempotency_key=f"s{i}",
            )
    dispatcher = Dispatcher(engine, client_for(url), dict(ACTIONS))
    while dispatcher.run_once():
        pass
    with engine.connect() as conn:
        from storage.models import outbox

        return [m for ids in conn.execute(select(outbox.c.message_ids)).scalars() for m in ids]


def later(clock: Clock, **delta: float) -> None:
    clock.now += timedelta(**delta)


def test_a_lost_delivery_report_is_recovered_from_the_logs(
    client: Any, engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    _, url = fake
    (message_id,) = send_sms(engine, url)
    assert client.get(f"/v1/messages/{message_id}").json()["state"] == "unknown"
    clock = Clock()
    later(clock, minutes=20)
    report = reconciler(engine, url, clock).run()
    assert report is not None
    assert (report.checked, report.recovered, report.still_missing) == (1, 1, 0)
    message = client.get(f"/v1/messages/{message_id}").json()
    assert message.get("state") == "delivered", message
    assert {e["source"] for e in message["events"]} == {"reconcile"}
    runs = client.get("/v1/reconcile/runs").json()["items"]
    assert runs[0]["recovered"] == 1 and runs[0]["state"] == "done"


def test_young_messages_are_not_looked_up_yet(
    engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    _, url = fake
    send_sms(engine, url)
    report = reconciler(engine, url, Clock()).run()
    assert report is not None and report.checked == 0


def test_a_report_by_webhook_and_by_reconciliation_counts_once(
    client: Any, engine: Engine, processor: Any, fake: tuple[FakeMembrane, str]
) -> None:
    _, url = fake
    (message_id,) = send_sms(engine, url)
    dlr = json.dumps(
        {
            "results": [
                {
                    "messageId": message_id,
                    "to": "41793020000",
                    "status": {
                        "groupId": 3,
                        "groupName": "DELIVERED",
                        "id": 5,
                        "name": "DELIVERED_TO_HANDSET",
                    },
                }
            ]
        }
    ).encode()
    post(client, "sms", dlr)
    drain(processor)
    clock = Clock()
    later(clock, minutes=20)
    reconciler(engine, url, clock).run()  # the message is final: not stale any more
    # Even when the same report is pulled again (the sweep of the window reads it), it is
    # one event: the dedupe key does not care by which road it came.
    later(clock, minutes=20)
    r = reconciler(engine, url, clock)
    r._pull(
        r_report := __import__("events.reconcile", fromlist=["RunReport"]).RunReport("x"),
        "sms",
        LOGS["sms"],
        {"message_ids": [message_id]},
        {},
    )
    assert r_report.errors == 0
    timeline = client.get(f"/v1/messages/{message_id}").json()["events"]
    assert [e["kind"] for e in timeline] == ["delivery"]


def test_one_time_reports_are_stored_even_when_the_run_then_fails(
    engine: Engine, fake: tuple[FakeMembrane, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = fake
    send_sms(engine, url, 3)
    clock = Clock()
    later(clock, minutes=20)
    r = reconciler(engine, url, clock)

    def broken(_ids: Any) -> Any:
        raise RuntimeError("processing broke")

    monkeypatch.setattr(r.processor, "process_ids", broken)
    report = r.run(channel="sms")
    assert report is not None
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count())
            .select_from(raw_webhooks)
            .where(raw_webhooks.c.source == "reconcile")
        ).scalar_one()
        state = conn.execute(select(func.count()).select_from(events)).scalar_one()
    assert stored >= 1  # the response is kept, pending, for the processor
    assert state == 0
    runs = r.runs()
    assert runs[0].state == "failed" and "processing broke" in runs[0].error
    # The next processor pass turns what was stored into events.
    drain(Processor(engine, PARSERS))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() >= 3


def test_messages_sent_by_other_systems_are_discovered(
    client: Any, engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    membrane.infobip.send("sms", "41790000001", {"messageId": "sent-elsewhere"})
    clock = Clock()
    report = reconciler(engine, url, clock).run(channel="sms")
    assert report is not None and report.discovered == 1
    assert client.get("/v1/messages/sent-elsewhere").json()["state"] == "delivered"


def test_the_window_closes_to_unknown_with_the_reason(
    client: Any, engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    membrane.knobs.fail_status = 503  # Infobip has nothing to say
    pending = json.dumps(
        {
            "results": [
                {
                    "messageId": "old-1",
                    "to": "41790000002",
                    "status": {
                        "groupId": 1,
                        "groupName": "PENDING",
                        "id": 26,
                        "name": "PENDING_ACCEPTED",
                    },
                }
            ]
        }
    )
    post(client, "sms", pending.encode())
    drain(Processor(engine, PARSERS))
    clock = Clock()
    later(clock, hours=49)
    report = reconciler(engine, url, clock).run(channel="sms")
    assert report is not None and report.closed == 1
    message = client.get("/v1/messages/old-1").json()
    assert message["state"] == "unknown"
    assert message["status"]["description"] == "report window closed"
    assert message["events"][-1]["note"] == "report window closed"
    again = reconciler(engine, url, clock).run(channel="sms")
    assert again is not None and again.closed == 0


def test_throttles_are_respected(
    engine: Engine, fake: tuple[FakeMembrane, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    membrane, url = fake
    # One call a second: short for a test, long enough that back-to-back calls fall inside the
    # window even on a loaded machine.
    fast = Source("action", "get-sms-message-logs", 60)
    monkeypatch.setitem(LOGS, "sms", fast)
    membrane.knobs.throttle_per_minute = {"get-sms-message-logs": 60}
    send_sms(engine, url, 5)
    clock = Clock()
    later(clock, minutes=20)
    # Without pacing, the lookup and the sweep come back to back and the second is refused.
    unpaced = reconciler(engine, url, clock, pacer=_NoPacing()).run(channel="sms")
    assert unpaced is not None and unpaced.errors >= 1
    assert any("rate_limit" in e or "429" in e for e in unpaced.error_text)
    import time

    time.sleep(1.1)  # the throttle's window passes
    membrane.infobip.sent.clear()
    with engine.begin() as conn:
        from storage.models import messages

        conn.execute(messages.update().values(state="unknown"))
    paced = reconciler(engine, url, clock).run(channel="sms")
    assert paced is not None and paced.errors == 0, paced.error_text
    assert len([c for c in paced.calls if c.startswith("get-sms-message-logs")]) == 2


class _NoPacing(Pacer):
    def wait(self, source: Source) -> None:
        return None


def test_two_workers_never_reconcile_at_the_same_time(
    engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    _, url = fake
    first, second = reconciler(engine, url, Clock()), reconciler(engine, url, Clock())
    with first._leader() as leader:
        assert leader
        if engine.dialect.name == "sqlite":
            # SQLite has one process; the lock is the reconciler's own.
            assert second.run() is not None
        else:
            assert second.run() is None
    assert second.run() is not None


def test_dry_run_reads_nothing(engine: Engine, fake: tuple[FakeMembrane, str]) -> None:
    membrane, url = fake
    send_sms(engine, url, 2)
    runs_before = len(membrane.runs)
    clock = Clock()
    later(clock, minutes=20)
    report = reconciler(engine, url, clock).run(dry_run=True)
    assert report is not None and report.checked == 2
    assert len(membrane.runs) == runs_before
    assert any("would read get-sms-message-logs" in c for c in report.calls)


def test_the_inbound_backstop_records_inbound_messages_when_on(
    client: Any, engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    _, url = fake
    off = reconciler(engine, url, Clock()).run(channel="sms")
    assert off is not None and not any("inbox" in c for c in off.calls)
    on = reconciler(engine, url, Clock(), inbound_backstop=True).run(channel="sms")
    assert on is not None and any("/sms/1/inbox/reports" in c for c in on.calls)
    message = client.get("/v1/messages/817790313235066447").json()
    assert (message["direction"], message["state"]) == ("inbound", "received")
    assert message["events"][0]["source"] == "reconcile"


def test_one_time_reports_hand_out_the_real_examples_once(
    client: Any, engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    _, url = fake
    reconciler(engine, url, Clock()).run(channel="sms")
    message = client.get("/v1/messages/MESSAGE-ID-123-xyz").json()
    assert message["state"] == "delivered"
    assert message["events"][0]["source"] == "reconcile"
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(events)).scalar_one()
    reconciler(engine, url, Clock()).run(channel="sms")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == before


def test_stale_email_is_looked_up_by_bulk_id(
    client: Any, engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    sent = membrane.infobip.send(
        "email", ["a@example.com", "b@example.com", "c@example.com"], {"subject": "hi"}
    )
    rows = []
    for m in sent["messages"]:
        rows.append(
            {
                "messageId": m["messageId"],
                "to": m["to"],
                "bulkId": sent["bulkId"],
                "status": {
                    "groupId": 1,
                    "groupName": "PENDING",
                    "id": 26,
                    "name": "PENDING_ACCEPTED",
                },
            }
        )
    post(client, "email", json.dumps({"results": rows}).encode())
    drain(Processor(engine, PARSERS))
    clock = Clock()
    later(clock, hours=2)
    r = reconciler(engine, url, clock)
    r.delays["email"] = timedelta(hours=1)
    report = r.run(channel="email")
    assert report is not None
    assert (report.checked, report.recovered) == (3, 3)
    lookups = [c for c in report.calls if c.startswith("get-email-logs")]
    assert len(lookups) == 2  # one for the bulk, one for the sweep


def test_dry_run_transport_never_claims_a_delivery(
    client: Any,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With the default dry-run transport nothing is sent, so no report can recover it."""
    from events.cli.main import main
    from events.membrane.dryrun import DryRunClient

    dispatcher = Dispatcher(engine, DryRunClient(), dict(ACTIONS))
    with write_transaction(engine) as conn:
        enqueue(
            conn,
            ACTIONS,
            "send-sms-message",
            {"to": "41790000003", "text": "hi"},
            idempotency_key="dry",
        )
    dispatcher.run_once()
    monkeypatch.setenv("INFOBIP_EVENTS_DATABASE_URL", db_url)
    monkeypatch.setenv("INFOBIP_EVENTS_RECONCILE_AFTER", "sms=0s")
    assert main(["reconcile", "--channel", "sms"]) == 0
    out = capsys.readouterr()
    assert "sms    [##############################] 1/1 looked up" in out.err
    assert "1 checked, 0 recovered, 1 still missing" in out.out


def test_messages_api_reports_are_pulled_though_it_has_no_logs(
    client: Any, engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    _, url = fake
    report = reconciler(engine, url, Clock()).run(channel="messages-api")
    assert report is not None and report.errors == 0
    assert any("/messages-api/1/reports" in c for c in report.calls)
    message = client.get("/v1/messages/ABEGVUGWh3gEAgo-sLTvmQCS5kwjhsy").json()
    assert (message["channel"], message["state"]) == ("whatsapp", "delivered")
    assert message["events"][0]["source"] == "reconcile"
