"""What the console's tests share: a dead action and a failed webhook put straight into the
database (as the dispatcher and an older parser would have left them), a delivery report."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from storage.db import write_transaction
from storage.ids import new_id
from storage.queries.outbox import ActionRow, enqueue_action
from storage.queries.raw import get_raw, insert_raw, raw_row

TOKEN = "console-test-token-1234"


def delivery_report(message_id: str, to: str = "41793026727", group: str = "DELIVERED") -> bytes:
    group_id = {"DELIVERED": 3, "UNDELIVERABLE": 2, "EXPIRED": 4, "REJECTED": 5}[group]
    item = {
        "messageId": message_id,
        "to": to,
        "sender": "InfoSMS",
        "status": {"groupId": group_id, "groupName": group, "id": 5, "name": f"{group}_X"},
        "doneAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }
    return json.dumps({"results": [item]}).encode()


def dead_action(engine: Engine, to: str = "+41793026727") -> str:
    """An SMS send that used its every attempt."""
    now = datetime.now(UTC)
    action_id = new_id()
    row: ActionRow = {
        "id": action_id,
        "idempotency_key": f"test:{action_id}",
        "action": "send-sms-message",
        "channel": "sms",
        "input": {"to": to, "text": "hello"},
        "tracking_id": None,
        "state": "dead",
        "attempts": 6,
        "max_attempts": 6,
        "next_attempt_at": now + timedelta(days=3650),
        "lease_until": None,
        "leased_by": None,
        "last_error": "Membrane answered 500 six times",
        "output": None,
        "message_ids": None,
        "caused_by_event_id": None,
        "created_at": now,
        "updated_at": now,
    }
    with write_transaction(engine) as conn:
        enqueue_action(conn, row)
    return action_id


def failed_webhook(engine: Engine, body: bytes, inbound: bool = False) -> str:
    """A webhook an older parser failed on: the body itself reads well today."""
    row = raw_row(
        channel="sms",
        body=body,
        content_type="application/json",
        headers={"content-type": "application/json"},
        remote_addr="127.0.0.1",
        inbound=inbound,
    )
    row.update(state="failed", attempts=1, error="ValueError: an older parser's bug")
    with write_transaction(engine) as conn:
        insert_raw(conn, [row])
    return row["id"]


def raw_state(engine: Engine, raw_id: str) -> str:
    with engine.connect() as conn:
        raw = get_raw(conn, raw_id)
    assert raw is not None
    return raw.state


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)
