"""The account as read from Infobip through Membrane: the raw answers, the balance history
and its alert flag, own numbers, CPaaS X applications and entities."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TypedDict

from sqlalchemy import Connection, delete, func, insert, select, update

from storage.ids import new_id
from storage.models import (
    account_alerts,
    applications,
    balances,
    entities,
    events,
    membrane_answers,
    own_numbers,
)
from storage.queries._sql import chunks, columns_of, insert_ignore, record, records


def insert_answer(conn: Connection, purpose: str, call: str, body: bytes, at: datetime) -> str:
    """Keep an answer exactly as it came; its id."""
    answer_id = new_id()
    conn.execute(
        insert(membrane_answers).values(
            id=answer_id, purpose=purpose, call=call, received_at=at, body=body
        )
    )
    return answer_id


# ---- the balance ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredBalance:
    id: int
    checked_at: datetime
    balance: Decimal
    currency: str
    answer_id: str


_BALANCE = columns_of(balances, StoredBalance)


def insert_balance(
    conn: Connection, at: datetime, balance: Decimal, currency: str, answer_id: str
) -> int:
    result = conn.execute(
        insert(balances)
        .values(checked_at=at, balance=balance, currency=currency, answer_id=answer_id)
        .returning(balances.c.id)
    )
    return int(result.scalar_one())


def latest_balance(conn: Connection) -> StoredBalance | None:
    stmt = select(*_BALANCE).order_by(balances.c.checked_at.desc(), balances.c.id.desc()).limit(1)
    return record(StoredBalance, conn.execute(stmt).first())


def balance_history(
    conn: Connection, since: datetime | None, before_id: int | None, limit: int
) -> list[StoredBalance]:
    """Newest first, below the cursor before_id."""
    stmt = select(*_BALANCE)
    if since is not None:
        stmt = stmt.where(balances.c.checked_at >= since)
    if before_id is not None:
        stmt = stmt.where(balances.c.id < before_id)
    return records(StoredBalance, conn.execute(stmt.order_by(balances.c.id.desc()).limit(limit)))


def switch_alert(conn: Connection, name: str, active: bool, at: datetime) -> bool:
    """Set the alert's flag; True when this call changed it (exactly one worker sees True for
    one crossing: the update is conditional)."""
    conn.execute(
        insert_ignore(conn, account_alerts, ["name"]).values(name=name, active=False, changed_at=at)
    )
    result = conn.execute(
        update(account_alerts)
        .where(account_alerts.c.name == name, account_alerts.c.active == (not active))
        .values(active=active, changed_at=at)
    )
    return result.rowcount == 1


def alert_active(conn: Connection, name: str) -> bool:
    found = conn.execute(
        select(account_alerts.c.active).where(account_alerts.c.name == name)
    ).scalar()
    return bool(found)


# ---- own numbers ------------------------------------------------------------------------------


class NumberRow(TypedDict):
    number: str
    number_key: str | None
    country: str | None
    type: str | None
    capabilities: list[str]
    synced_at: datetime


@dataclass(frozen=True, slots=True)
class StoredNumber:
    number: str
    number_key: str | None
    country: str | None
    type: str | None
    capabilities: list[str]
    synced_at: datetime


_NUMBER = columns_of(own_numbers, StoredNumber)


def replace_numbers(conn: Connection, rows: Sequence[NumberRow]) -> None:
    """The numbers Infobip lists now, and no others (a number given up is ours no more)."""
    conn.execute(delete(own_numbers))
    if rows:
        # Ignoring a number already there: another worker's sync of the same list, just now.
        conn.execute(insert_ignore(conn, own_numbers, ["number"]), list(rows))


def list_numbers(conn: Connection) -> list[StoredNumber]:
    return records(StoredNumber, conn.execute(select(*_NUMBER).order_by(own_numbers.c.number)))


def own_number_keys(conn: Connection) -> frozenset[str]:
    return frozenset(str(n) for n in conn.execute(select(own_numbers.c.number)).scalars())


def inbound_to_other_numbers(conn: Connection, since: datetime) -> int:
    """Inbound events since then whose recipient is not one of our numbers (marked by the
    processor in their data)."""
    flag = events.c.data["not_our_number"].as_boolean()
    stmt = select(func.count()).where(
        events.c.direction == "inbound", events.c.received_at >= since, flag.is_(True)
    )
    return int(conn.execute(stmt).scalar_one())


# ---- applications and entities ----------------------------------------------------------------


_DIRECTORY = {"application": (applications, "application_id"), "entity": (entities, "entity_id")}


def replace_directory(
    conn: Connection, kind: str, items: Iterable[tuple[str, str | None]], at: datetime
) -> int:
    """The applications (or entities) Infobip lists now, with their names."""
    table, key = _DIRECTORY[kind]
    rows = [{key: item_id, "name": name, "synced_at": at} for item_id, name in dict(items).items()]
    conn.execute(delete(table))
    if rows:
        conn.execute(insert_ignore(conn, table, [key]), rows)
    return len(rows)


def directory(conn: Connection, kind: str) -> list[tuple[str, str | None, datetime]]:
    table, key = _DIRECTORY[kind]
    stmt = select(table.c[key], table.c.name, table.c.synced_at).order_by(table.c[key])
    return [(str(i), n, at) for i, n, at in conn.execute(stmt)]


def names_of(conn: Connection, kind: str, ids: Iterable[str | None]) -> dict[str, str | None]:
    """The names of these applications (or entities) that are known."""
    table, key = _DIRECTORY[kind]
    wanted = sorted({i for i in ids if i})
    out: dict[str, str | None] = {}
    for chunk in chunks(wanted):
        stmt = select(table.c[key], table.c.name).where(table.c[key].in_(chunk))
        out.update({str(i): n for i, n in conn.execute(stmt)})
    return out
