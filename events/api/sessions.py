"""One contact's sessions: per channel and sender of ours, when the person last wrote, whether
the channel's customer-service window (WhatsApp: 24 hours) is open now, and when it closes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request

from events.api.common import problem, reader
from events.api.spec import Endpoints
from events.contacts import ContactError, contact_key, wire
from events.rules.model import SESSION_WINDOW
from events.services import Services
from storage.queries.sessions import sessions_of


class Session(BaseModel):
    model_config = ConfigDict(frozen=True)

    channel: str
    sender: str  # our number, as Infobip writes it
    last_inbound_at: datetime  # the receivedAt of the person's latest message to it
    open: bool
    closes_at: datetime  # when free text stops being delivered (maybe in the past)
    message_id: str | None = None


class ContactSessions(BaseModel):
    model_config = ConfigDict(frozen=True)

    contact: str  # the contact key (E.164)
    sessions: list[Session]


def get_sessions(request: Request, s: Services) -> Any:
    raw = request.path_params["contact"]
    try:
        key = contact_key(raw, s.settings.default_region)
    except ContactError as exc:
        return problem(422, f"contact: {exc}", field="contact")
    now = datetime.now(UTC)
    with s.engine.connect() as conn:
        found = sessions_of(conn, [key])
    return ContactSessions(
        contact=key,
        sessions=[
            Session(
                channel=row.channel,
                sender=wire(row.sender),
                last_inbound_at=row.last_inbound_at,
                open=now < row.last_inbound_at + SESSION_WINDOW,
                closes_at=row.last_inbound_at + SESSION_WINDOW,
                message_id=row.message_id,
            )
            for row in found
        ],
    )


api = Endpoints("contacts")
api.add(
    "GET",
    "/v1/contacts/{contact}",
    reader(get_sessions),
    "One contact's sessions: per channel and sender, whether the 24-hour WhatsApp window is "
    "open and when it closes",
    response=ContactSessions,
    errors={422: "the contact is not a phone number or an address"},
)
