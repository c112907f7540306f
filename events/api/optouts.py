"""The suppression list: who opted out (with the scope each entry has), one contact's history,
opting out and back in by hand, and the reviews of uncertain opt-outs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from events.api.common import BadQuery, answer, body_of, denied, page_size, problem, reader
from events.api.models import (
    AuditEntry,
    ContactOptOut,
    OptOut,
    OptOutList,
    OptOutRequest,
    Review,
    ReviewDecision,
    ReviewList,
    ReviewOutcome,
)
from events.api.spec import Endpoints, Param
from events.contacts import ContactError, contact_key
from events.optouts import ReviewDecided, ReviewError
from events.services import Services
from storage.db import write_transaction
from storage.models import REVIEW_STATES
from storage.queries import optouts as optouts_q


def _contact(s: Services, channel: str, key: str, opted_out: bool) -> ContactOptOut:
    return ContactOptOut(
        channel=channel,
        contact=key,
        opted_out=opted_out,
        scope=s.policy.scope_of(channel),
        applies_to=list(s.policy.channels(channel)),
    )


def list_optouts(request: Request, s: Services) -> Any:
    channel = request.query_params.get("channel")
    contact = request.query_params.get("contact")
    limit = page_size(request)
    if contact:
        try:
            key = contact_key(contact, s.settings.default_region)
        except ContactError as exc:
            return problem(422, f"contact: {exc}", field="contact")
        channel = channel or ("email" if "@" in key else "sms")
        covered = s.policy.channels(channel)
        with s.engine.connect() as conn:
            out = key in s.policy.blocked(conn, channel, [key])
            history = optouts_q.opt_out_history(conn, covered, key)
        found = _contact(s, channel, key, out)
        return found.model_copy(update={"history": [AuditEntry.from_row(r) for r in history]})
    with s.engine.connect() as conn:
        rows = optouts_q.list_opt_outs(conn, channel, limit)
    items = [
        OptOut(
            channel=r.channel,
            contact=r.contact,
            since=r.updated_at,
            scope=s.policy.scope_of(r.channel),
            applies_to=list(s.policy.channels(r.channel)),
        )
        for r in rows
    ]
    return {"items": items}


async def change_optout(request: Request) -> Response:
    refused = denied(request)
    if refused is not None:
        return refused
    if request.method == "POST":
        doc = await body_of(request, OptOutRequest)
        if isinstance(doc, Response):
            return doc
        contact, channel, opted_out = doc.contact, doc.channel, True
    else:
        contact = request.path_params["contact"]
        channel, opted_out = request.query_params.get("channel", "sms"), False
    s: Services = request.app.state.services
    try:
        key = contact_key(contact, s.settings.default_region)
    except ContactError as exc:
        return problem(422, f"contact: {exc}", field="contact")

    def change() -> ContactOptOut:
        with write_transaction(s.engine) as conn:
            s.policy.record(conn, channel, key, opted_out, datetime.now(UTC), source="api")
        return _contact(s, channel, key, opted_out)

    return answer(await run_in_threadpool(change), 201 if opted_out else 200)


def list_reviews(request: Request, s: Services) -> Any:
    state = request.query_params.get("state", "pending")
    if state not in (*REVIEW_STATES, "all"):
        raise BadQuery(f"state must be one of {', '.join(REVIEW_STATES)} or all")
    limit = page_size(request)
    with s.engine.connect() as conn:
        rows = optouts_q.list_opt_out_reviews(conn, None if state == "all" else state, limit)
    return {"items": [Review.from_row(r) for r in rows]}


async def decide_review(request: Request) -> Response:
    refused = denied(request)
    if refused is not None:
        return refused
    doc = await body_of(request, ReviewDecision)
    if isinstance(doc, Response):
        return doc
    s: Services = request.app.state.services
    review_id = request.path_params["review_id"]

    def decide() -> dict[str, str]:
        confirm = doc.decision == "confirm"
        with write_transaction(s.engine) as conn:
            state = s.policy.decide(conn, review_id, confirm, datetime.now(UTC), by="api")
        return {"id": review_id, "state": state}

    try:
        return answer(await run_in_threadpool(decide))
    except ReviewError as exc:
        return problem(409 if isinstance(exc, ReviewDecided) else 404, str(exc))


api = Endpoints("opt-outs")
api.add(
    "GET",
    "/v1/opt-outs",
    reader(list_optouts),
    "Who opted out, with the scope of each entry; with ?contact=, one contact's state and "
    "history (a ContactOptOut)",
    response=OptOutList,
    query=[
        Param("channel", "only opt-outs made on this channel"),
        Param("contact", "one contact: a number in any writing, or an email address"),
        Param("limit", "items, 1-500 (default 50)", "integer"),
    ],
    errors={422: "the contact is not a number or an address"},
)
api.add(
    "POST",
    "/v1/opt-outs",
    change_optout,
    "Opt a contact out (audited, source api)",
    body=OptOutRequest,
    response=ContactOptOut,
    status=201,
    errors={400: "no contact", 422: "the contact is not a number or an address"},
)
api.add(
    "GET",
    "/v1/opt-outs/review",
    reader(list_reviews),
    "Uncertain opt-outs: the contacts suppressed until a person decides",
    response=ReviewList,
    query=[
        Param("state", "pending (default), confirmed, dismissed or all"),
        Param("limit", "items, 1-500 (default 50)", "integer"),
    ],
)
api.add(
    "POST",
    "/v1/opt-outs/review/{review_id}",
    decide_review,
    "Confirm (an opt-out) or dismiss (the contact may be messaged again) an uncertain opt-out",
    body=ReviewDecision,
    response=ReviewOutcome,
    errors={404: "no such review", 409: "decided already"},
)
api.add(
    "DELETE",
    "/v1/opt-outs/{contact}",
    change_optout,
    "Opt a contact back in (audited, source api)",
    response=ContactOptOut,
    query=[Param("channel", "the channel (default sms)")],
    errors={422: "the contact is not a number or an address"},
)
