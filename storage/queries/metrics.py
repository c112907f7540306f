"""What the metrics read from the database at each scrape: the raw inbox backlog, the outbox by
state and the last reconciliation (cheap: indexed columns, one row per state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, func, select

from storage.models import RAW_PENDING, outbox, raw_webhooks, reconcile_runs
from storage.queries.account import latest_balance


@dataclass(frozen=True)
class ServiceState:
    pending: int = 0
    oldest_pending: datetime | None = None
    outbox: dict[str, int] = field(default_factory=dict)
    last_still_missing: int = 0
    last_run_finished: datetime | None = None
    # The account's last balance read (Decimal as float: a gauge), with its currency.
    balance: tuple[float, str] | None = None


def state(conn: Connection) -> ServiceState:
    pending, oldest = conn.execute(
        select(func.count(), func.min(raw_webhooks.c.received_at)).where(
            raw_webhooks.c.state == RAW_PENDING
        )
    ).one()
    # Done actions are history: only the states an operator watches are counted.
    depth = conn.execute(
        select(outbox.c.state, func.count())
        .where(outbox.c.state != "done")
        .group_by(outbox.c.state)
    ).all()
    last = conn.execute(
        select(reconcile_runs.c.still_missing, reconcile_runs.c.finished_at)
        .where(reconcile_runs.c.state == "done", reconcile_runs.c.dry_run.is_(False))
        .order_by(reconcile_runs.c.started_at.desc())
        .limit(1)
    ).first()
    found = latest_balance(conn)
    return ServiceState(
        pending=int(pending),
        oldest_pending=oldest,
        outbox={str(s): int(n) for s, n in depth},
        last_still_missing=int(last[0]) if last else 0,
        last_run_finished=last[1] if last else None,
        balance=(float(found.balance), found.currency) if found else None,
    )
