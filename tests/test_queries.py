"""storage/queries/: every typed row names exactly the columns of its table, so a row that is
written has every column and a record that is read has every field (a migration that adds a
column must add it here too); the package re-exports nothing; storage never imports events."""

from __future__ import annotations

import ast
import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, Table

from events.states import CallState, MessageState
from storage import models
from storage.db import read_only_transaction, write_transaction
from storage.queries import calls, decisions, messages, optouts, outbox, raw, reconcile

ROOT = Path(__file__).resolve().parent.parent


def columns(table: Table, *, without_id: bool = False) -> set[str]:
    return {c.name for c in table.columns if not (without_id and c.name == "id")}


def keys(typed_dict: Any) -> set[str]:
    return set(typed_dict.__required_keys__ | typed_dict.__optional_keys__)


WRITTEN = [
    (raw.RawRow, models.raw_webhooks, False),
    (messages.EventRow, models.events, True),
    (messages.MessageRow, models.messages, True),
    (calls.CallRow, models.calls, True),
    (calls.LookupRow, models.lookups, True),
    (calls.SessionRow, models.masking_sessions, False),
    (outbox.ActionRow, models.outbox, False),
    (optouts.AuditRow, models.opt_out_audit, True),
    (optouts.ReviewRow, models.opt_out_reviews, False),
    (reconcile.RunRow, models.reconcile_runs, False),
    (decisions.DecisionRow, models.rule_decisions, True),
    (decisions.TagRow, models.message_tags, True),
]
READ = [
    (raw.StoredRaw, models.raw_webhooks),
    (messages.StoredEvent, models.events),
    (messages.StoredMessage, models.messages),
    (calls.StoredCall, models.calls),
    (calls.StoredLookup, models.lookups),
    (calls.StoredSession, models.masking_sessions),
    (outbox.StoredAction, models.outbox),
    (optouts.StoredOptOut, models.opt_outs),
    (optouts.StoredAudit, models.opt_out_audit),
    (optouts.StoredReview, models.opt_out_reviews),
    (reconcile.StoredRun, models.reconcile_runs),
    (decisions.StoredDecision, models.rule_decisions),
]


@pytest.mark.parametrize(
    ("row", "table", "without_id"), WRITTEN, ids=lambda x: getattr(x, "__name__", "")
)
def test_each_written_row_type_names_every_column_of_its_table(
    row: Any, table: Table, without_id: bool
) -> None:
    assert keys(row) == columns(table, without_id=without_id)


@pytest.mark.parametrize(("record", "table"), READ, ids=lambda x: getattr(x, "__name__", ""))
def test_each_read_record_has_a_field_for_every_column_and_is_frozen(
    record: Any, table: Table
) -> None:
    assert {f.name for f in dataclasses.fields(record)} == columns(table)
    assert record.__dataclass_params__.frozen
    assert hasattr(record, "__slots__")


def test_partial_rows_name_only_columns_of_their_table() -> None:
    assert keys(raw.RawOutcome) - {"raw_id"} <= columns(models.raw_webhooks)
    assert keys(calls.CallUpdate) - {"call_row_id"} <= columns(models.calls)
    assert keys(outbox.ActionOutcome) == set(outbox.FINISH_COLUMNS)
    assert keys(outbox.ActionChange) == set(outbox.FINISH_COLUMNS)
    assert keys(reconcile.RunEnd) <= columns(models.reconcile_runs)
    assert {f.name for f in dataclasses.fields(messages.MessageFacts)} <= columns(models.messages)


def test_the_state_machines_build_whole_rows() -> None:
    now = datetime.now(UTC)
    message = MessageState(channel="sms", message_id="m", direction="outbound", state="unknown")
    assert set(message.row(now, now)) == columns(models.messages, without_id=True)
    assert set(CallState(call_id="c").columns()) == keys(calls.CallFields)


def test_the_queries_package_re_exports_nothing() -> None:
    """Callers import the aggregate module they use; the package itself is a docstring."""
    tree = ast.parse((ROOT / "storage" / "queries" / "__init__.py").read_text())
    assert [type(n) for n in tree.body] == [ast.Expr]


def test_storage_never_imports_events() -> None:
    for path in (ROOT / "storage").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith("events"), path
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("events") for a in node.names), path


def test_a_claimed_action_comes_back_as_it_was_with_the_state_it_was_claimed_from(
    engine: Engine,
) -> None:
    now = datetime.now(UTC)
    row: outbox.ActionRow = {
        "id": "a1",
        "idempotency_key": "k1",
        "action": "send-sms-message",
        "channel": "sms",
        "input": {"to": "41793026727", "text": "hi"},
        "tracking_id": "ie-a1",
        "state": "pending",
        "attempts": 0,
        "max_attempts": 5,
        "next_attempt_at": now,
        "lease_until": None,
        "leased_by": None,
        "last_error": None,
        "output": None,
        "message_ids": None,
        "caused_by_event_id": None,
        "created_at": now,
        "updated_at": now,
    }
    with write_transaction(engine) as conn:
        assert outbox.enqueue_action(conn, row) == ("a1", True)
        (claimed,) = outbox.claim_actions(conn, now, 10, now, "w1")
    assert claimed.claimed_from == "pending"
    assert {f.name: getattr(claimed, f.name) for f in dataclasses.fields(outbox.StoredAction)} == {
        **row,
        "next_attempt_at": claimed.next_attempt_at,
        "created_at": claimed.created_at,
        "updated_at": claimed.updated_at,
    }
    assert claimed.next_attempt_at == now
    with engine.connect() as conn:
        stored = outbox.get_action(conn, "a1")
    assert stored is not None and (stored.state, stored.leased_by) == ("running", "w1")


def test_a_read_only_transaction_refuses_writes_and_leaves_the_connection_writable(
    engine: Engine,
) -> None:
    with (
        pytest.raises(Exception, match=r"(?i)read.only|readonly"),
        read_only_transaction(engine) as conn,
    ):
        conn.exec_driver_sql("DELETE FROM opt_outs")
    with write_transaction(engine) as conn:
        conn.exec_driver_sql("DELETE FROM opt_outs")


def test_row_builders_and_ids_come_from_storage_not_from_the_http_edge() -> None:
    """Only the web app (which mounts the receiver) imports events/ingest.py."""
    importers = set()
    for path in (ROOT / "events").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "events.ingest":
                importers.add(path.relative_to(ROOT).as_posix())
    assert importers <= {"events/api/app.py"}


def test_a_raw_row_that_carries_inbound_messages_is_claimed_first(engine: Engine) -> None:
    report = raw.raw_row(
        channel="sms", body=b"{}", content_type=None, headers={}, remote_addr=None, inbound=False
    )
    inbound = raw.raw_row(
        channel="sms", body=b"{}", content_type=None, headers={}, remote_addr=None, inbound=True
    )
    with write_transaction(engine) as conn:
        raw.insert_raw(conn, [report, inbound])
        claimed = raw.claim_raw(conn, 10, 5)
    assert [r.id for r in claimed] == [inbound["id"], report["id"]]
    assert claimed[0] == raw.StoredRaw(**{**inbound, "priority": 0})
