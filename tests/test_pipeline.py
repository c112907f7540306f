"""The processor end to end on a real database: dedupe, order, bad input, replay, priority."""

from __future__ import annotations

import json
import threading
from typing import Any

from sqlalchemy import Engine, func, select

from events.channels import mms
from events.channels.registry import PARSERS
from events.process import Processor
from storage.models import events, messages, raw_webhooks
from tests.conftest import drain, fixture_bytes, post


def report(
    message_id: str, group_id: int, group_name: str, status_id: int, name: str, **extra: Any
) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "to": "41793026727",
        "sender": "InfoSMS",
        "status": {
            "groupId": group_id,
            "groupName": group_name,
            "id": status_id,
            "name": name,
            "description": name,
        },
        "sentAt": "2026-11-27T10:00:00.000+0000",
        "doneAt": "2026-11-27T10:00:05.000+0000",
        **extra,
    }


DELIVERED = (3, "DELIVERED", 5, "DELIVERED_TO_HANDSET")
PENDING = (1, "PENDING", 26, "PENDING_ACCEPTED")
UNDELIVERABLE = (2, "UNDELIVERABLE", 9, "UNDELIVERABLE_NOT_DELIVERED")


def body(*results: dict[str, Any]) -> bytes:
    return json.dumps({"results": list(results)}).encode()


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_redelivery_three_times_gives_one_event_per_item_and_unchanged_message(
    client: Any, processor: Processor, engine: Engine
) -> None:
    payload = fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json")
    assert post(client, "sms", payload).status_code == 200
    drain(processor)
    first = client.get("/v1/messages/MESSAGE-ID-123-xyz").json()
    for _ in range(2):
        assert post(client, "sms", payload).status_code == 200
        drain(processor)
    again = client.get("/v1/messages/MESSAGE-ID-123-xyz").json()
    assert count(engine, raw_webhooks) == 3
    assert count(engine, events) == 2
    assert count(engine, messages) == 2
    assert again == first
    assert len(again["events"]) == 1


def test_redelivery_inside_one_batch_is_also_one_event(
    client: Any, processor: Processor, engine: Engine
) -> None:
    item = report("dup-1", *DELIVERED)
    assert post(client, "sms", body(item, item)).status_code == 200
    assert post(client, "sms", body(item)).status_code == 200
    drain(processor)
    assert count(engine, events) == 1


def test_out_of_order_delivered_then_pending_stays_delivered_with_both_in_timeline(
    client: Any, processor: Processor
) -> None:
    post(client, "sms", body(report("ooo-1", *DELIVERED)))
    drain(processor)
    post(client, "sms", body(report("ooo-1", *PENDING)))
    drain(processor)
    message = client.get("/v1/messages/ooo-1").json()
    assert message["state"] == "delivered"
    assert message["status"]["name"] == "DELIVERED_TO_HANDSET"
    assert [e["status"]["group_name"] for e in message["events"]] == ["DELIVERED", "PENDING"]


def test_delivered_to_operator_is_upgraded_by_the_handset_report(
    client: Any, processor: Processor
) -> None:
    post(client, "sms", body(report("op-1", 3, "DELIVERED", 2, "DELIVERED_TO_OPERATOR")))
    drain(processor)
    assert client.get("/v1/messages/op-1").json()["state"] == "delivered"
    post(client, "sms", body(report("op-1", *UNDELIVERABLE)))
    drain(processor)
    message = client.get("/v1/messages/op-1").json()
    assert message["state"] == "undeliverable"
    assert message["status"]["id"] == 9


def test_mixed_batch_gives_each_item_its_state(client: Any, processor: Processor) -> None:
    payload = body(
        report("mix-d", *DELIVERED),
        report("mix-u", *UNDELIVERABLE),
        report("mix-p", *PENDING),
        report("mix-x", 9, "UNEXPECTED", 999, "SOMETHING_NEW"),
        report("mix-e", 4, "EXPIRED", 15, "EXPIRED_EXPIRED"),
        report("mix-r", 5, "REJECTED", 6, "REJECTED_NETWORK"),
    )
    assert post(client, "sms", payload).status_code == 200
    drain(processor)
    want = {
        "mix-d": "delivered",
        "mix-u": "undeliverable",
        "mix-p": "pending",
        "mix-x": "unknown",
        "mix-e": "expired",
        "mix-r": "rejected",
    }
    for message_id, state in want.items():
        message = client.get(f"/v1/messages/{message_id}").json()
        assert message["state"] == state, message_id
    unknown = client.get("/v1/messages/mix-x").json()
    assert unknown["status"]["group_name"] == "UNEXPECTED"


def test_unparseable_body_is_kept_as_failed_with_the_reason(
    client: Any, processor: Processor
) -> None:
    response = post(client, "sms", b'{"results": [ not json')
    assert response.status_code == 200
    drain(processor)
    raw = client.get(f"/v1/webhooks/{response.headers['x-webhook-id']}").json()
    assert raw["state"] == "failed"
    assert "not valid JSON" in raw["error"]
    assert raw["body"] == '{"results": [ not json'


