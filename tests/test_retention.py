"""Retention: pruning deletes processed raw webhooks and old events past their windows, in small
batches, and never pending or failed raw rows or anything newer than its window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from events.config import Settings
from events.process import Processor
from events.retention import Pruner, Retention, count, prune
from events.services import build_processor
from storage.db import write_transaction
from storage.models import (
    RAW_FAILED,
    RAW_PENDING,
    RAW_PROCESSED,
    balances,
    chat_sessions,
    events,
    membrane_answers,
    message_tags,
    messages,
    opt_out_audit,
    opt_outs,
    raw_webhooks,
)
from storage.queries.raw import insert_raw, raw_row
from tests.conftest import drain, inbound_sms

DAY = timedelta(days=1)


def raw(engine: Engine, body: bytes, channel: str = "sms") -> str:
    row = raw_row(
        channel=channel,
        body=body,
        content_type="application/json",
        headers={},
        remote_addr=None,
        inbound=True,
    )
    with write_transaction(engine) as conn:
        insert_raw(conn, [row])
    return row["id"]


def states(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(raw_webhooks.c.id, raw_webhooks.c.state))
        return {str(r[0]): str(r[1]) for r in rows}


def rows(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def world(engine: Engine, processor: Processor) -> dict[str, str]:
    """One processed, one failed and one pending raw webhook, received now."""
    processed = raw(engine, inbound_sms("hello", sender="41790000001", message_id="mo-a"))
    failed = raw(engine, b"this is not json")
    drain(processor)
    pending = raw(engine, inbound_sms("later", sender="41790000002", message_id="mo-b"))
    return {"processed": processed, "failed": failed, "pending": pending}


def test_prune_deletes_processed_raw_rows_past_the_window_never_pending_or_failed(
    engine: Engine, world: dict[str, str]
) -> None:
    assert states(engine)[world["processed"]] == RAW_PROCESSED
    keep_events = Retention(raw_days=30, events_days=0)
    now = datetime.now(UTC)
    # Inside the window: nothing goes.
    assert prune(engine, keep_events, now=now + 29 * DAY) == {"raw_webhooks": 0}
    assert len(states(engine)) == 3
    assert prune(engine, keep_events, now=now + 31 * DAY) == {"raw_webhooks": 1}
    assert states(engine) == {world["failed"]: RAW_FAILED, world["pending"]: RAW_PENDING}
    # Their events stay (only the raw body went), and the pending row still processes.
    assert rows(engine, events) == 1
    assert prune(engine, keep_events, now=now + 400 * DAY) == {"raw_webhooks": 0}
    assert set(states(engine)) == {world["failed"], world["pending"]}


def test_prune_deletes_events_messages_and_their_tags_past_their_window_not_the_opt_outs(
    engine: Engine, settings: Settings
) -> None:
    raw(engine, inbound_sms("STOP", sender="41790000003", message_id="mo-stop"))
    drain(build_processor(settings, engine))  # with compliance: the STOP is an opt-out
    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        conn.execute(
            message_tags.insert(),
            [
                {
                    "channel": "sms",
                    "message_id": "mo-stop",
                    "tag": "t",
                    "rule": None,
                    "created_at": now,
                }
            ],
        )
    policy = Retention(raw_days=0, events_days=400)
    assert not any(prune(engine, policy, now=now + 399 * DAY).values())
    assert (rows(engine, events), rows(engine, messages)) == (1, 1)
    done = prune(engine, policy, now=now + 401 * DAY)
    assert done["events"] == 1 and done["messages"] == 1
    assert "raw_webhooks" not in done  # a window of 0 keeps forever
    assert [rows(engine, t) for t in (events, messages, message_tags)] == [0, 0, 0]
    # The proof of consent stays.
    assert rows(engine, opt_outs) == 1 and rows(engine, opt_out_audit) >= 1
    assert rows(engine, raw_webhooks) == 1


def test_prune_goes_in_batches_with_progress_and_dry_run_counts_the_same(
    engine: Engine, processor: Processor
) -> None:
    for i in range(5):
        raw(engine, inbound_sms("hi", sender=f"4179000001{i}", message_id=f"mo-{i}"))
    drain(processor)
    later = datetime.now(UTC) + 31 * DAY
    policy = Retention(raw_days=30, events_days=0)
    assert count(engine, policy, later) == {"raw_webhooks": 5}
    seen: list[tuple[str, int]] = []
    done = prune(
        engine, policy, now=later, batch=2, pause=0, progress=lambda t, n: seen.append((t, n))
    )
    assert done == {"raw_webhooks": 5}
    assert seen == [("raw_webhooks", 2), ("raw_webhooks", 4), ("raw_webhooks", 5)]
    assert count(engine, policy, later) == {"raw_webhooks": 0}


def test_the_workers_pruner_runs_only_with_a_window_and_prunes_what_is_due(
    engine: Engine, world: dict[str, str]
) -> None:
    assert Retention(0, 0).keeps_everything
    pruner = Pruner(engine, Retention(raw_days=30, events_days=400))
    done = pruner.run_once()
    assert done and not any(done.values())  # nothing is old yet
    assert len(states(engine)) == 3


def test_db_prune_dry_run_counts_and_prune_deletes(
    monkeypatch: pytest.MonkeyPatch,
    db_url: str,
    engine: Engine,
    world: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from events.cli.main import main

    monkeypatch.setenv("INFOBIP_EVENTS_DATABASE_URL", db_url)
    monkeypatch.setenv("INFOBIP_EVENTS_LOG_FORMAT", "json")
    # A window of 0 days is "forever"; a raw window cannot be shorter than a day, so the rows
    # are aged instead: received 31 days ago (and their ids with them).
    with write_transaction(engine) as conn:
        conn.execute(raw_webhooks.update().values(received_at=datetime.now(UTC) - 31 * DAY))
    old_ids = {
        rid: f"{int((datetime.now(UTC) - 31 * DAY).timestamp() * 1000):012x}{rid[12:]}"
        for rid in states(engine)
    }
    with write_transaction(engine) as conn:
        for rid, new in old_ids.items():
            conn.execute(raw_webhooks.update().where(raw_webhooks.c.id == rid).values(id=new))
    assert main(["db", "prune", "--dry-run"]) == 0
    assert "raw_webhooks: 1 rows would be deleted" in capsys.readouterr().out
    assert len(states(engine)) == 3
    assert main(["db", "prune"]) == 0
    out, err = capsys.readouterr()
    assert "raw_webhooks: 1 rows deleted" in out and "raw_webhooks: 1 deleted" in err
    assert set(states(engine)) == {old_ids[world["failed"]], old_ids[world["pending"]]}


def test_prune_takes_the_account_history_sessions_and_verifications_past_the_events_window(
    engine: Engine,
) -> None:
    now = datetime.now(UTC)
    with write_transaction(engine) as conn:
        conn.execute(
            balances.insert(),
            [
                {
                    "checked_at": now,
                    "balance": Decimal("47.79"),
                    "currency": "EUR",
                    "answer_id": "a1",
                }
            ],
        )
        conn.execute(
            membrane_answers.insert(),
            [
                {
                    "id": "a1",
                    "purpose": "balance",
                    "call": "GET /account/1/balance",
                    "received_at": now,
                    "body": b"{}",
                }
            ],
        )
        conn.execute(
            chat_sessions.insert(),
            [
                {
                    "contact": "+41790000004",
                    "channel": "whatsapp",
                    "sender": "+41790000005",
                    "last_inbound_at": now,
                    "message_id": "wa-1",
                    "updated_at": now,
                }
            ],
        )
    tables = (balances, membrane_answers, chat_sessions)
    policy = Retention(raw_days=0, events_days=400)
    prune(engine, policy, now=now + 399 * DAY)
    assert [rows(engine, t) for t in tables] == [1, 1, 1]  # inside the window: kept
    done = prune(engine, policy, now=now + 401 * DAY)
    assert [rows(engine, t) for t in tables] == [0, 0, 0]
    assert done["balances"] == done["membrane_answers"] == done["chat_sessions"] == 1
