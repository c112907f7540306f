"""Calls (one record per Calls API call, with its events) and Number Lookup results."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from events.api.common import MAX_PAGE, BadQuery, problem, reader
from events.api.models import Call, Event, Lookup, Lookups
from events.api.spec import Endpoints, Param
from events.contacts import ContactError, phone_key, wire
from events.services import Services
from storage.queries import calls as calls_q
from storage.queries import messages as messages_q


def get_call(request: Request, s: Services) -> Any:
    call_id = request.path_params["call_id"]
    with s.engine.connect() as conn:
        row = calls_q.get_call(conn, call_id)
        if row is None:
            return problem(404, f"no call {call_id!r}")
        events = [Event.from_row(e) for e in messages_q.timeline(conn, "calls", call_id)]
    return Call.from_row(row, events)


def get_lookups(request: Request, s: Services) -> Any:
    try:
        # Lookups are stored as Infobip writes the number: its wire form.
        number = wire(phone_key(request.path_params["number"], s.settings.default_region))
    except ContactError as exc:
        return problem(422, f"number: {exc}", field="number")
    try:
        limit = int(request.query_params.get("limit", "20"))
    except ValueError:
        raise BadQuery("limit must be a whole number") from None
    with s.engine.connect() as conn:
        rows = calls_q.lookups_for(conn, number, max(1, min(limit, MAX_PAGE)))
    if not rows:
        return problem(404, f"no lookup for {number}")
    items = [Lookup.from_row(r) for r in rows]
    return Lookups(number=number, latest=items[0], history=items)


api = Endpoints("calls and lookups")
api.add(
    "GET",
    "/v1/calls/{call_id}",
    reader(get_call),
    "One call (Calls API) and its events",
    response=Call,
    errors={404: "no such call"},
)
api.add(
    "GET",
    "/v1/lookups/{number}",
    reader(get_lookups),
    "Number Lookup results for a number, newest first",
    response=Lookups,
    query=[Param("limit", "results, 1-500 (default 20)", "integer")],
    errors={404: "no lookup for this number", 422: "not a phone number"},
)