def test_one_bad_item_never_fails_its_batch(client: Any, processor: Processor) -> None:
    payload = json.dumps(
        {
            "results": [
                report("good-1", *DELIVERED),
                "not an object",
                {"to": "41793026727", "status": {"groupId": 3}},
            ]
        }
    ).encode()
    other = post(client, "sms", body(report("good-2", *DELIVERED)))
    response = post(client, "sms", payload)
    drain(processor)
    raw = client.get(f"/v1/webhooks/{response.headers['x-webhook-id']}").json()
    assert raw["state"] == "processed"
    assert "item 1" in raw["error"] and "item 2" in raw["error"]
    assert [e["kind"] for e in raw["events"]] == ["delivery", "unknown", "unknown"]
    assert raw["events"][2]["note"] == "item 2: messageId is missing"
    assert client.get("/v1/messages/good-1").json()["state"] == "delivered"
    assert client.get(f"/v1/webhooks/{other.headers['x-webhook-id']}").json()["state"] == (
        "processed"
    )


def test_body_without_items_is_ignored(client: Any, processor: Processor) -> None:
    response = post(client, "sms", b'{"results": []}')
    drain(processor)
    assert client.get(f"/v1/webhooks/{response.headers['x-webhook-id']}").json()["state"] == (
        "ignored"
    )


def test_channel_without_parser_is_stored_then_replayed_once_a_parser_exists(
    client: Any, engine: Engine
) -> None:
    response = post(client, "mms", fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))
    assert response.status_code == 200
    webhook_id = response.headers["x-webhook-id"]
    # A release that had no MMS parser yet stored it as failed...
    drain(Processor(engine, {k: v for k, v in PARSERS.items() if k != "mms"}))
    raw = client.get(f"/v1/webhooks/{webhook_id}").json()
    assert raw["state"] == "failed" and "no parser" in raw["error"]
    # ...and the release that brings the parser replays it.
    fixed = Processor(engine, {**PARSERS, "mms": mms.parse})
    outcomes = fixed.process_ids([webhook_id])
    assert [o.state for o in outcomes] == ["processed"]
    assert outcomes[0].new_events == 2
    assert fixed.process_ids([webhook_id])[0].new_events == 0  # idempotent


def test_unknown_channel_is_404_and_nothing_is_stored(client: Any, engine: Engine) -> None:
    response = post(client, "telegram", b"{}")
    assert response.status_code == 404
    for method in ("GET", "PUT", "DELETE", "PATCH", "HEAD"):
        assert client.request(method, "/webhooks/telegram").status_code == 404, method
    # A known path answers 405 to what is not a POST: the address is right, the method not.
    assert client.get("/webhooks/sms").status_code == 405
    assert count(engine, raw_webhooks) == 0


def test_inbound_messages_are_processed_before_delivery_reports(
    client: Any, engine: Engine
) -> None:
    for i in range(5):
        post(client, "sms", body(report(f"flood-{i}", *DELIVERED)))
    inbound = post(client, "sms", fixture_bytes("sms/inbound_mo_json_2_keyword_quiz.json"))
    first = Processor(engine, PARSERS, batch_size=1).run_once()
    assert [o.raw_id for o in first] == [inbound.headers["x-webhook-id"]]


def test_two_processors_never_process_the_same_row(client: Any, engine: Engine) -> None:
    ids = [
        post(client, "sms", body(report(f"par-{i}", *DELIVERED))).headers["x-webhook-id"]
        for i in range(120)
    ]
    seen: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        p = Processor(engine, PARSERS, batch_size=7)
        while True:
            outcomes = p.run_once()
            if not outcomes:
                return
            with lock:
                seen.extend(o.raw_id for o in outcomes)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == sorted(ids)
    with engine.connect() as conn:
        attempts = conn.execute(select(raw_webhooks.c.attempts)).scalars().all()
    assert set(attempts) == {1}
    assert count(engine, events) == 120


def test_one_log_line_per_webhook_with_its_id_and_no_body(
    client: Any, processor: Processor, capsys: Any
) -> None:
    import structlog

    from events.logs import configure_logging

    configure_logging("INFO", "json")
    try:
        webhook = post(client, "sms", fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))
        capsys.readouterr()
        drain(processor)
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    finally:
        structlog.reset_defaults()
    assert len(lines) == 1
    line = lines[0]
    assert line["id"] == webhook.headers["x-webhook-id"]
    assert (line["channel"], line["items"], line["outcome"]) == ("sms", 2, "processed")
    assert isinstance(line["ms"], float)
    assert "InfoSMS" not in json.dumps(line)  # nothing of the body


def test_xml_bomb_posted_as_a_webhook_is_kept_failed_and_expands_nothing(
    client: Any, processor: Processor, engine: Engine
) -> None:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
        b"<DeliveryReports><results><result><messageId>&lol3;</messageId></result>"
        b"</results></DeliveryReports>"
    )
    external = (
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<DeliveryReports><results><result><messageId>&x;</messageId></result>"
        b"</results></DeliveryReports>"
    )
    ids = [
        post(client, channel, body, "application/xml").headers["x-webhook-id"]
        for channel, body in (("sms", bomb), ("mms", external), ("auto", bomb))
    ]
    drain(processor)
    for webhook_id in ids:
        raw = client.get(f"/v1/webhooks/{webhook_id}").json()
        assert raw["state"] == "failed"
        assert "refused for safety" in raw["error"]
        assert raw["events"] == []
    assert count(engine, events) == 0
