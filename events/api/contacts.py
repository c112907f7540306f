"""A contact across every table: `DELETE /v1/contacts/{contact}` erases it (events/forget.py)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from events.api.common import answer, denied, problem
from events.api.models import Model, Time
from events.api.spec import Endpoints
from events.contacts import ContactError
from events.forget import Erased, erasable_key, forget
from events.services import Services


class TableCounts(Model):
    deleted: int
    redacted: int


class Erasure(Model):
    """What an erasure did (the contact itself is not repeated: only its keyed hash)."""

    contact_hash: str
    key_id: str
    actor: str
    at: Time
    total: int
    rows: dict[str, TableCounts]

    @classmethod
    def of(cls, done: Erased) -> Erasure:
        return cls(
            contact_hash=done.contact_hash,
            key_id=done.key_id,
            actor=done.actor,
            at=done.at,
            total=done.total,
            rows={t: TableCounts(**c) for t, c in sorted(done.rows.items())},
        )


async def forget_contact(request: Request) -> Response:
    refused = denied(request)
    if refused is not None:
        return refused
    s: Services = request.app.state.services
    key = s.policy.erasure
    if key is None:
        return problem(
            409,
            "erasure needs INFOBIP_EVENTS_ERASURE_KEY (a secret kept as long as the database): "
            "an erased contact is kept as a hash under it",
        )
    try:
        contact = erasable_key(request.path_params["contact"], s.settings.default_region)
    except ContactError as exc:
        return problem(422, f"contact: {exc}", field="contact")
    done = await run_in_threadpool(forget, s.engine, key, contact, actor="api")
    return answer(Erasure.of(done))


api = Endpoints("contacts")
api.add(
    "DELETE",
    "/v1/contacts/{contact}",
    forget_contact,
    "Erase a phone number or an email address from every table (rows about it deleted, "
    "mentions replaced by [erased]); it stays suppressed as a keyed hash. Audited, actor api",
    response=Erasure,
    errors={
        409: "INFOBIP_EVENTS_ERASURE_KEY is not set",
        422: "the contact is not a number or an address",
    },
)
