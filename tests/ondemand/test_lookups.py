"""Number Lookup on demand (issue 13, item 5): through the fake Membrane's proxy, the answer kept
raw before it becomes lookup records, a cache for LOOKUP_TTL, the asynchronous variant with
PUBLIC_URL, and a slow or failing Membrane that never holds a webhook."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from events.cli.lookups import describe
from events.cli.main import main
from events.lookups_on_demand import LookupResult
from storage.models import raw_webhooks
from tests.conftest import drain, fixture_bytes, post
from tests.ondemand.world import world

NUMBER = "+41 79 302 67 27"
KEY = "+41793026727"


def lookup_calls(membrane: Any) -> list[tuple[str, str, Any]]:
    return [r for r in membrane.requests if r[1].startswith("number/")]


def test_a_lookup_asks_infobip_keeps_the_answer_raw_and_makes_a_lookup_record(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with world(db_url, engine, tmp_path) as w:
        response = w.client.post("/v1/lookups", json={"numbers": [NUMBER]})
        assert response.status_code == 200, response.text
        doc = response.json()
        assert doc["mode"] == "query"
        [item] = doc["items"]
        assert (item["number"], item["source"], item["reachable"]) == (KEY, "infobip", True)
        assert item["lookup"]["network"] == "Swisscom"
        [(method, path, body)] = lookup_calls(w.membrane)
        assert (method, path, body) == ("POST", "number/1/query", {"to": ["41793026727"]})
        # Kept raw (the processor's input) before it became the record.
        with engine.connect() as conn:
            raw = conn.execute(
                select(raw_webhooks).where(raw_webhooks.c.id == item["lookup"]["webhook_id"])
            ).one()
        assert (raw.source, raw.channel, raw.state) == ("membrane", "number-lookup", "processed")
        assert json.loads(raw.body)["results"][0]["to"] == "41793026727"
        history = w.client.get(f"/v1/lookups/{KEY}").json()
        assert history["latest"]["webhook_id"] == raw.id


def test_a_result_younger_than_the_ttl_is_reused_and_refresh_asks_again(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with world(db_url, engine, tmp_path, lookup_ttl="1h") as w:
        first = w.client.post("/v1/lookups", json={"numbers": [NUMBER]}).json()["items"][0]
        again = w.client.post("/v1/lookups", json={"numbers": ["0041793026727"]}).json()
        assert again["items"][0]["source"] == "cache"
        assert again["items"][0]["lookup"] == first["lookup"]
        assert len(lookup_calls(w.membrane)) == 1
        fresh = w.client.post("/v1/lookups", json={"numbers": [NUMBER], "refresh": True}).json()
        assert fresh["items"][0]["source"] == "infobip"
        assert len(lookup_calls(w.membrane)) == 2


def test_an_unreachable_number_reads_unreachable_with_infobips_reason(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    absent = json.loads(fixture_bytes("number-lookup/absent_subscriber_sdk_example.json"))
    with world(db_url, engine, tmp_path) as w:
        w.membrane.infobip.hlr["41793026727"] = absent["results"][0]
        [item] = w.client.post("/v1/lookups", json={"numbers": [NUMBER]}).json()["items"]
        assert item["reachable"] is False
        assert item["lookup"]["error"]["name"] == "EC_ABSENT_SUBSCRIBER"


def test_with_a_public_url_the_lookup_is_asynchronous_and_its_callback_is_the_record(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    overrides: dict[str, Any] = {
        "public_url": "https://events.example.com/",
        "webhook_token": "s3cret",
    }
    with world(db_url, engine, tmp_path, **overrides) as w:
        doc = w.client.post("/v1/lookups", json={"numbers": [NUMBER]}).json()
        assert doc["mode"] == "notify"
        assert [i["source"] for i in doc["items"]] == ["pending"]
        [(_, path, body)] = lookup_calls(w.membrane)
        assert path == "number/1/notify"
        assert body["notifyUrl"] == (
            "https://events.example.com/webhooks/number-lookup?token=s3cret"
        )
        # The acknowledgement is kept, not parsed into a record.
        with engine.connect() as conn:
            kept = conn.execute(
                select(raw_webhooks.c.channel, raw_webhooks.c.state).where(
                    raw_webhooks.c.source == "membrane"
                )
            ).all()
        assert [tuple(k) for k in kept] == [("lookup-request", "ignored")]
        assert w.client.get(f"/v1/lookups/{KEY}").status_code == 404
        # Infobip posts the result later, to the URL it was given.
        [(url, callback)] = w.membrane.infobip.notified
        assert url == body["notifyUrl"]
        response = post(
            w.client, "number-lookup", json.dumps(callback).encode(), params={"token": "s3cret"}
        )
        assert response.status_code == 200
        drain(w.processor)
        assert w.client.get(f"/v1/lookups/{KEY}").json()["latest"]["reachable"] is True


def test_a_failing_membrane_answers_each_number_failed(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with world(db_url, engine, tmp_path) as w:
        w.membrane.knobs.fail_status = 500
        response = w.client.post("/v1/lookups", json={"numbers": [NUMBER, "+41 79 302 67 28"]})
        assert response.status_code == 502
        assert {i["source"] for i in response.json()["items"]} == {"failed"}
        assert "500" in response.json()["items"][0]["error"]


def test_a_hanging_membrane_never_holds_a_webhook_and_a_full_pool_answers_503(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    overrides: dict[str, Any] = {"on_demand_concurrency": 1, "membrane_timeout_seconds": 3}
    with world(db_url, engine, tmp_path, **overrides) as w:
        w.membrane.knobs.hang = True
        answers: list[Any] = []
        asking = threading.Thread(
            target=lambda: answers.append(w.client.post("/v1/lookups", json={"numbers": [NUMBER]}))
        )
        asking.start()
        while w.membrane.hung == 0 and asking.is_alive():  # until Membrane holds the call
            threading.Event().wait(0.01)
        # While Membrane hangs: a webhook is stored and acknowledged ...
        acked = post(w.client, "sms", fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))
        assert acked.status_code == 200
        # ... and another on-demand call is refused at once rather than queued behind it.
        busy = w.client.post("/v1/lookups", json={"numbers": ["+41 79 302 67 28"]})
        assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
        assert asking.is_alive()  # the first lookup is still waiting for Membrane
        asking.join(30)
        assert answers[0].status_code == 502  # it ended by the transport's timeout
        assert answers[0].json()["items"][0]["source"] == "failed"


def test_bad_numbers_are_refused_naming_the_field(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with world(db_url, engine, tmp_path) as w:
        not_a_number = w.client.post("/v1/lookups", json={"numbers": ["hello"]})
        assert not_a_number.status_code == 422 and not_a_number.json()["field"] == "numbers"
        assert w.client.post("/v1/lookups", json={"numbers": []}).status_code == 400
        too_many = w.client.post("/v1/lookups", json={"numbers": [NUMBER] * 101})
        assert too_many.status_code == 400
        assert lookup_calls(w.membrane) == []


def test_the_cli_line_says_reachability_network_and_source() -> None:
    from datetime import UTC, datetime

    from storage.queries.calls import StoredLookup

    row = StoredLookup(
        1,
        "41793026727",
        "k",
        "r",
        "22801",
        "Swisscom",
        True,
        "Salt",
        True,
        "Tele2",
        "DELIVERED",
        "NO_ERROR",
        False,
        datetime(2026, 12, 6, tzinfo=UTC),
    )
    line = describe(LookupResult(KEY, "cache", row))
    assert line.startswith(f"{KEY}  reachable on Salt, ported, roaming  (cache, 2026-12-06")


def test_the_lookup_command_prints_each_number_and_exits_1_when_one_failed(
    db_url: str,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with world(db_url, engine, tmp_path) as w:
        w.environment(monkeypatch)
        capsys.readouterr()  # the app's start-up lines
        assert main(["lookup", NUMBER, "--json"]) == 0
        [line] = capsys.readouterr().out.splitlines()
        assert json.loads(line) | {"looked_up_at": None} == {
            "number": KEY,
            "source": "infobip",
            "reachable": True,
            "network": "Swisscom",
            "ported": False,
            "roaming": False,
            "outcome": "DELIVERED",
            "error": "NO_ERROR",
            "looked_up_at": None,
        }
        assert main(["lookup", NUMBER]) == 0
        assert "reachable on Swisscom  (cache" in capsys.readouterr().out
        w.membrane.knobs.fail_status = 500
        assert main(["lookup", NUMBER, "--refresh"]) == 1
        assert "failed" in capsys.readouterr().out
        assert main(["lookup", "not-a-number"]) == 2


def test_asking_again_records_a_new_lookup_even_when_infobip_says_the_same(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    from storage.models import lookups

    with world(db_url, engine, tmp_path) as w:
        w.client.post("/v1/lookups", json={"numbers": [NUMBER]})
        both = [NUMBER, "+41 79 302 67 28"]
        doc = w.client.post("/v1/lookups", json={"numbers": both, "refresh": True}).json()
        assert [i["source"] for i in doc["items"]] == ["infobip", "infobip"]
        with engine.connect() as conn:
            numbers = sorted(r[0] for r in conn.execute(select(lookups.c.number)))
        assert numbers == ["41793026727", "41793026727", "41793026728"]
