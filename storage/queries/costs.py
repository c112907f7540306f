"""The cost ledger: one line per priced message (or call), upserted once per processor batch,
and what the read API and the CLI ask of it (sums by a dimension, per currency; messages with
no priced report; the spend of a window)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy import ColumnElement, Connection, and_, func, select

from storage.models import costs, messages
from storage.queries._sql import encode_rows, placeholder

# amount_units are amounts in 10^-UNIT_DIGITS of a currency unit: Infobip's finest price.
UNIT_DIGITS = 10
GROUPS = ("day", "channel", "country", "application", "entity", "sender")


class CostRow(TypedDict):
    """A costs row as it is written (every column but its id)."""

    channel: str
    message_id: str
    currency: str
    amount: Decimal
    amount_units: int
    unit_price: Decimal
    units: Decimal
    unit: str
    country: str | None
    application_id: str | None
    entity_id: str | None
    sender: str | None
    priced_at: datetime
    source_event_id: int | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CostFilter:
    """The window (priced_at in [since, until)) and the filters of a cost query."""

    since: datetime | None = None
    until: datetime | None = None
    channel: str | None = None
    application_id: str | None = None
    entity_id: str | None = None


@dataclass(frozen=True, slots=True)
class CostGroup:
    """One group of the ledger in one currency."""

    key: str | None
    currency: str
    messages: int
    units: Decimal
    amount: Decimal


def to_units(amount: Decimal) -> int:
    return int(amount.scaleb(UNIT_DIGITS).to_integral_value())


def from_units(units: int | None) -> Decimal:
    return Decimal(units or 0).scaleb(-UNIT_DIGITS)


_UPDATED = (
    "currency",
    "amount",
    "amount_units",
    "unit_price",
    "units",
    "unit",
    "country",
    "application_id",
    "entity_id",
    "sender",
    "priced_at",
    "source_event_id",
    "updated_at",
)


COST_COLUMNS = tuple(c.name for c in costs.columns if c.name != "id")


def upsert_costs(conn: Connection, rows: Sequence[CostRow]) -> None:
    """New lines, and corrections: a line already there takes the new price unless it came
    from an older report (priced_at) than the one it holds. One executemany for the batch, at
    driver level (the processor's transaction waits for it)."""
    if not rows:
        return
    # The last line of a message within the batch wins, as it would across batches.
    latest: dict[tuple[str, str], CostRow] = {}
    for row in rows:
        key = (row["channel"], row["message_id"])
        if key not in latest or row["priced_at"] >= latest[key]["priced_at"]:
            latest[key] = row
    mark = placeholder(conn)
    updated = ",".join(f"{name} = excluded.{name}" for name in _UPDATED)
    sql = (
        f"INSERT INTO costs ({','.join(COST_COLUMNS)}) "
        f"VALUES ({','.join([mark] * len(COST_COLUMNS))}) "
        f"ON CONFLICT (channel, message_id) DO UPDATE SET {updated} "
        "WHERE excluded.priced_at >= costs.priced_at"
    )
    values = encode_rows(conn, costs, COST_COLUMNS, latest.values())
    conn.exec_driver_sql(sql, [tuple(v) for v in values])


def _day(conn: Connection) -> ColumnElement[Any]:
    """The UTC day of priced_at as YYYY-MM-DD (SQLite keeps UTC text; PostgreSQL timestamptz)."""
    if conn.dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", costs.c.priced_at), "YYYY-MM-DD")
    return func.substr(costs.c.priced_at, 1, 10)


def _group_column(conn: Connection, group_by: str) -> ColumnElement[Any]:
    if group_by == "day":
        return _day(conn)
    name = {"application": "application_id", "entity": "entity_id"}.get(group_by, group_by)
    column: ColumnElement[Any] = costs.c[name]
    return column


def _where(where: CostFilter) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    if where.since is not None:
        out.append(costs.c.priced_at >= where.since)
    if where.until is not None:
        out.append(costs.c.priced_at < where.until)
    for name in ("channel", "application_id", "entity_id"):
        value = getattr(where, name)
        if value is not None:
            out.append(costs.c[name] == value)
    return out


def cost_groups(conn: Connection, where: CostFilter, group_by: str) -> list[CostGroup]:
    """Sums by one dimension (GROUPS) and by currency: currencies are never added together."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by is one of {', '.join(GROUPS)}")
    key = _group_column(conn, group_by).label("key")
    stmt = (
        select(
            key,
            costs.c.currency,
            func.count(),
            func.sum(costs.c.amount_units),
        )
        .where(*_where(where))
        .group_by(key, costs.c.currency)
        .order_by(key, costs.c.currency)
    )
    unit_sums = _unit_sums(conn, where, key)
    return [
        CostGroup(
            key=None if k is None else str(k),
            currency=str(currency),
            messages=int(count),
            units=unit_sums.get((None if k is None else str(k), str(currency)), Decimal(0)),
            amount=from_units(total),
        )
        for k, currency, count, total in conn.execute(stmt)
    ]


def _unit_sums(
    conn: Connection, where: CostFilter, key: ColumnElement[Any]
) -> dict[tuple[str | None, str], Decimal]:
    """Billed units (message parts, seconds) per group, summed exactly in Python: they are
    kept as decimal text like every amount."""
    out: dict[tuple[str | None, str], Decimal] = {}
    stmt = select(key, costs.c.currency, costs.c.units).where(*_where(where))
    for k, currency, units in conn.execute(stmt):
        group = (None if k is None else str(k), str(currency))
        out[group] = out.get(group, Decimal(0)) + (units or Decimal(0))
    return out


def ledger_lines(conn: Connection, where: CostFilter, limit: int) -> list[dict[str, Any]]:
    """Ledger lines, oldest first (the CSV export)."""
    stmt = select(costs).where(*_where(where)).order_by(costs.c.priced_at, costs.c.id).limit(limit)
    return [dict(row._mapping) for row in conn.execute(stmt)]


def unpriced_counts(conn: Connection, where: CostFilter) -> dict[str, int]:
    """Messages of the window (by when they were first seen) with no priced report, by
    channel."""
    join = messages.outerjoin(
        costs,
        and_(costs.c.channel == messages.c.channel, costs.c.message_id == messages.c.message_id),
    )
    stmt = select(messages.c.channel, func.count()).select_from(join).where(costs.c.id.is_(None))
    if where.since is not None:
        stmt = stmt.where(messages.c.created_at >= where.since)
    if where.until is not None:
        stmt = stmt.where(messages.c.created_at < where.until)
    for name in ("channel", "application_id", "entity_id"):
        value = getattr(where, name)
        if value is not None:
            stmt = stmt.where(messages.c[name] == value)
    stmt = stmt.group_by(messages.c.channel).order_by(messages.c.channel)
    return {str(channel): int(count) for channel, count in conn.execute(stmt)}


def spend_since(conn: Connection, currency: str, since: datetime) -> Decimal:
    """What the ledger says was spent in this currency since then."""
    stmt = select(func.sum(costs.c.amount_units)).where(
        costs.c.currency == currency, costs.c.priced_at >= since
    )
    return from_units(conn.execute(stmt).scalar())
