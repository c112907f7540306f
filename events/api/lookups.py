"""Number Lookup on demand: POST /v1/lookups asks Infobip through Membrane for the numbers
that have no result younger than LOOKUP_TTL (events/lookups.py). The call runs on the
on-demand pool (events/answers.py), never on the threads that take webhooks."""

from __future__ import annotations

from functools import partial
from typing import Literal

from pydantic import ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from events.answers import Busy
from events.api.common import answer, body_of, denied, problem
from events.api.models import Lookup, Model
from events.api.spec import Endpoints
from events.contacts import ContactError
from events.lookups import reachable
from events.lookups_on_demand import MAX_NUMBERS, LookupResult
from events.services import Services


class LookupRequest(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    numbers: list[str] = Field(min_length=1, max_length=MAX_NUMBERS)
    # Ask Infobip even when a result younger than LOOKUP_TTL is known.
    refresh: bool = False


class LookupItem(Model):
    number: str
    # cache: a result younger than LOOKUP_TTL; infobip: asked now; pending: asked, the result
    # comes to /webhooks/number-lookup; none: Infobip's answer had no result; failed: the
    # call failed (error says why; lookup is the last result known, if any).
    source: Literal["cache", "infobip", "pending", "none", "failed"]
    reachable: bool | None
    lookup: Lookup | None
    error: str | None

    @classmethod
    def of(cls, result: LookupResult) -> LookupItem:
        row = result.lookup
        return cls(
            number=result.number,
            source=result.source,
            reachable=reachable(row.outcome) if row else None,
            lookup=Lookup.from_row(row) if row else None,
            error=result.error,
        )


class LookupAnswer(Model):
    mode: Literal["query", "notify"]
    items: list[LookupItem]


def busy(exc: Busy) -> Response:
    return JSONResponse(
        {"error": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after)}
    )


async def post_lookups(request: Request) -> Response:
    refused = denied(request)
    if refused is not None:
        return refused
    doc = await body_of(request, LookupRequest)
    if isinstance(doc, Response):
        return doc
    s: Services = request.app.state.services
    try:
        keys = s.lookups.keys(doc.numbers)
    except ContactError as exc:
        return problem(422, f"numbers: {exc}", field="numbers")
    except ValueError as exc:
        return problem(400, str(exc))
    try:
        results = await s.on_demand.call(partial(s.lookups.ask, keys, refresh=doc.refresh))
    except Busy as exc:
        return busy(exc)
    items = [LookupItem.of(r) for r in results]
    mode: Literal["query", "notify"] = "notify" if s.lookups.notify_url else "query"
    status = 502 if all(i.source == "failed" for i in items) else 200
    return answer(LookupAnswer(mode=mode, items=items), status)


api = Endpoints("number lookup on demand")
api.add(
    "POST",
    "/v1/lookups",
    post_lookups,
    "Look numbers up (HLR) through Membrane; a result younger than LOOKUP_TTL is reused",
    body=LookupRequest,
    response=LookupAnswer,
    errors={
        400: "no numbers, or too many",
        422: "a number is not a phone number",
        502: "Membrane failed for every number",
        503: "every on-demand Membrane call is in flight: Retry-After",
    },
)
