"""Bounded work per batch and between processes: a claim holds at most CLAIM_MAX_BYTES of
bodies (the first row whatever its size), the bulk insert keeps the order and the skips of
ON CONFLICT, and SQLite writers in two processes queue on the writer lock."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from events.channels.status import STATUS_COLUMNS
from storage.db import WriteBusy, make_engine, write_transaction
from storage.queries import raw
from storage.queries.messages import insert_events_ignoring_duplicates


def _row(size: int, inbound: bool = False) -> raw.RawRow:
    body = b'{"results":[' + b" " * max(0, size - 14) + b"]}"
    return raw.raw_row(
        channel="sms", body=body, content_type=None, headers={}, remote_addr=None, inbound=inbound
    )


def test_a_claim_stops_before_its_bodies_pass_the_byte_budget(engine: Engine) -> None:
    rows = sorted((_row(400) for _ in range(5)), key=lambda r: r["id"])  # the claim order
    with write_transaction(engine) as conn:
        raw.insert_raw(conn, rows)
        claimed = raw.claim_raw(conn, 10, 5, max_bytes=1000)
    assert [r.id for r in claimed] == [rows[0]["id"], rows[1]["id"]]
    assert claimed[1].body == rows[1]["body"]


def test_a_body_larger_than_the_budget_is_still_claimed_alone(engine: Engine) -> None:
    big, small = _row(5000), _row(10)
    big["id"], small["id"] = "0" * 32, "1" * 32  # the big one first in the claim order
    with write_transaction(engine) as conn:
        raw.insert_raw(conn, [small, big])
        claimed = raw.claim_raw(conn, 10, 5, max_bytes=1000)
    assert [r.id for r in claimed] == [big["id"]]


def test_the_byte_budget_keeps_the_claim_order(engine: Engine) -> None:
    report, inbound = _row(300), _row(300, inbound=True)
    with write_transaction(engine) as conn:
        raw.insert_raw(conn, [report, inbound])
        claimed = raw.claim_raw(conn, 10, 5, max_bytes=10_000)
    assert [r.id for r in claimed] == [inbound["id"], report["id"]]


def _event(key: str, index: int, raw_id: str) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "dedupe_key": key,
        "raw_id": raw_id,
        "item_index": index,
        "source": "webhook",
        "channel": "sms",
        "channel_uncertain": False,
        "kind": "delivery",
        "sub_type": None,
        "message_id": f"m-{key}",
        "direction": "outbound",
        "sender": None,
        "recipient": None,
        "occurred_at": now,
        "received_at": now,
        "data": {"price": {"pricePerMessage": 0.01}, "text": "tab\there\nnew line \\ slash"},
        "note": None,
        **dict.fromkeys((*STATUS_COLUMNS, "price_amount", "price_currency")),
    }


def test_bulk_event_insert_keeps_arrival_order_and_skips_known_keys(engine: Engine) -> None:
    row = _row(10)
    keys = ["z", "a", "m"]
    with write_transaction(engine) as conn:
        raw.insert_raw(conn, [row])
        first = insert_events_ignoring_duplicates(
            conn,
            [_event(k, i, row["id"]) for i, k in enumerate(keys)],  # type: ignore[misc]
        )
        # Twice in one transaction: the second sees none of the first's rows again.
        again = insert_events_ignoring_duplicates(
            conn,
            [_event(k, i, row["id"]) for i, k in enumerate(["a", "b"])],  # type: ignore[misc]
        )
    assert sorted(first, key=first.__getitem__) == keys  # ids follow the rows' order
    assert list(again) == ["b"]


HOLD = """
import sys, time
from events.channels.status import STATUS_COLUMNS
from storage.db import make_engine, write_transaction
engine = make_engine(sys.argv[1])
with write_transaction(engine):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_sqlite_writer_in_another_process_makes_a_non_waiting_writer_busy(
    tmp_path: pytest.TempPathFactory,
) -> None:
    url = f"sqlite:///{tmp_path}/w.db"
    engine = make_engine(url)
    with write_transaction(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, url, "3"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(WriteBusy), write_transaction(engine, wait=False):
            pass
        # A waiting writer gets the lock once the other process commits.
        with write_transaction(engine) as conn:
            conn.exec_driver_sql("INSERT INTO t VALUES (1)")
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar() == 1
        assert holder.wait(10) == 0
    finally:
        holder.kill()
        holder.wait()
    engine.dispose()
