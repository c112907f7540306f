"""Messages, their events and the raw webhooks they came from: one message with its timeline and
the rules' decisions (explain), filtered lists newest first, cursor-paged."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from starlette.requests import Request

from events.api.common import BadQuery, list_query, page, problem, reader
from events.api.models import Event, EventPage, Message, MessagePage, Webhook
from events.api.spec import Endpoints, Param
from events.services import Services
from storage.queries import account as account_q
from storage.queries import decisions as decisions_q
from storage.queries import messages as messages_q
from storage.queries import raw as raw_q
from storage.queries.decisions import StoredDecision
from storage.queries.messages import StoredEvent


def decisions_by_event(
    conn: Connection, rows: list[StoredEvent]
) -> dict[int, list[StoredDecision]]:
    out: dict[int, list[StoredDecision]] = {}
    for d in decisions_q.decisions_for_events(conn, [r.id for r in rows]):
        out.setdefault(d.event_id, []).append(d)
    return out


def timeline_of(conn: Connection, rows: list[StoredEvent]) -> list[Event]:
    decided = decisions_by_event(conn, rows)
    return [Event.from_row(r, decided) for r in rows]


def get_webhook(request: Request, s: Services) -> Any:
    raw_id = request.path_params["webhook_id"]
    with s.engine.connect() as conn:
        row = raw_q.get_raw(conn, raw_id)
        if row is None:
            return problem(404, f"no webhook {raw_id!r}")
        return Webhook.from_row(row, timeline_of(conn, messages_q.events_for_raw(conn, raw_id)))


def get_message(request: Request, s: Services) -> Any:
    message_id = request.path_params["message_id"]
    with s.engine.connect() as conn:
        rows = messages_q.get_messages(conn, message_id, request.query_params.get("channel"))
        if not rows:
            return problem(404, f"no message {message_id!r}")
        if len(rows) > 1:
            return problem(
                409,
                "several channels have this message id; add ?channel=",
                channels=[r.channel for r in rows],
            )
        row = rows[0]
        timeline = timeline_of(conn, messages_q.timeline(conn, row.channel, row.message_id))
        message = Message.from_row(
            row, decisions_q.tags_of(conn, row.channel, row.message_id), timeline
        )
        return with_names(conn, [message])[0]


MESSAGE_FILTERS = messages_q.MESSAGE_FILTERS
EVENT_FILTERS = (
    "channel",
    "kind",
    "message_id",
    "direction",
    "source",
    "sub_type",
    "webhook_id",
    "application_id",
    "entity_id",
)


def with_names(conn: Connection, items: list[Message]) -> list[Message]:
    """Each message with the names of its CPaaS X application and entity, when synced."""
    apps = account_q.names_of(conn, "application", [m.application_id for m in items])
    ents = account_q.names_of(conn, "entity", [m.entity_id for m in items])
    return [
        m.model_copy(
            update={
                "application_name": apps.get(m.application_id or ""),
                "entity_name": ents.get(m.entity_id or ""),
            }
        )
        if m.application_id in apps or m.entity_id in ents
        else m
        for m in items
    ]


def list_messages(request: Request, s: Services) -> Any:
    filters, cursor, limit = list_query(request, MESSAGE_FILTERS)
    with s.engine.connect() as conn:
        rows = messages_q.list_messages(conn, messages_q.MessageFilter(**filters), cursor, limit)
        tags = decisions_q.tags_of_messages(conn, [(r.channel, r.message_id) for r in rows])
        items = with_names(
            conn, [Message.from_row(r, tags.get((r.channel, r.message_id), [])) for r in rows]
        )
    return page(items, rows, limit)


def list_events(request: Request, s: Services) -> Any:
    filters, cursor, limit = list_query(request, EVENT_FILTERS)
    with s.engine.connect() as conn:
        rows = messages_q.list_events(conn, messages_q.EventFilter(**filters), cursor, limit)
        items = timeline_of(conn, rows)
    return page(items, rows, limit)


def get_event(request: Request, s: Services) -> Any:
    try:
        event_id = int(request.path_params["event_id"])
    except ValueError:
        raise BadQuery("an event id is a number (see /v1/events)") from None
    with s.engine.connect() as conn:
        row = messages_q.get_event(conn, event_id)
        if row is None:
            return problem(404, f"no event {event_id}")
        return timeline_of(conn, [row])[0]


def _filters(names: tuple[str, ...]) -> list[Param]:
    return [Param(n, f"only this {n.replace('_', ' ')}") for n in names] + [
        Param("since", "ISO 8601 time or an age (15m, 24h, 7d)"),
        Param("until", "ISO 8601 time or an age"),
        Param("cursor", "next_cursor of the previous page"),
        Param("limit", "items per page, 1-500 (default 50)", "integer"),
    ]


api = Endpoints("messages and events")
api.add(
    "GET",
    "/v1/webhooks/{webhook_id}",
    reader(get_webhook),
    "A raw webhook as received, and the events made from it",
    response=Webhook,
    errors={404: "no such webhook"},
)
api.add(
    "GET",
    "/v1/messages/{message_id:path}",
    reader(get_message),
    "One message, its timeline and the rules' decisions",
    response=Message,
    query=[Param("channel", "the channel, when two channels share the id")],
    errors={404: "no such message", 409: "several channels have this id: add ?channel="},
)
api.add(
    "GET",
    "/v1/messages",
    reader(list_messages),
    "Messages, newest first",
    response=MessagePage,
    query=_filters(MESSAGE_FILTERS),
    errors={400: "a filter, time or cursor that cannot be used"},
)
api.add(
    "GET",
    "/v1/events",
    reader(list_events),
    "Events, newest first, with the rules' decisions",
    response=EventPage,
    query=_filters(EVENT_FILTERS),
    errors={400: "a filter, time or cursor that cannot be used"},
)
api.add(
    "GET",
    "/v1/events/{event_id}",
    reader(get_event),
    "One event and the rules' decisions on it",
    response=Event,
    errors={400: "not an event id", 404: "no such event"},
)
