"""Number Masking: sessions, and the answer to a masking callback.

Infobip calls the callback URL when someone dials a masking number and connects the call as the
answer says (docs/infobip.md, row 3 of the decision table): ``{"phoneNumber", "callerId"}`` to
connect, or ``{"fileUrl"}`` to play a recording. The answer comes from local data only (the
masking_sessions table), after the callback is stored like any webhook; no network call is made
inside the request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Engine

from events.channels.number_masking import is_callback
from events.contacts import ContactError, phone_key, wire, wire_key
from storage.db import write_transaction
from storage.ids import new_id
from storage.queries.calls import (
    SessionRow,
    StoredSession,
    end_masking_session,
    get_masking_session,
    insert_masking_session,
    list_masking_sessions,
    live_masking_session,
)

log = structlog.get_logger("events.masking")


def session_json(row: StoredSession, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    live = row.ended_at is None and row.expires_at > now
    return {
        "id": row.id,
        "party_a": row.party_a,
        "party_b": row.party_b,
        "masking_number": row.masking_number,
        "expires_at": row.expires_at.isoformat(),
        "created_at": row.created_at.isoformat(),
        "ended_at": row.ended_at.isoformat() if row.ended_at else None,
        "live": live,
    }


class MaskingSessions:
    def __init__(
        self,
        engine: Engine,
        *,
        fallback_file_url: str | None = None,
        region: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.fallback_file_url = fallback_file_url
        self.region = region
        self.clock = clock

    # ---- sessions -----------------------------------------------------------------------------

    def create(
        self,
        party_a: str,
        party_b: str,
        masking_number: str,
        *,
        ttl_seconds: int | None = None,
        expires_at: datetime | None = None,
    ) -> dict[str, Any]:
        now = self.clock()
        # Parties are kept as contact keys (E.164), so any writing of a number finds them.
        keys = []
        for name, value in (
            ("party_a", party_a),
            ("party_b", party_b),
            ("masking_number", masking_number),
        ):
            try:
                keys.append(phone_key(value, self.region))
            except ContactError as exc:
                raise ContactError(f"{name}: {exc}") from None
        a, b, number = keys
        if a == b:
            raise ValueError("party_a and party_b are the same number")
        if number in (a, b):
            raise ValueError("the masking number cannot be one of the parties")
        if expires_at is None:
            expires_at = now + timedelta(seconds=ttl_seconds or 3600)
        if expires_at.tzinfo is None:
            raise ValueError("expires_at needs a UTC offset")
        if expires_at <= now:
            raise ValueError("expires_at is in the past")
        session_id = new_id()
        row: SessionRow = {
            "id": session_id,
            "party_a": a,
            "party_b": b,
            "masking_number": number,
            "expires_at": expires_at,
            "created_at": now,
            "ended_at": None,
        }
        with write_transaction(self.engine) as conn:
            insert_masking_session(conn, row)
            stored = get_masking_session(conn, session_id)
        assert stored is not None
        return session_json(stored, now)

    def get(self, session_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = get_masking_session(conn, session_id)
        return session_json(row, self.clock()) if row else None

    def list(self, include_ended: bool = False) -> list[dict[str, Any]]:
        now = self.clock()
        with self.engine.connect() as conn:
            return [session_json(r, now) for r in list_masking_sessions(conn, now, include_ended)]

    def end(self, session_id: str) -> bool:
        with write_transaction(self.engine) as conn:
            return end_masking_session(conn, session_id, self.clock())

    # ---- the callback -------------------------------------------------------------------------

    def answer(self, body: bytes) -> bytes | None:
        """The instruction body for a masking callback, or None when the body is not one (a
        status report gets the usual ack). Never raises: the callback is stored already, and
        whatever goes wrong here the call still gets the fallback answer."""
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested deeper than it decodes
            return None
        try:
            if not isinstance(doc, dict) or not is_callback(doc):
                return None
            return self._instruction(doc)
        except Exception:
            log.exception("masking answer failed; answering with the fallback")
            return self.fallback()

    def fallback(self) -> bytes:
        """The answer when no live session connects the call: the fallback recording when one
        is configured, else an empty instruction (Infobip then ends the call)."""
        if self.fallback_file_url:
            return json.dumps({"fileUrl": self.fallback_file_url}).encode()
        return b"{}"

    def _instruction(self, doc: dict[str, Any]) -> bytes:
        instruction: dict[str, Any] = {}
        caller, dialled = doc.get("from"), doc.get("to")
        if isinstance(caller, str) and isinstance(dialled, str):
            caller_n, dialled_n = wire_key(caller, self.region), wire_key(dialled, self.region)
            row = None
            if caller_n and dialled_n:
                try:
                    with self.engine.connect() as conn:
                        row = live_masking_session(conn, dialled_n, caller_n, self.clock())
                except Exception:  # the fallback is still an answer; the call must go on
                    row = None
                if row is not None:
                    party_a, party_b, masking_number = row
                    other = party_b if party_a == caller_n else party_a
                    # The other party sees the masking number, never the caller's own.
                    # Infobip's wire format: digits, no `+`.
                    instruction = {"phoneNumber": wire(other), "callerId": wire(masking_number)}
        if not instruction:
            return self.fallback()
        return json.dumps(instruction).encode()
