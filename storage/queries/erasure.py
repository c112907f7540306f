"""Erasure: the rows about one contact (compared by its key), the rows that merely mention it
(found by a pattern, over every text, JSON and binary column of every table), the erased
contacts' keyed hashes and the audit of each erasure.

Finding mentions is done by the database where it can: PostgreSQL matches the pattern itself
(`~*`, on the text of JSON columns and the escaped text of bytea); SQLite is given the same
test as a function of the connection. Either way the caller's Python pattern decides what is
rewritten, and rows are read a page at a time by primary key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Connection,
    LargeBinary,
    String,
    Table,
    Text,
    cast,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)

from storage.models import (
    calls,
    erased_contacts,
    erasure_audit,
    events,
    lookups,
    masking_sessions,
    message_tags,
    messages,
    metadata,
    opt_out_audit,
    opt_out_reviews,
    opt_outs,
    rule_decisions,
)
from storage.queries._sql import chunks, insert_ignore

# Never searched: they hold hashes, not contacts.
_OWN = ("erased_contacts", "erasure_audit", "alembic_version")
_SQLITE_FUNCTION = "infobip_events_names"


# ---- the erased contacts -------------------------------------------------------------------


def add_erased(conn: Connection, contact_hash: str, key_id: str, now: datetime) -> None:
    row = {"contact_hash": contact_hash, "key_id": key_id, "erased_at": now}
    conn.execute(insert_ignore(conn, erased_contacts, ["contact_hash"]), [row])


def erased_hashes_among(conn: Connection, hashes: Sequence[str]) -> set[str]:
    out: set[str] = set()
    for chunk in chunks(sorted(set(hashes))):
        stmt = select(erased_contacts.c.contact_hash).where(
            erased_contacts.c.contact_hash.in_(chunk)
        )
        out.update(str(r[0]) for r in conn.execute(stmt))
    return out


def other_key_ids(conn: Connection, key_id: str | None) -> set[str]:
    """The key ids of erased contacts other than this one."""
    stmt = select(erased_contacts.c.key_id).distinct()
    if key_id is not None:
        stmt = stmt.where(erased_contacts.c.key_id != key_id)
    return {str(r[0]) for r in conn.execute(stmt)}


def add_erasure_audit(
    conn: Connection, contact_hash: str, key_id: str, actor: str, at: datetime, rows: Any
) -> None:
    conn.execute(
        erasure_audit.insert(),
        [{"contact_hash": contact_hash, "key_id": key_id, "actor": actor, "at": at, "rows": rows}],
    )


# ---- rows about the contact (exact key) ------------------------------------------------------


def delete_rows_about(conn: Connection, contact: str) -> dict[str, int]:
    """Delete the rows whose contact columns hold this key: its messages with their events
    and tags, its other events, calls, lookups, masking sessions, rule decisions, suppression
    entries and reviews. Returns rows deleted per table."""
    out: dict[str, int] = {}
    about = or_(messages.c.sender == contact, messages.c.recipient == contact)
    pairs = conn.execute(select(messages.c.channel, messages.c.message_id).where(about)).all()
    for channel, message_ids in _by_channel(pairs).items():
        for chunk in chunks(message_ids):
            for table in (events, message_tags):
                result = conn.execute(
                    delete(table).where(table.c.channel == channel, table.c.message_id.in_(chunk))
                )
                out[table.name] = out.get(table.name, 0) + result.rowcount
    exact: list[tuple[Table, ColumnElement[bool]]] = [
        (messages, about),
        (events, or_(events.c.sender == contact, events.c.recipient == contact)),
        (calls, or_(calls.c.sender == contact, calls.c.recipient == contact)),
        (lookups, lookups.c.number == contact),
        (
            masking_sessions,
            or_(masking_sessions.c.party_a == contact, masking_sessions.c.party_b == contact),
        ),
        (rule_decisions, rule_decisions.c.contact == contact),
        (opt_outs, opt_outs.c.contact == contact),
        (opt_out_reviews, opt_out_reviews.c.contact == contact),
    ]
    for table, where in exact:
        result = conn.execute(delete(table).where(where))
        out[table.name] = out.get(table.name, 0) + result.rowcount
    return {k: v for k, v in out.items() if v}


def relabel_audit(conn: Connection, contact: str, label: str) -> int:
    """The opt-out audit trail is the proof of consent: its rows stay, under the label."""
    result = conn.execute(
        update(opt_out_audit).where(opt_out_audit.c.contact == contact).values(contact=label)
    )
    return int(result.rowcount)


def _by_channel(pairs: Sequence[Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for channel, message_id in pairs:
        out.setdefault(str(channel), []).append(str(message_id))
    return out


# ---- rows that mention the contact (a pattern) -----------------------------------------------


# The columns that say whom a row is about: a row whose one of these is the contact, in any
# writing (Infobip's, a person's), is deleted rather than redacted.
CONTACT_COLUMNS: dict[str, tuple[str, ...]] = {
    "messages": ("sender", "recipient"),
    "events": ("sender", "recipient"),
    "calls": ("sender", "recipient"),
    "lookups": ("number",),
    "masking_sessions": ("party_a", "party_b"),
    "rule_decisions": ("contact",),
    "opt_outs": ("contact",),
    "opt_out_reviews": ("contact",),
}


def searched_tables() -> list[Table]:
    """Every table of the schema but the erasure's own; the raw inbox last, so that whether a
    raw webhook still has events is known when it is reached."""
    tables = [t for t in metadata.sorted_tables if t.name not in _OWN]
    return sorted(tables, key=lambda t: t.name == "raw_webhooks")


def delete_tags_of(conn: Connection, channel: str, message_id: str) -> None:
    conn.execute(
        delete(message_tags).where(
            message_tags.c.channel == channel, message_tags.c.message_id == message_id
        )
    )


def text_columns(table: Table) -> list[str]:
    """The columns of a table that can hold a contact: text, JSON and bytes."""
    kinds = (String, Text, JSON, LargeBinary)
    return [c.name for c in table.columns if isinstance(c.type, kinds) and not c.primary_key]


def _naming(conn: Connection, table: Table, columns: list[str], pattern: str) -> Any:
    """The rows with a column that matches: PostgreSQL tests each column itself; SQLite calls
    the registered function once per row with every column (one Python call, not one each)."""
    if conn.dialect.name != "postgresql":
        return getattr(func, _SQLITE_FUNCTION)(*(table.c[c] for c in columns)) == 1
    tests = []
    for name in columns:
        col = table.c[name]
        if isinstance(col.type, LargeBinary):
            tests.append(func.encode(col, "escape").op("~*")(pattern))
        else:
            tests.append(cast(col, Text).op("~*")(pattern))
    return or_(*tests)


def _register(conn: Connection, matches: Callable[[str], bool]) -> None:
    if conn.dialect.name == "sqlite":

        def names(*values: object) -> int:
            # One search over the row: a newline between columns never joins two numbers.
            return int(matches("\n".join(_as_text(v) for v in values if v is not None)))

        raw = conn.connection.driver_connection
        raw.create_function(_SQLITE_FUNCTION, -1, names)  # type: ignore[union-attr]


def _as_text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def rows_naming(
    conn: Connection,
    table: Table,
    pattern: str,
    matches: Callable[[str], bool],
    after: Any,
    limit: int,
) -> list[dict[str, Any]]:
    """Up to `limit` rows past the key `after` with a text column that matches `pattern`
    (case-insensitive, in PostgreSQL's syntax and Python's alike; `matches` is the same test
    in Python, for SQLite): each as {column: value} with its primary key under "_key"."""
    columns = text_columns(table)
    if not columns:
        return []
    _register(conn, matches)
    key = next(iter(table.primary_key.columns))
    stmt = (
        select(key.label("_key"), *(table.c[c] for c in columns))
        .where(_naming(conn, table, columns, pattern))
        .order_by(key)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(key > after)
    return [dict(row._mapping) for row in conn.execute(stmt)]


def rewrite_row(conn: Connection, table: Table, key: Any, values: dict[str, Any]) -> None:
    pk = next(iter(table.primary_key.columns))
    conn.execute(update(table).where(pk == key).values(**values))


def delete_row(conn: Connection, table: Table, key: Any) -> None:
    pk = next(iter(table.primary_key.columns))
    conn.execute(delete(table).where(pk == key))


def raw_has_events(conn: Connection, raw_id: str) -> bool:
    return bool(conn.execute(select(exists().where(events.c.raw_id == raw_id))).scalar())
