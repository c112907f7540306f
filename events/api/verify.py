"""Two-factor PINs (events/tfa.py): send one, check it, send it again. The PIN is in the check's
request body only: it is never stored, logged or echoed. A PIN goes to opted-out numbers too:
the person asked for it (README, Two-factor PINs)."""

from __future__ import annotations

from pydantic import ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from events.answers import Busy
from events.api.common import answer, body_of, denied, problem
from events.api.lookups import busy
from events.api.models import Model, Time
from events.api.spec import Endpoints
from events.contacts import ContactError
from events.services import Services
from events.tfa import Refused
from storage.queries.verify import StoredAudit, StoredVerification


class VerifyRequest(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    to: str = Field(min_length=1)
    application_id: str | None = Field(default=None, min_length=1)
    message_id: str | None = Field(default=None, min_length=1)


class CheckRequest(Model):
    model_config = ConfigDict(frozen=True, extra="forbid")

    pin: str = Field(min_length=1, repr=False)


class VerificationStep(Model):
    step: str
    detail: str | None
    at: Time

    @classmethod
    def from_row(cls, row: StoredAudit) -> VerificationStep:
        return cls(step=row.step, detail=row.detail, at=row.at)


class Verification(Model):
    id: str
    to: str
    application_id: str
    message_id: str | None
    pin_id: str | None
    action_id: str | None
    # sending, sent, verified, failed, expired, send_failed
    outcome: str
    reason: str | None
    attempts: int
    sends: int
    created_at: Time
    sent_at: Time | None
    expires_at: Time
    verified_at: Time | None
    steps: list[VerificationStep] | None = None

    @classmethod
    def from_row(
        cls, row: StoredVerification, steps: list[StoredAudit] | None = None
    ) -> Verification:
        fields = {k: getattr(row, k) for k in cls.model_fields if k != "steps"}
        shown = [VerificationStep.from_row(s) for s in steps] if steps is not None else None
        return cls(**fields, steps=shown)


class CheckAnswer(Model):
    verified: bool
    attempts_remaining: int | None
    verification: Verification


def refusal(exc: Refused) -> Response:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=headers)


def created(verification: StoredVerification) -> Response:
    location = f"/v1/verify/{verification.id}"
    return answer(Verification.from_row(verification), 202, headers={"Location": location})


async def start(request: Request) -> Response:
    refused = denied(request)
    if refused is not None:
        return refused
    doc = await body_of(request, VerifyRequest)
    if isinstance(doc, Response):
        return doc
    s: Services = request.app.state.services
    try:
        made = await run_in_threadpool(
            s.verifications.start, doc.to, doc.application_id, doc.message_id
        )
    except ContactError as exc:
        return problem(422, f"to: {exc}", field="to")
    except Refused as exc:
        return refusal(exc)
    return created(made)


async def get_one(request: Request) -> Response:
    refused = denied(request)
    if refused is not None:
        return refused
    s: Services = request.app.state.services
    found = await run_in_threadpool(s.verifications.get, request.path_params["verification_id"])
    if found is None:
        return problem(404, "no such verification")
    return answer(Verification.from_row(*found))


async def check(request: Request) -> Response:
    refused = denied(request)
    if refused is not None:
        return refused
    doc = await body_of(request, CheckRequest)
    if isinstance(doc, Response):
        return doc
    s: Services = request.app.state.services
    vid = request.path_params["verification_id"]
    try:
        checked = await s.on_demand.call(s.verifications.check, vid, doc.pin)
    except Refused as exc:
        return refusal(exc)
    except Busy as exc:
        return busy(exc)
    v = checked.verification
    result = CheckAnswer(
        verified=v.outcome == "verified",
        attempts_remaining=checked.attempts_remaining,
        verification=Verification.from_row(v),
    )
    return answer(result)


async def resend(request: Request) -> Response:
    refused = denied(request)
    if refused is not None:
        return refused
    s: Services = request.app.state.services
    try:
        again = await run_in_threadpool(
            s.verifications.resend, request.path_params["verification_id"]
        )
    except Refused as exc:
        return refusal(exc)
    return created(again)


api = Endpoints("two-factor PINs")
api.add(
    "POST",
    "/v1/verify",
    start,
    "Send a 2FA PIN by SMS (Infobip generates it; it reaches opted-out numbers too: asked for "
    "by the person). At most TFA_MAX_PER_HOUR per number and hour",
    body=VerifyRequest,
    response=Verification,
    status=202,
    errors={
        400: "no 2FA application or message template configured",
        422: "`to` is not a phone number",
        429: "too many PINs to this number this hour: Retry-After",
    },
)
api.add(
    "GET",
    "/v1/verify/{verification_id}",
    get_one,
    "One verification: its outcome, attempts, expiry and every step",
    response=Verification,
    errors={404: "no such verification"},
)
api.add(
    "POST",
    "/v1/verify/{verification_id}/check",
    check,
    "Check a PIN with Infobip (one attempt); the PIN is never stored or logged",
    body=CheckRequest,
    response=CheckAnswer,
    errors={
        400: "not a PIN",
        404: "no such verification",
        409: "not checkable now (still sending: Retry-After; or verified, failed, expired)",
        502: "Membrane could not check it",
        503: "every on-demand Membrane call is in flight: Retry-After",
    },
)
api.add(
    "POST",
    "/v1/verify/{verification_id}/resend",
    resend,
    "Send the same PIN again (counts toward the hourly limit)",
    response=Verification,
    status=202,
    errors={
        404: "no such verification",
        409: "not resendable now",
        429: "too many PINs to this number this hour: Retry-After",
    },
)
