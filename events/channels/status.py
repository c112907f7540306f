"""Infobip's status, error and price objects: reading them from an item, and flattening them
into the columns the events and messages tables hold (and back).

A status says where a message is (its group decides the state, events/states.py); an error
says why, and `permanent` is Infobip's word on whether trying again can help. Prices are
decimals, never floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from events.channels.values import as_bool, as_decimal, as_int, as_str

if TYPE_CHECKING:  # the table's shape only: parsers load no database code
    from storage.queries.messages import StatusFields, StoredStatus


@dataclass(frozen=True, slots=True)
class Status:
    group_id: int | None
    group_name: str | None
    id: int | None
    name: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class Error:
    group_id: int | None
    group_name: str | None
    id: int | None
    name: str | None
    description: str | None
    permanent: bool | None


@dataclass(frozen=True, slots=True)
class Price:
    amount: Decimal | None
    currency: str | None


def status_of(value: Any) -> Status | None:
    if not isinstance(value, dict):
        return None
    return Status(
        group_id=as_int(value.get("groupId")),
        group_name=as_str(value.get("groupName")),
        id=as_int(value.get("id")),
        name=as_str(value.get("name")),
        description=as_str(value.get("description")),
    )


def error_of(value: Any) -> Error | None:
    if not isinstance(value, dict):
        return None
    return Error(
        group_id=as_int(value.get("groupId")),
        # Legacy SMS reports say "Ok" where current ones say "OK"; keep what was sent.
        group_name=as_str(value.get("groupName")),
        id=as_int(value.get("id")),
        name=as_str(value.get("name")),
        description=as_str(value.get("description")),
        permanent=as_bool(value.get("permanent")),
    )


def price_of(value: Any) -> Price | None:
    if not isinstance(value, dict):
        return None
    amount = value.get("pricePerMessage")
    if amount is None:
        amount = value.get("pricePerSecond")  # voice
    return Price(amount=as_decimal(amount), currency=as_str(value.get("currency")))


# ---- flat columns ------------------------------------------------------------------------------

STATUS_COLUMNS = (
    "status_group_id",
    "status_group_name",
    "status_id",
    "status_name",
    "status_description",
    "error_group_id",
    "error_group_name",
    "error_id",
    "error_name",
    "error_description",
    "error_permanent",
)


def status_fields(status: Status | None, error: Error | None, price: Price | None) -> StatusFields:
    """A report's status, error and price as the columns of the events table."""
    return {
        "status_group_id": status.group_id if status else None,
        "status_group_name": status.group_name if status else None,
        "status_id": status.id if status else None,
        "status_name": status.name if status else None,
        "status_description": status.description if status else None,
        "error_group_id": error.group_id if error else None,
        "error_group_name": error.group_name if error else None,
        "error_id": error.id if error else None,
        "error_name": error.name if error else None,
        "error_description": error.description if error else None,
        "error_permanent": error.permanent if error else None,
        "price_amount": price.amount if price else None,
        "price_currency": price.currency if price else None,
    }


def set_status_columns(target: Any, status: Status | None, error: Error | None) -> None:
    """Set a report's status and error (STATUS_COLUMNS) on an object that has those columns
    as attributes (a message being folded): status_fields without the dict, for the
    processor's hot path."""
    target.status_group_id = status.group_id if status else None
    target.status_group_name = status.group_name if status else None
    target.status_id = status.id if status else None
    target.status_name = status.name if status else None
    target.status_description = status.description if status else None
    target.error_group_id = error.group_id if error else None
    target.error_group_name = error.group_name if error else None
    target.error_id = error.id if error else None
    target.error_name = error.name if error else None
    target.error_description = error.description if error else None
    target.error_permanent = error.permanent if error else None


def status_from_columns(row: StoredStatus) -> Status | None:
    """The status a stored row holds; None when it holds none (no group and no name)."""
    if row.status_group_id is None and row.status_group_name is None and row.status_name is None:
        return None
    return Status(
        row.status_group_id,
        row.status_group_name,
        row.status_id,
        row.status_name,
        row.status_description,
    )


def error_from_columns(row: StoredStatus) -> Error | None:
    """The error a stored row holds; None when it names none."""
    if row.error_name is None and row.error_group_name is None:
        return None
    return Error(
        row.error_group_id,
        row.error_group_name,
        row.error_id,
        row.error_name,
        row.error_description,
        row.error_permanent,
    )
