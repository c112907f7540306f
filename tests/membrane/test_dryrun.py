"""The dry-run transport: reads no file, sends nothing, keeps what it was asked, and answers
as Infobip accepts a call (sends) or finds nothing (reads)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from events.membrane.catalogue import ACTIONS, message_ids
from events.membrane.client import MembraneError
from events.membrane.dryrun import PENDING, DryRunClient
from events.retry import Failure, classify

ROOT = Path(__file__).resolve().parents[2]

# In a fresh interpreter: import the transport, then watch every file opened while it answers
# each kind of call.
EVERY_CALL = """
import json, sys
from events.membrane.dryrun import DryRunClient
client = DryRunClient()
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == "open" else None)
client.run_action("send-sms-message", {"to": "41793026727", "text": "hi", "messageId": "ie-1"})
client.run_action("get-sms-message-logs", {"messageId": ["ie-1"]})
client.run_action("get-sms-delivery-reports", {"limit": 100})
client.request("GET", "/sms/1/inbox/reports")
client.request("POST", "/sms/3/messages", body={"messages": [{"destinations": [{"to": "1"}]}]})
client.list_actions()
client.list_connections()
print(json.dumps(opened))
"""


def test_the_dry_run_opens_no_file() -> None:
    done = subprocess.run(
        [sys.executable, "-c", EVERY_CALL],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize(
    ("key", "input"),
    [
        ("send-sms-message", {"to": "41793026727", "text": "hi", "messageId": "ie-1"}),
        ("send-email", {"to": "a@b.example", "subject": "Hi", "messageId": "ie-2"}),
        ("send-voice-message-tts", {"to": "41793026727", "text": "hi", "messageId": "ie-3"}),
    ],
)
def test_a_send_is_accepted_with_our_message_id_and_pending(
    key: str, input: dict[str, Any]
) -> None:
    result = DryRunClient().run_action(key, input)
    [message] = result.output["messages"]
    assert message["status"] == PENDING and message["to"] == input["to"]
    assert message_ids(result.output) == [input["messageId"]]
    assert result.output["bulkId"].startswith("dry-")
    assert result.action_run_id and result.action_run_id.startswith("dry-")


def test_a_whatsapp_send_answers_the_one_message_and_makes_up_an_id_when_given_none() -> None:
    output = (
        DryRunClient()
        .run_action(
            "send-whatsapp-text-message", {"from": "4411", "to": "41793026727", "text": "hi"}
        )
        .output
    )
    assert output["status"] == PENDING and output["messageCount"] == 1
    assert output["messageId"].startswith("dry-")


def test_a_send_to_several_recipients_gives_each_a_message() -> None:
    output = (
        DryRunClient()
        .run_action("send-sms-message", {"to": ["41790000001", "41790000002"], "text": "hi"})
        .output
    )
    assert [m["to"] for m in output["messages"]] == ["41790000001", "41790000002"]
    assert len(set(message_ids(output))) == 2


def test_a_send_through_the_proxy_keeps_the_ids_of_the_body() -> None:
    body = {
        "messages": [
            {"destinations": [{"to": "41790000001", "messageId": "ie-7"}], "content": {}},
        ]
    }
    output = DryRunClient().request("POST", "/sms/3/messages", body=body)
    assert message_ids(output) == ["ie-7"]
    whatsapp = DryRunClient().request(
        "POST", "/whatsapp/1/message/text", body={"to": "41790000001", "messageId": "ie-8"}
    )
    assert (whatsapp["messageId"], whatsapp["status"]) == ("ie-8", PENDING)


@pytest.mark.parametrize(
    "key",
    [
        "get-sms-message-logs",
        "get-email-logs",
        "get-sms-delivery-reports",
        "get-email-delivery-reports",
        "get-voice-delivery-reports",
    ],
)
def test_reads_of_logs_and_reports_find_nothing(key: str) -> None:
    assert DryRunClient().run_action(key, {"messageId": ["ie-1"]}).output == {"results": []}


def test_reads_through_the_proxy_find_nothing() -> None:
    client = DryRunClient()
    assert client.request("GET", "/sms/3/logs", query={"messageId": "ie-1"}) == {"results": []}
    assert client.request("GET", "/sms/1/inbox/reports") == {"results": []}


def test_no_pin_verifies_since_none_was_sent() -> None:
    client = DryRunClient()
    sent = client.run_action("send-tfa-pin-sms", {"applicationId": "app", "to": "41790000001"})
    pin_id = sent.output["pinId"]
    verified = client.run_action("verify-tfa-pin", {"pinId": pin_id, "pin": "1234"}).output
    assert (verified["pinId"], verified["verified"]) == (pin_id, False)


def test_the_actions_are_the_catalogue_with_its_required_fields_on_one_connection() -> None:
    client = DryRunClient()
    actions = {a.key: a for a in client.list_actions()}
    assert set(actions) == {k for k, a in ACTIONS.items() if not a.http}
    assert actions["send-sms-message"].input_schema["required"] == ["to", "text"]
    [connection] = client.list_connections()
    assert connection["id"] == client.connection_id and connection["state"] == "READY"


@pytest.mark.parametrize(
    ("key", "input", "status"),
    [
        ("send-fax", {}, 404),
        ("forward-http", {"url": "http://x"}, 404),  # the dispatcher's own, not Membrane's
        ("send-sms-message", {"text": "no recipient"}, 400),
    ],
)
def test_what_membrane_would_refuse_is_refused_and_permanent(
    key: str, input: dict[str, Any], status: int
) -> None:
    with pytest.raises(MembraneError) as refused:
        DryRunClient().run_action(key, input)
    assert refused.value.status == status
    assert classify(refused.value, sends=True) is Failure.PERMANENT


def test_it_keeps_the_latest_calls_and_no_more() -> None:
    client = DryRunClient(keep=3)
    for n in range(5):
        client.run_action("preview-sms-message", {"text": f"text {n}"})
    client.request("GET", "/sms/3/logs", query={"messageId": "ie-1"})
    assert [c.get("input", {}).get("text") for c in client.recorded] == ["text 3", "text 4", None]
    assert client.recorded[-1] == {
        "request": "GET /sms/3/logs",
        "body": None,
        "query": {"messageId": "ie-1"},
    }


@pytest.mark.parametrize(
    ("text", "parts", "remaining"),
    [("hello", 1, 155), ("x" * 160, 1, 0), ("x" * 161, 2, 145), ("x" * 306, 2, 0)],
)
def test_a_preview_counts_sms_parts(text: str, parts: int, remaining: int) -> None:
    [preview] = DryRunClient().run_action("preview-sms-message", {"text": text}).output["previews"]
    assert (preview["messageCount"], preview["charactersRemaining"]) == (parts, remaining)


# ---- issue 13: Number Lookup, 2FA, validation and preview under dry-run --------------------------


def test_a_dry_run_lookup_finds_nothing_and_an_asynchronous_one_is_only_accepted() -> None:
    client = DryRunClient()
    assert client.request("POST", "/number/1/query", body={"to": ["41793026727"]}) == {
        "results": []
    }
    accepted = client.request(
        "POST", "/number/1/notify", body={"to": ["41793026727"], "notifyUrl": "https://x"}
    )
    assert [(r["to"], r["status"]["groupName"]) for r in accepted["results"]] == [
        ("41793026727", "PENDING")
    ]
    assert "messages" not in accepted  # not mistaken for a send


def test_a_dry_run_preview_counts_parts_and_room_as_infobip_does() -> None:
    client = DryRunClient()
    gsm = client.run_action("preview-sms-message", {"text": "a" * 161}).output["previews"][0]
    ucs = client.run_action("preview-sms-message", {"text": "Привет"}).output["previews"][0]
    assert (gsm["messageCount"], gsm["charactersRemaining"]) == (2, 145)
    assert (ucs["messageCount"], ucs["charactersRemaining"]) == (1, 64)
