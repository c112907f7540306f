"""The outbox and its dispatcher on a real database, against the fake Membrane."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from events.dispatch import Dispatcher
from events.membrane.catalogue import ACTIONS
from events.membrane.dryrun import DryRunClient
from events.membrane.http_transport import HttpClient
from events.outbox import enqueue
from storage.db import write_transaction
from storage.models import messages, outbox
from tests.conftest import drain, post
from tests.fakes.membrane import FakeMembrane, Knobs
from tests.fakes.membrane_api import FakeApiServer

SMS = {"to": "41793026727", "text": "hello", "from": "InfoSMS"}


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def fake() -> Iterator[tuple[FakeMembrane, str]]:
    membrane = FakeMembrane(knobs=Knobs())
    with FakeApiServer(membrane) as server:
        yield membrane, server.url


def dispatcher(engine: Engine, url: str, clock: Clock | None = None, **kw: Any) -> Dispatcher:
    client = HttpClient(url, "con_fake", token="pat-fake", timeout=kw.pop("timeout", 5.0))
    return Dispatcher(engine, client, dict(ACTIONS), clock=clock or Clock(), **kw)


def put(
    engine: Engine,
    key: str = "send-sms-message",
    values: dict[str, Any] | None = None,
    idem: str = "k1",
    clock: Clock | None = None,
    max_attempts: int = 6,
) -> str:
    with write_transaction(engine) as conn:
        action_id, _ = enqueue(
            conn,
            ACTIONS,
            key,
            values or SMS,
            idempotency_key=idem,
            max_attempts=max_attempts,
            now=clock() if clock else None,
        )
    return action_id


def row(engine: Engine, action_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(outbox).where(outbox.c.id == action_id)).one()


def sends(membrane: FakeMembrane) -> int:
    return sum(1 for key, _ in membrane.runs if key == "send-sms-message")


def test_send_through_the_api_tracks_the_message_and_its_report_lands_on_it(
    client: Any, engine: Engine, processor: Any
) -> None:
    response = client.post(
        "/v1/send",
        json={"channel": "sms", **SMS, "callback_data": "c-1"},
        headers={"Idempotency-Key": "order-42"},
    )
    assert response.status_code == 202
    action_id = response.json()["id"]
    again = client.post(
        "/v1/send", json={"channel": "sms", **SMS}, headers={"Idempotency-Key": "order-42"}
    )
    assert again.json() == {"id": action_id, "action": "send-sms-message", "created": False}
    d = Dispatcher(engine, DryRunClient(), dict(ACTIONS))
    assert d.run_once() == 1
    action = client.get(f"/v1/actions/{action_id}").json()
    assert action["state"] == "done" and action["attempts"] == 1
    (message_id,) = action["message_ids"]
    assert message_id == action["tracking_id"]
    message = client.get(f"/v1/messages/{message_id}").json()
    assert (message["state"], message["direction"], message["callback_data"]) == (
        "unknown",
        "outbound",
        "c-1",
    )
    report = (
        '{"results":[{"messageId":"' + message_id + '","to":"41793026727",'
        '"status":{"groupId":3,"groupName":"DELIVERED","id":5,'
        '"name":"DELIVERED_TO_HANDSET"}}]}'
    ).encode()
    post(client, "sms", report)
    drain(processor)
    message = client.get(f"/v1/messages/{message_id}").json()
    assert message["state"] == "delivered"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(messages)).scalar_one() == 1
        linked = conn.execute(select(messages.c.action_id)).scalar_one()
    assert linked == action_id
    listed = client.get("/v1/actions", params={"state": "done"}).json()["items"]
    assert [a["id"] for a in listed] == [action_id]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"channel": "fax", "to": "1", "text": "x"}, "channel must be one of"),
        ({"channel": "sms", "text": "x"}, "'to' is required"),
        ({"channel": "sms", "to": "1"}, "'text' is required"),
        ({"channel": "email", "to": "a@b.c", "text": "x"}, "email needs 'from' and 'subject'"),
        ({"channel": "whatsapp", "to": "1", "text": "x"}, "needs 'from'"),
        ({"channel": "sms", "to": "1", "text": "x", "bcc": "y"}, "unknown fields: bcc"),
    ],
)
def test_bad_send_requests_are_400_with_the_reason(
    client: Any, body: dict[str, Any], reason: str
) -> None:
    response = client.post("/v1/send", json=body)
    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_retryable_failures_back_off_then_go_dead(
    engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    clock = Clock()
    d = dispatcher(engine, url, clock, backoff_seconds=10, backoff_cap_seconds=15)
    action_id = put(
        engine, "get-sms-message-logs", {"message_ids": ["x"]}, clock=clock, max_attempts=3
    )
    membrane.knobs.fail_status = 503
    assert d.run_once() == 1
    first = row(engine, action_id)
    assert first.state == "pending" and first.attempts == 1
    assert 5 <= (first.next_attempt_at - clock.now).total_seconds() <= 10
    assert d.run_once() == 0  # not due yet
    clock.advance(16)
    d.run_once()
    clock.advance(16)
    d.run_once()
    last = row(engine, action_id)
    assert (last.state, last.attempts) == ("dead", 3)
    assert "503" in last.last_error


def test_429_waits_at_least_retry_after(engine: Engine, fake: tuple[FakeMembrane, str]) -> None:
    membrane, url = fake
    clock = Clock()
    d = dispatcher(engine, url, clock, backoff_seconds=1, backoff_cap_seconds=2)
    membrane.knobs.rate_limit = True
    membrane.knobs.retry_after = 30
    action_id = put(engine, clock=clock)
    d.run_once()
    waiting = row(engine, action_id)
    assert waiting.state == "pending"
    assert (waiting.next_attempt_at - clock.now).total_seconds() >= 30
    assert sends(membrane) == 0


def test_permanent_failure_is_not_retried(engine: Engine, fake: tuple[FakeMembrane, str]) -> None:
    membrane, url = fake
    membrane.knobs.fail_status = 400
    clock = Clock()
    d = dispatcher(engine, url, clock)
    action_id = put(engine, clock=clock)
    assert d.run_once() == 1
    assert row(engine, action_id).state == "failed"


def test_a_send_that_timed_out_after_sending_is_not_sent_twice(
    engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    clock = Clock()
    d = dispatcher(engine, url, clock, timeout=0.5)
    membrane.knobs.apply_then_hang = True
    action_id = put(engine, clock=clock)
    d.run_once()
    uncertain = row(engine, action_id)
    assert uncertain.state == "unknown_outcome"
    assert sends(membrane) == 1
    membrane.knobs.apply_then_hang = False
    clock.advance(3600)
    d.run_once()
    done = row(engine, action_id)
    assert done.state == "done"
    assert done.last_error == "found in the logs"
    assert done.message_ids == [done.tracking_id]
    assert sends(membrane) == 1


def test_a_send_that_never_reached_infobip_is_sent_after_the_logs_say_so(
    engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    clock = Clock()
    d = dispatcher(engine, url, clock, timeout=0.5)
    membrane.knobs.hang = True  # hangs before anything is sent
    action_id = put(engine, clock=clock)
    d.run_once()
    assert row(engine, action_id).state == "unknown_outcome"
    membrane.knobs.hang = False
    clock.advance(3600)
    d.run_once()
    assert row(engine, action_id).state == "done"
    assert sends(membrane) == 1
    assert [k for k, _ in membrane.runs] == ["get-sms-message-logs", "send-sms-message"]


def test_whatsapp_unknown_outcome_waits_for_a_person(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    clock = Clock()
    d = dispatcher(engine, url, clock, timeout=0.5)
    membrane.knobs.apply_then_hang = True
    action_id = put(
        engine,
        "send-whatsapp-text-message",
        {"from": "441134960000", "to": "41793026727", "text": "hi"},
        clock=clock,
    )
    d.run_once()
    membrane.knobs.apply_then_hang = False
    clock.advance(3600)
    d.run_once()
    parked = row(engine, action_id)
    assert parked.state == "unknown_outcome"
    assert "actions retry" in parked.last_error
    clock.advance(10**6)
    assert d.run_once() == 0  # never retried blindly
    from events.cli.main import main

    monkeypatch.setenv("INFOBIP_EVENTS_DATABASE_URL", db_url)
    assert main(["actions", "retry", action_id]) == 0
    assert row(engine, action_id).state == "pending"
    assert main(["actions", "retry", action_id]) == 1  # only failed, dead or unknown ones


def test_a_dispatcher_that_dies_mid_action_loses_nothing_and_sends_once(
    engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    clock = Clock()
    dead = dispatcher(engine, url, clock, lease_seconds=30)
    action_id = put(engine, clock=clock)
    (claimed,) = dead.claim(10)
    dead.execute(claimed)  # it sent, then died before writing anything back
    assert row(engine, action_id).state == "running"
    survivor = dispatcher(engine, url, clock, lease_seconds=30)
    assert survivor.run_once() == 0  # the lease still holds
    clock.advance(31)
    assert survivor.run_once() == 1
    done = row(engine, action_id)
    assert done.state == "done" and done.last_error == "found in the logs"
    assert sends(membrane) == 1


def test_two_dispatchers_never_run_the_same_row(
    engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    clock = Clock()
    ids = [
        put(engine, "get-sms-message-logs", {"message_ids": [f"m{i}"]}, idem=f"k{i}", clock=clock)
        for i in range(60)
    ]

    def work() -> None:
        d = dispatcher(engine, url, clock, concurrency=8)
        while d.run_once():
            pass

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ran = [inp["messageId"][0] for key, inp in membrane.runs]
    assert sorted(ran) == sorted(f"m{i}" for i in range(60))
    assert {row(engine, i).state for i in ids} == {"done"}


def test_proxy_sending_uses_infobips_own_body(
    engine: Engine, fake: tuple[FakeMembrane, str]
) -> None:
    membrane, url = fake
    clock = Clock()
    d = dispatcher(
        engine,
        url,
        clock,
        send_via_proxy=frozenset({"sms"}),
        notify_url="https://events.example.com/webhooks/sms",
    )
    action_id = put(engine, clock=clock)
    d.run_once()
    done = row(engine, action_id)
    assert done.state == "done"
    method, path, body = membrane.requests[0]
    assert (method, path) == ("POST", "sms/3/messages")
    message = body["messages"][0]
    assert message["destinations"] == [{"to": "41793026727", "messageId": done.tracking_id}]
    assert message["webhooks"]["delivery"]["url"] == "https://events.example.com/webhooks/sms"


@pytest.mark.slow
def test_sigkilled_worker_mid_action_loses_nothing_and_sends_once(
    engine: Engine, db_url: str, tmp_path: Any
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    membrane = FakeMembrane(knobs=Knobs(latency=1.5))
    with FakeApiServer(membrane) as server:
        ids = [
            put(engine, values={**SMS, "to": f"4179302670{i}"}, idem=f"kill-{i}") for i in range(5)
        ]
        env = {
            **os.environ,
            "INFOBIP_EVENTS_DATABASE_URL": db_url,
            "INFOBIP_EVENTS_MEMBRANE_TRANSPORT": "http",
            "INFOBIP_EVENTS_MEMBRANE_API_URL": server.url,
            "INFOBIP_EVENTS_MEMBRANE_TOKEN": "pat-fake",
            "INFOBIP_EVENTS_MEMBRANE_CONNECTION_ID": "con_fake",
            "INFOBIP_EVENTS_DISPATCH_LEASE_SECONDS": "3",
            "INFOBIP_EVENTS_LOG_FORMAT": "json",
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "events.cli", "worker"],
            env=env,
            stdout=(tmp_path / "w.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                if {row(engine, i).state for i in ids} == {"running"}:
                    break
                time.sleep(0.05)
            assert {row(engine, i).state for i in ids} == {"running"}
            time.sleep(0.5)  # the calls are on the wire, Membrane is working on them
        finally:
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        deadline = time.monotonic() + 10
        while sends(membrane) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sends(membrane) == 5  # the requests in flight went through
        time.sleep(3.2)  # the dead worker's leases expire
        membrane.knobs.latency = 0
        survivor = Dispatcher(
            engine, HttpClient(server.url, "con_fake", token="pat-fake"), dict(ACTIONS)
        )
        while survivor.run_once():
            pass
    states = [(row(engine, i).state, row(engine, i).last_error) for i in ids]
    assert states == [("done", "found in the logs")] * 5
    assert sends(membrane) == 5
