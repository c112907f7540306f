"""Number Masking sessions and callbacks, Calls records, Number Lookup records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from events.config import Settings
from storage.models import raw_webhooks
from tests.conftest import drain, fixture_bytes, make_client, post

CALLBACK = fixture_bytes("number-masking/callback_request.json")  # from 41793026727 to ...731


def callback(caller: str, dialled: str) -> bytes:
    doc = json.loads(CALLBACK)
    doc.update({"from": caller, "to": dialled})
    return json.dumps(doc).encode()


# Parties and the masking number, as people write them.
A, B, M = "+41 79 302 67 27", "41793026999", "0041 79 302 67 31"


def new_session(client: TestClient, **overrides: Any) -> dict[str, Any]:
    body = {
        "party_a": "+41 79 302 67 27",
        "party_b": "41793026999",
        "masking_number": "41793026731",
        "ttl_seconds": 600,
        **overrides,
    }
    response = client.post("/v1/masking/sessions", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_masking_callback_connects_caller_to_the_other_party(
    client: TestClient, engine: Engine
) -> None:
    session = new_session(client)
    assert session["party_a"] == "+41793026727"  # the contact key (E.164)
    response = post(client, "number-masking", callback("41793026727", "41793026731"))
    assert response.status_code == 200
    assert response.json() == {"phoneNumber": "41793026999", "callerId": "41793026731"}
    # Stored first, like any webhook.
    with engine.connect() as conn:
        ids = conn.execute(select(raw_webhooks.c.id)).scalars().all()
    assert response.headers["x-webhook-id"] in ids
    reverse = post(client, "number-masking", callback("41793026999", "41793026731"))
    assert reverse.json() == {"phoneNumber": "41793026727", "callerId": "41793026731"}


def test_masking_callback_from_a_stranger_gets_no_connection(client: TestClient) -> None:
    new_session(client)
    response = post(client, "number-masking", callback("38599999999", "41793026731"))
    assert response.json() == {}


@pytest.fixture
def with_fallback(db_url: str, engine: Engine) -> Iterator[TestClient]:
    settings = Settings(
        database_url=db_url,
        _env_file=None,  # type: ignore[call-arg]
        masking_fallback_file_url="https://example.com/sorry.mp3",
    )
    with make_client(settings, engine) as c:
        yield c


def test_masking_callback_with_expired_session_plays_the_fallback(
    with_fallback: TestClient, engine: Engine
) -> None:
    session = new_session(with_fallback)
    from storage.models import masking_sessions

    with engine.begin() as conn:
        conn.execute(
            masking_sessions.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    response = post(with_fallback, "number-masking", callback("41793026727", "41793026731"))
    assert response.json() == {"fileUrl": "https://example.com/sorry.mp3"}
    assert with_fallback.get(f"/v1/masking/sessions/{session['id']}").json()["live"] is False


def test_masking_callback_with_no_session_plays_the_fallback(with_fallback: TestClient) -> None:
    response = post(with_fallback, "number-masking", callback("41793026727", "41793026731"))
    assert response.json() == {"fileUrl": "https://example.com/sorry.mp3"}


def test_ended_session_no_longer_connects(client: TestClient) -> None:
    session = new_session(client)
    assert client.delete(f"/v1/masking/sessions/{session['id']}").json()["live"] is False
    assert client.delete(f"/v1/masking/sessions/{session['id']}").status_code == 404
    assert post(client, "number-masking", callback("41793026727", "41793026731")).json() == {}
    assert client.get("/v1/masking/sessions").json()["items"] == []
    assert len(client.get("/v1/masking/sessions", params={"all": "1"}).json()["items"]) == 1


def test_masking_status_report_gets_the_plain_ack(client: TestClient, processor: Any) -> None:
    response = post(client, "number-masking", fixture_bytes("number-masking/status_report.json"))
    assert response.json() == {"id": response.headers["x-webhook-id"]}
    drain(processor)
    event = client.get(f"/v1/webhooks/{response.headers['x-webhook-id']}").json()["events"][0]
    assert (event["kind"], event["sub_type"]) == ("masking_status", "answered")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"party_a": A, "party_b": "+41 79 302 67 27", "masking_number": M}, "same number"),
        ({"party_a": A, "party_b": B, "masking_number": "0041793026999"}, "cannot be one of"),
        ({"party_a": A, "party_b": B}, "'masking_number' is required"),
        (
            {"party_a": A, "party_b": B, "masking_number": M, "expires_at": "2001-01-01T00:00:00Z"},
            "in the past",
        ),
    ],
)
def test_bad_masking_sessions_are_refused_with_the_reason(
    client: TestClient, body: dict[str, Any], reason: str
) -> None:
    response = client.post("/v1/masking/sessions", json=body)
    assert response.status_code == 400
    assert reason in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"party_a": "abc", "party_b": B, "masking_number": M}, "party_a"),
        ({"party_a": A, "party_b": "1", "masking_number": M}, "party_b"),
        ({"party_a": A, "party_b": B, "masking_number": "079 302 67 31"}, "masking_number"),
    ],
)
def test_masking_parties_that_are_not_numbers_answer_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/masking/sessions", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field and field in response.json()["error"]


def test_call_record_follows_its_events_forward_only(client: TestClient, processor: Any) -> None:
    for name in (
        "derived_call_received",
        "derived_call_ringing",
        "call_established",
        "derived_dtmf_captured",
        "derived_call_finished",
    ):
        post(client, "calls", fixture_bytes(f"calls/{name}.json"))
    # A late, redelivered ringing event changes nothing.
    post(client, "calls", fixture_bytes("calls/derived_call_ringing.json"))
    drain(processor)
    call = client.get("/v1/calls/123e4567-e89b-12d3-a456-426614174000").json()
    assert call["state"] == "finished"
    assert call["duration_seconds"] == 65
    assert call["hangup_cause"] == "NORMAL_HANGUP"
    assert call["answered_at"] == "2024-06-14T09:12:00+00:00"
    assert call["ended_at"] == "2024-06-14T09:13:05+00:00"
    assert [e["sub_type"] for e in call["events"]] == [
        "CALL_RECEIVED",
        "CALL_RINGING",
        "CALL_ESTABLISHED",
        "DTMF_CAPTURED",
        "CALL_FINISHED",
    ]


def test_failed_call_keeps_its_cause(client: TestClient, processor: Any) -> None:
    post(client, "calls", fixture_bytes("calls/derived_call_failed.json"))
    drain(processor)
    call = client.get("/v1/calls/223e4567-e89b-12d3-a456-426614174999").json()
    assert (call["state"], call["hangup_cause"], call["direction"]) == (
        "failed",
        "NO_ANSWER",
        "outbound",
    )
    assert client.get("/v1/calls/nope").status_code == 404


def test_lookups_are_kept_per_number_newest_first(client: TestClient, processor: Any) -> None:
    post(client, "number-lookup", fixture_bytes("number-lookup/absent_subscriber_sdk_example.json"))
    drain(processor)
    post(client, "number-lookup", fixture_bytes("number-lookup/query_response_ported.json"))
    drain(processor)
    found = client.get("/v1/lookups/+41793026727").json()
    assert found["number"] == "41793026727"
    latest = found["latest"]
    assert (latest["outcome"], latest["reachable"], latest["ported"]) == ("DELIVERED", True, True)
    assert (latest["network"], latest["ported_network"]) == ("Swisscom", "Sunrise")
    assert found["history"][1]["error"] == {"name": "EC_ABSENT_SUBSCRIBER", "permanent": False}
    assert client.get("/v1/lookups/41000000000").status_code == 404


def test_masking_cli_creates_lists_and_ends(
    monkeypatch: pytest.MonkeyPatch, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from events.cli.main import main

    monkeypatch.setenv("INFOBIP_EVENTS_DATABASE_URL", db_url)
    assert main(["masking", "create", A, B, "--number", M, "--ttl", "60"]) == 0
    session_id = json.loads(capsys.readouterr().out)["id"]
    assert main(["masking", "list"]) == 0
    assert "+41793026727 <-> +41793026999 via +41793026731" in capsys.readouterr().out
    assert main(["masking", "create", "abc", B, "--number", M]) == 2
    assert main(["masking", "end", session_id]) == 0
    assert main(["masking", "end", session_id]) == 1
