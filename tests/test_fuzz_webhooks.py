"""No body gets a 5xx, every stored body reads back byte for byte, and one bad value never costs
the good items of its batch: hypothesis through the real ASGI app, on SQLite and PostgreSQL.

The number of examples is bounded (FUZZ_EXAMPLES per path) so that the suite stays quick;
scripts/fuzz_webhooks.py runs the same bodies thousands of times.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import Engine
from starlette.testclient import TestClient

from events.config import Settings
from events.process import Processor
from events.services import build_processor
from events.storable import NOTES_KEY
from tests.conftest import drain, fixture_bytes, post
from tests.fuzz_bodies import (
    BAD_VALUES,
    BODIES,
    CONTENT_TYPES,
    PATHS,
    BadBatch,
    Template,
    bad_batches,
    batch,
    check_any_body,
    check_bad_batch,
    read_back,
    with_bad_value,
)

FUZZ_EXAMPLES = 6  # per path and database
FUZZ = hsettings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    database=None,  # nothing written to .hypothesis/
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one app and database for all examples: intended
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture
def worker(settings: Settings, engine: Engine) -> Processor:
    """The processor as `serve` builds it (compliance and rules included)."""
    return build_processor(settings, engine)


@pytest.mark.parametrize("path", PATHS)
def test_no_body_gets_a_5xx_and_every_stored_body_reads_back(
    client: TestClient, worker: Processor, path: str
) -> None:
    @FUZZ
    @given(body=BODIES, content_type=st.sampled_from(CONTENT_TYPES))
    def fuzz(body: bytes, content_type: str) -> None:
        check_any_body(client, worker, path, body, content_type)

    fuzz()


def test_deeply_nested_masking_callbacks_get_the_fallback_answer_not_a_500(
    client: TestClient,
) -> None:
    """Infobip retries a 5xx: one such body used to be stored 15 times."""
    for body in (
        b"[" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b'{"results":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
        b'{"from":"41793026727","to":"41793026700","x":' + b"[" * 900 + b"]" * 900 + b"}",
    ):
        answer = post(client, "number-masking", body)
        assert answer.status_code == 200
        assert answer.headers["x-webhook-id"]


def test_one_bad_value_never_costs_the_good_items_of_its_batch(
    client: TestClient, worker: Processor
) -> None:
    @hsettings(FUZZ, max_examples=4 * FUZZ_EXAMPLES)
    @given(case=bad_batches())
    def fuzz(case: BadBatch) -> None:
        check_bad_batch(client, worker, case)

    fuzz()


# ---- one bad value in a 200-result SMS report, each kind the issue names ----------------------


@pytest.fixture
def sms_report() -> Iterator[list[dict[str, Any]]]:
    item = json.loads(fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))["results"][0]
    yield batch(Template("sms", "dlr_v3", item), 200, "sms200")


@pytest.mark.parametrize(
    ("bad", "path", "note"),
    [
        ("big int", ("messageCount",), "integer beyond 64 bits kept as text"),
        ("1e308", ("price", "pricePerMessage"), "number out of range kept as text"),
        ("lone surrogate", ("sender",), "lone surrogate replaced by U+FFFD"),
        ("NUL", ("callbackData",), "NUL removed"),
    ],
)
def test_a_200_result_report_with_one_bad_value_stores_199_as_they_are_and_notes_the_one(
    client: TestClient,
    worker: Processor,
    sms_report: list[dict[str, Any]],
    bad: str,
    path: tuple[str, ...],
    note: str,
) -> None:
    body = with_bad_value(sms_report, 57, path, BAD_VALUES[bad])
    answer = post(client, "sms", body)
    drain(worker)
    doc = read_back(client, answer.headers["x-webhook-id"], body)
    assert (doc["state"], doc["item_count"]) == ("processed", 200)
    events = sorted(doc["events"], key=lambda e: e["item_index"])
    assert [e["kind"] for e in events] == ["delivery"] * 200
    assert [i for i, e in enumerate(events) if e["note"]] == [57]
    notes = events[57]["data"][NOTES_KEY]
    assert f"{'.'.join(path)}: {note}" in notes
    assert note in events[57]["note"]
    assert client.get("/v1/messages/sms200-57").json()["state"] == "delivered"
    assert client.get("/v1/messages/sms200-58").json()["state"] == "delivered"


def test_an_item_the_database_still_refuses_becomes_an_unknown_event_with_the_reason(
    client: TestClient, worker: Processor
) -> None:
    """A call's duration beyond 64 bits is read into an integer column of the calls table: no
    cleaning of the event's data can help, so the second pass stores the item as unknown and
    the good body processed in the same batch is not held back."""
    call = json.loads(fixture_bytes("calls/derived_call_finished.json"))
    call["properties"]["callLog"]["duration"] = 2**70
    bad = post(client, "calls", json.dumps(call).encode())
    good = post(client, "sms", fixture_bytes("sms/dlr_v3_delivered_batch_of_2.json"))
    drain(worker)
    doc = read_back(client, bad.headers["x-webhook-id"], json.dumps(call).encode())
    assert doc["state"] == "processed"
    [event] = doc["events"]
    assert event["kind"] == "unknown"
    assert event["note"].startswith("item 0 could not be stored: ")
    assert "item 0 kept as unknown" in doc["error"]
    kinds = [
        e["kind"]
        for e in client.get(f"/v1/webhooks/{good.headers['x-webhook-id']}").json()["events"]
    ]
    assert kinds == ["delivery", "delivery"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"results":[' + b",".join([b"{}"] * 20_001) + b"]}", "20001 items in one body"),
        (b"[" * 100_000, "nested too deep"),
        (b'{"results":' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nested too deep"),
    ],
)
def test_bodies_past_the_parsing_limits_are_kept_failed_with_the_reason_never_processed(
    client: TestClient, worker: Processor, body: bytes, reason: str
) -> None:
    answer = post(client, "sms", body)
    assert answer.status_code == 200
    drain(worker)
    doc = read_back(client, answer.headers["x-webhook-id"], body)
    assert doc["state"] == "failed"
    assert reason in doc["error"]
    assert doc["events"] == []
