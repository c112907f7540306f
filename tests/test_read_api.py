"""The read API: shapes of the contract, filters, cursor paging, errors that say what to do."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from events.process import Processor
from tests.conftest import drain, fixture_bytes, post


def report(message_id: str, to: str = "41793026727") -> dict[str, Any]:
    return {
        "messageId": message_id,
        "to": to,
        "sender": "InfoSMS",
        "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"},
        "price": {"pricePerMessage": 0.0001000000, "currency": "EUR"},
        "doneAt": "2026-11-27T10:00:05.000-0300",
    }


def test_message_has_every_contract_field_with_decimal_price_and_offset_times(
    client: Any, processor: Processor
) -> None:
    post(client, "sms", fixture_bytes("sms/dlr_v1_legacy_sentAt_without_offset.json"))
    drain(processor)
    message = client.get("/v1/messages/c9823180-94d4-4ea0-9bf3-ec907e7534a6").json()
    for name in (
        "message_id",
        "channel",
        "direction",
        "state",
        "status",
        "error",
        "sender",
        "recipient",
        "bulk_id",
        "callback_data",
        "price",
        "sent_at",
        "done_at",
        "seen_at",
        "events",
    ):
        assert name in message
    assert set(message["status"]) == {"group_id", "group_name", "id", "name", "description"}
    assert set(message["error"]) == {
        "group_id",
        "group_name",
        "id",
        "name",
        "description",
        "permanent",
    }
    assert message["price"] == {"amount": "0.0001000000", "currency": "EUR"}
    assert Decimal(message["price"]["amount"]) == Decimal("0.0001")
    assert message["sent_at"] == "2015-06-04T13:01:52.933000+00:00"
    assert message["done_at"] == "2015-06-04T13:02:00.134000+00:00"


def test_lists_are_newest_first_and_cursor_paged(client: Any, processor: Processor) -> None:
    for i in range(5):
        post(client, "sms", json.dumps({"results": [report(f"page-{i}")]}).encode())
    drain(processor)
    first = client.get("/v1/messages", params={"limit": 2}).json()
    assert [m["message_id"] for m in first["items"]] == ["page-4", "page-3"]
    second = client.get("/v1/messages", params={"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [m["message_id"] for m in second["items"]] == ["page-2", "page-1"]
    third = client.get("/v1/messages", params={"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [m["message_id"] for m in third["items"]] == ["page-0"]
    assert third["next_cursor"] is None


def test_filters_narrow_messages_and_events(client: Any, processor: Processor) -> None:
    post(client, "sms", json.dumps({"results": [report("f-1", to="111"), report("f-2")]}).encode())
    post(client, "sms", fixture_bytes("sms/inbound_mo_json_2_keyword_quiz.json"))
    drain(processor)
    by_recipient = client.get("/v1/messages", params={"recipient": "111"}).json()["items"]
    assert [m["message_id"] for m in by_recipient] == ["f-1"]
    inbound = client.get("/v1/messages", params={"direction": "inbound"}).json()["items"]
    assert [m["state"] for m in inbound] == ["received"]
    kinds = client.get("/v1/events", params={"kind": "inbound"}).json()["items"]
    assert [e["message_id"] for e in kinds] == ["817790313235066447"]
    recent = client.get("/v1/events", params={"since": "1h"}).json()["items"]
    assert len(recent) == 3


def test_bad_query_parameters_are_400_with_a_reason(client: Any) -> None:
    assert "limit" in client.get("/v1/events", params={"limit": "lots"}).json()["error"]
    assert client.get("/v1/events", params={"limit": 0}).status_code == 400
    response = client.get("/v1/messages", params={"since": "yesterday"})
    assert response.status_code == 400 and "ISO 8601" in response.json()["error"]
    assert client.get("/v1/events", params={"cursor": "abc"}).status_code == 400


def test_unknown_ids_are_404(client: Any) -> None:
    assert client.get("/v1/webhooks/nope").status_code == 404
    assert client.get("/v1/messages/nope").status_code == 404


def test_same_message_id_on_two_channels_asks_for_the_channel(
    client: Any, processor: Processor
) -> None:
    payload = json.dumps({"results": [report("shared-id")]}).encode()
    post(client, "sms", payload)
    post(client, "whatsapp", payload)
    drain(processor)
    response = client.get("/v1/messages/shared-id")
    assert response.status_code == 409
    assert sorted(response.json()["channels"]) == ["sms", "whatsapp"]
    assert (
        client.get("/v1/messages/shared-id", params={"channel": "whatsapp"}).json()["channel"]
        == "whatsapp"
    )


def test_health_and_readiness(client: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
