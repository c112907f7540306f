"""The account: the balance (latest, alert, hours left, history), the cost ledger summed by a
dimension, own numbers, and CPaaS X applications and entities (events/account.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from events.account import BALANCE_LOW, hours_left
from events.api.common import BadQuery, page_size, reader
from events.api.models import Amount, Model, Time
from events.api.spec import Endpoints, Param
from events.services import Services
from events.times import parse_since
from storage.queries import account as account_q
from storage.queries import costs as costs_q


class BalanceReading(Model):
    id: int
    checked_at: Time
    balance: Amount
    currency: str


class BalanceAlert(Model):
    below: Amount | None
    active: bool


class BalanceAnswer(Model):
    latest: BalanceReading | None
    hours_left: float | None
    alert: BalanceAlert
    history: list[BalanceReading]
    next_cursor: str | None


class CostGroup(Model):
    key: str | None
    name: str | None
    currency: str
    messages: int
    units: Amount
    amount: Amount


class CostTotal(Model):
    currency: str
    messages: int
    amount: Amount


class Unpriced(Model):
    messages: int
    by_channel: dict[str, int]


class CostAnswer(Model):
    since: Time | None
    until: Time | None
    group_by: str
    groups: list[CostGroup]
    totals: list[CostTotal]
    unpriced: Unpriced


class OwnNumber(Model):
    number: str
    number_key: str | None
    country: str | None
    type: str | None
    capabilities: list[str]
    synced_at: Time


class NumbersAnswer(Model):
    items: list[OwnNumber]
    configured: list[str]
    inbound_to_other_numbers_24h: int


class DirectoryItem(Model):
    id: str
    name: str | None
    synced_at: Time


class DirectoryAnswer(Model):
    items: list[DirectoryItem]


def _reading(row: account_q.StoredBalance) -> BalanceReading:
    return BalanceReading(
        id=row.id, checked_at=row.checked_at, balance=row.balance, currency=row.currency
    )


def get_balance(request: Request, s: Services) -> BalanceAnswer:
    params = request.query_params
    since = _time(params.get("since"), "since")
    cursor = _cursor(params.get("cursor"))
    limit = page_size(request)
    with s.engine.connect() as conn:
        latest = account_q.latest_balance(conn)
        hours = (
            hours_left(conn, latest.balance, latest.currency, datetime.now(UTC)) if latest else None
        )
        history = account_q.balance_history(conn, since, cursor, limit)
        active = account_q.alert_active(conn, BALANCE_LOW)
    return BalanceAnswer(
        latest=_reading(latest) if latest else None,
        hours_left=hours,
        alert=BalanceAlert(below=s.settings.balance_alert_below, active=active),
        history=[_reading(r) for r in history],
        next_cursor=str(history[-1].id) if len(history) == limit else None,
    )


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return parse_since(value)
    except ValueError as exc:
        raise BadQuery(f"{name}: {exc}") from None


def _cursor(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise BadQuery("cursor must be the next_cursor of a previous page") from None


def cost_filter(params: Any) -> costs_q.CostFilter:
    """The window (from, to: ISO 8601 or an age; default the last 30 days) and the filters."""
    since = _time(params.get("from"), "from") or datetime.now(UTC) - timedelta(days=30)
    return costs_q.CostFilter(
        since=since,
        until=_time(params.get("to"), "to"),
        channel=params.get("channel") or None,
        application_id=params.get("application_id") or None,
        entity_id=params.get("entity_id") or None,
    )


def cost_answer(s: Services, where: costs_q.CostFilter, group_by: str) -> CostAnswer:
    if group_by not in costs_q.GROUPS:
        raise BadQuery(f"group_by is one of {', '.join(costs_q.GROUPS)}, not {group_by!r}")
    with s.engine.connect() as conn:
        groups = costs_q.cost_groups(conn, where, group_by)
        unpriced = costs_q.unpriced_counts(conn, where)
        names = (
            account_q.names_of(conn, group_by, [g.key for g in groups])
            if group_by in ("application", "entity")
            else {}
        )
    totals: dict[str, tuple[int, Decimal]] = {}
    for g in groups:  # per currency: never one sum of several
        count, amount = totals.get(g.currency, (0, Decimal(0)))
        totals[g.currency] = (count + g.messages, amount + g.amount)
    return CostAnswer(
        since=where.since,
        until=where.until,
        group_by=group_by,
        groups=[
            CostGroup(
                key=g.key,
                name=names.get(g.key or ""),
                currency=g.currency,
                messages=g.messages,
                units=g.units,
                amount=g.amount,
            )
            for g in groups
        ],
        totals=[
            CostTotal(currency=c, messages=n, amount=a) for c, (n, a) in sorted(totals.items())
        ],
        unpriced=Unpriced(messages=sum(unpriced.values()), by_channel=unpriced),
    )


def get_costs(request: Request, s: Services) -> CostAnswer:
    params = request.query_params
    return cost_answer(s, cost_filter(params), params.get("group_by") or "day")


def get_numbers(_request: Request, s: Services) -> NumbersAnswer:
    with s.engine.connect() as conn:
        rows = account_q.list_numbers(conn)
        other = account_q.inbound_to_other_numbers(conn, datetime.now(UTC) - timedelta(hours=24))
    return NumbersAnswer(
        items=[
            OwnNumber(
                number=r.number,
                number_key=r.number_key,
                country=r.country,
                type=r.type,
                capabilities=r.capabilities,
                synced_at=r.synced_at,
            )
            for r in rows
        ],
        configured=list(s.settings.own_numbers),
        inbound_to_other_numbers_24h=other,
    )


def _directory(kind: str) -> Any:
    def handler(_request: Request, s: Services) -> DirectoryAnswer:
        with s.engine.connect() as conn:
            rows = account_q.directory(conn, kind)
        return DirectoryAnswer(
            items=[DirectoryItem(id=i, name=n, synced_at=at) for i, n, at in rows]
        )

    return handler


WINDOW = [
    Param("from", "ISO 8601 time or an age (7d); default 30 days ago"),
    Param("to", "ISO 8601 time or an age; default now"),
]
FILTERS = [
    Param("channel", "only this channel"),
    Param("application_id", "only this CPaaS X application"),
    Param("entity_id", "only this CPaaS X entity"),
]

api = Endpoints("account")
api.add(
    "GET",
    "/v1/account/balance",
    reader(get_balance),
    "The account balance: the latest, hours left at the last 24 hours' spend, the alert, "
    "and its history newest first",
    response=BalanceAnswer,
    query=[
        Param("since", "history since (ISO 8601 or an age: 7d)"),
        Param("cursor", "next_cursor of the previous page"),
        Param("limit", "history items per page, 1-500 (default 50)", "integer"),
    ],
    errors={400: "a time or cursor that cannot be used"},
)
api.add(
    "GET",
    "/v1/costs",
    reader(get_costs),
    "What Infobip priced, summed per group and per currency (currencies are never added "
    "together), and the messages with no priced report",
    response=CostAnswer,
    query=[
        *WINDOW,
        Param("group_by", f"one of {', '.join(costs_q.GROUPS)} (default day)"),
        *FILTERS,
    ],
    errors={400: "a time, group or filter that cannot be used"},
)
api.add(
    "GET",
    "/v1/numbers",
    reader(get_numbers),
    "Own numbers synced from Infobip, the configured ones, and inbound messages to other "
    "numbers in the last 24 hours",
    response=NumbersAnswer,
)
api.add(
    "GET",
    "/v1/applications",
    reader(_directory("application")),
    "CPaaS X applications synced from Infobip",
    response=DirectoryAnswer,
)
api.add(
    "GET",
    "/v1/entities",
    reader(_directory("entity")),
    "CPaaS X entities synced from Infobip",
    response=DirectoryAnswer,
)
