"""The outbox seen from the API: actions by state, one action, and POST /v1/send, which queues a
message like a rule would (the recipient keyed, the suppression list checked) and answers 202."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from events.api.common import BadQuery, answer, body_of, denied, page_size, problem, reader
from events.api.models import ActionPage, OutboxAction, Queued, SendRequest
from events.api.spec import Endpoints, Param
from events.contacts import ContactError
from events.outbox import SendProbe, enqueue, prepare, refusals
from events.services import Services
from events.sessions import audit_forced, window_refusal
from storage.db import write_transaction
from storage.ids import new_id
from storage.models import ACTION_STATES
from storage.queries import outbox as outbox_q


@dataclass(frozen=True)
class Refused:
    status: int  # 409: opted out; 422: outside the WhatsApp window
    reason: str


def get_action(request: Request, s: Services) -> Any:
    action_id = request.path_params["action_id"]
    with s.engine.connect() as conn:
        row = outbox_q.get_action(conn, action_id)
    return OutboxAction.from_row(row) if row else problem(404, f"no action {action_id!r}")


def list_actions(request: Request, s: Services) -> Any:
    state = request.query_params.get("state")
    if state and state not in ACTION_STATES:
        raise BadQuery(f"state must be one of {', '.join(ACTION_STATES)}")
    limit = page_size(request)
    with s.engine.connect() as conn:
        rows = outbox_q.list_actions(conn, state, request.query_params.get("cursor"), limit)
    items = [OutboxAction.from_row(r) for r in rows]
    return {"items": items, "next_cursor": rows[-1].id if len(rows) == limit else None}


def queue_send(
    s: Services,
    action_key: str,
    values: dict[str, Any],
    idempotency_key: str,
    source: str,
    force: str | None = None,
) -> tuple[str, bool] | Refused:
    """Queue a send in one transaction, or say why it is refused: a suppressed recipient
    (audited), or WhatsApp text outside the 24-hour window (unless `force` says why: then the
    override is audited). The recipient must be prepared (keyed) already."""
    now = datetime.now(UTC)
    with write_transaction(s.engine) as conn:
        probe: SendProbe = {"id": "probe", "action": action_key, "input": values}
        refused = refusals(conn, [probe], s.catalogue, s.policy, now, source)
        if refused:
            return Refused(409, refused["probe"])
        region = s.settings.default_region
        outside = window_refusal(conn, action_key, values, region, now)
        if outside is not None and force is None:
            return Refused(422, outside)
        if outside is not None and force is not None:
            channel = s.catalogue[action_key].channel or ""
            audit_forced(conn, channel, values.get("to"), outside, source, now, force)
        return enqueue(
            conn,
            s.catalogue,
            action_key,
            values,
            idempotency_key=idempotency_key,
            max_attempts=s.settings.dispatch_max_attempts,
            region=region,
        )


async def send(request: Request) -> Response:
    refused = denied(request)
    if refused is not None:
        return refused
    doc = await body_of(request, SendRequest)
    if isinstance(doc, Response):
        return doc
    try:
        action_key, values = doc.action()
    except ValueError as exc:
        return problem(400, str(exc))
    s: Services = request.app.state.services
    try:
        values = prepare(s.catalogue[action_key], values, s.settings.default_region)
    except ContactError as exc:
        return problem(422, str(exc), field="to")
    key = f"send:{request.headers.get('idempotency-key') or new_id()}"
    force = doc.reason if doc.force else None
    queued = await run_in_threadpool(queue_send, s, action_key, values, key, "api", force)
    if isinstance(queued, Refused) and queued.status == 409:
        return problem(
            409,
            f"{doc.to} opted out of {doc.channel}: not sent ({queued.reason})",
            see="/v1/opt-outs",
        )
    if isinstance(queued, Refused):
        return problem(
            422,
            f"{queued.reason}: not sent. Send a pre-approved template (template, language, "
            "placeholders), or set force = true with a reason (audited)",
            field="text",
        )
    action_id, created = queued
    s.outbox_changed()
    result = Queued(id=action_id, action=action_key, created=created)
    return answer(result, 202, headers={"Location": f"/v1/actions/{action_id}"})


api = Endpoints("actions and send")
api.add(
    "POST",
    "/v1/send",
    send,
    "Queue a message (the recipient keyed, the suppression list checked); header "
    "Idempotency-Key makes a retry safe",
    body=SendRequest,
    response=Queued,
    status=202,
    errors={
        400: "a request that cannot be sent",
        409: "the recipient opted out: not sent",
        422: "the recipient is not a number or an address; or WhatsApp text outside the "
        "24-hour window (send a template, or force with a reason)",
    },
)
api.add(
    "GET",
    "/v1/actions",
    reader(list_actions),
    "Outbox actions, newest first",
    response=ActionPage,
    query=[
        Param("state", "pending, running, done, failed, dead or unknown_outcome"),
        Param("cursor", "next_cursor of the previous page"),
        Param("limit", "items per page, 1-500 (default 50)", "integer"),
    ],
    errors={400: "a state or limit that cannot be used"},
)
api.add(
    "GET",
    "/v1/actions/{action_id}",
    reader(get_action),
    "One outbox action: state, attempts, input, output",
    response=OutboxAction,
    errors={404: "no such action"},
)
