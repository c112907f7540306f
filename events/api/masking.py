"""Number Masking sessions: pairs of parties that reach each other through a masking number.
(The callback's answer is given by the webhook receiver, from the same sessions.)"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from events.api.common import answer, body_of, denied, problem, reader
from events.api.models import MaskingSession, MaskingSessionList, MaskingSessionRequest
from events.api.spec import Endpoints, Param
from events.contacts import ContactError
from events.services import Services


def list_sessions(request: Request, s: Services) -> Any:
    include_ended = request.query_params.get("all", "").lower() in ("1", "true", "yes")
    return {"items": s.masking.list(include_ended)}


def get_session(request: Request, s: Services) -> Any:
    found = s.masking.get(request.path_params["session_id"])
    return found if found is not None else problem(404, "no such masking session")


def end_session(request: Request, s: Services) -> Any:
    session_id = request.path_params["session_id"]
    if not s.masking.end(session_id):
        return problem(404, "no live masking session with this id")
    return s.masking.get(session_id)


async def create_session(request: Request) -> Response:
    refused = denied(request)
    if refused is not None:
        return refused
    doc = await body_of(request, MaskingSessionRequest)
    if isinstance(doc, Response):
        return doc
    s: Services = request.app.state.services
    try:
        created = await run_in_threadpool(
            s.masking.create,
            doc.party_a,
            doc.party_b,
            doc.masking_number,
            ttl_seconds=doc.ttl_seconds,
            expires_at=doc.expires_at,
        )
    except ContactError as exc:
        return problem(422, str(exc), field=str(exc).split(":", 1)[0])
    except ValueError as exc:
        return problem(400, str(exc))
    return answer(created, 201)


api = Endpoints("number masking")
api.add(
    "GET",
    "/v1/masking/sessions",
    reader(list_sessions),
    "Masking sessions (live ones; ?all=true for ended ones too)",
    response=MaskingSessionList,
    query=[Param("all", "true: ended and expired sessions too", "boolean")],
)
api.add(
    "POST",
    "/v1/masking/sessions",
    create_session,
    "Pair two parties through a masking number",
    body=MaskingSessionRequest,
    response=MaskingSession,
    status=201,
    errors={400: "a session that cannot be made", 422: "a party is not a phone number"},
)
api.add(
    "GET",
    "/v1/masking/sessions/{session_id}",
    reader(get_session),
    "One masking session",
    response=MaskingSession,
    errors={404: "no such session"},
)
api.add(
    "DELETE",
    "/v1/masking/sessions/{session_id}",
    reader(end_session),
    "End a masking session now",
    response=MaskingSession,
    errors={404: "no live session with this id"},
)
