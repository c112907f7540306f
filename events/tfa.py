"""Two-factor PINs (Infobip 2FA) through Membrane: send, check, resend.

- **Send** (`POST /v1/verify`): a verification row and a `send-tfa-pin-sms` outbox action, in
  one transaction; the dispatcher sends it (the outbox's path, with its retries) and Infobip's
  answer (`pinId`) is the action's output, read back here on the next look. The PIN goes to
  an opted-out number on purpose: it is transactional and asked for by the person
  (events/outbox.py, PIN_ACTIONS).
- **Check** (`POST /v1/verify/{id}/check`): `verify-tfa-pin`, run directly (its input holds
  the PIN, so it never enters the outbox or the database); the answer, which has no PIN, is
  kept raw before it is used. Each check is an attempt.
- **Resend** (`POST /v1/verify/{id}/resend`): `resend-tfa-pin-sms` through the outbox.

At most TFA_MAX_PER_HOUR sends (first sends and resends) per number in any hour: one more is
refused (429, Retry-After: when the oldest of the hour leaves it) and audited. A PIN can be
checked until TFA_PIN_TTL after it was asked for (keep it equal to the application's
pinTimeToLive). Every step is audited (verification_audit) and logged, never the PIN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, text

from events.answers import keep_answer
from events.contacts import phone_key
from events.membrane.catalogue import Action, render
from events.membrane.client import MembraneClient, MembraneError
from events.outbox import VERIFICATION_FLAG, enqueue
from storage.db import write_transaction
from storage.ids import new_id
from storage.queries.outbox import get_action
from storage.queries.verify import (
    OPEN,
    AuditRow,
    StoredAudit,
    StoredVerification,
    add_audit,
    audit_of,
    get_verification,
    insert_verification,
    sends_since,
    update_verification,
)

log = structlog.get_logger("events.tfa")

HOUR = timedelta(hours=1)
MAX_PIN_LENGTH = 32
# Infobip's pinError when no attempt is left (the application's pinAttempts).
NO_MORE_ATTEMPTS = "NO_MORE_PIN_ATTEMPTS"


class Refused(Exception):
    """A request that cannot be done now: its HTTP status, the message, and when to retry."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Checked:
    verification: StoredVerification
    attempts_remaining: int | None


class Verifications:
    """The 2FA flow (built once, services.py)."""

    def __init__(
        self,
        engine: Engine,
        client: MembraneClient,
        catalogue: dict[str, Action],
        *,
        application_id: str | None,
        message_id: str | None,
        pin_ttl_seconds: float,
        max_per_hour: int,
        max_attempts: int = 6,
        region: str | None = None,
        on_queued: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.engine = engine
        self.client = client
        self.catalogue = catalogue
        self.application_id = application_id
        self.message_id = message_id
        self.pin_ttl = timedelta(seconds=pin_ttl_seconds)
        self.max_per_hour = max_per_hour
        self.max_attempts = max_attempts
        self.region = region
        self.on_queued = on_queued
        self.clock = clock

    # ---- send ---------------------------------------------------------------------------------

    def start(
        self, to: str, application_id: str | None = None, message_id: str | None = None
    ) -> StoredVerification:
        """Queue a PIN to this number. ContactError for a number that is not one; Refused
        without a 2FA application and template, or over the hourly limit."""
        key = phone_key(to, self.region)
        app = application_id or self.application_id
        template = message_id or self.message_id
        if not app or not template:
            raise Refused(
                400,
                "no 2FA application or message template: set INFOBIP_EVENTS_TFA_APPLICATION_ID "
                "and INFOBIP_EVENTS_TFA_MESSAGE_ID (`infobip-events tfa setup` prints them), "
                "or give application_id and message_id",
            )
        now = self.clock()
        vid = new_id()
        with write_transaction(self.engine) as conn:
            wait = self._over_limit(conn, key, now)
            if wait is None:
                action_id, _ = enqueue(
                    conn,
                    self.catalogue,
                    "send-tfa-pin-sms",
                    {
                        "application_id": app,
                        "template_id": template,
                        "to": key,
                        VERIFICATION_FLAG: vid,
                    },
                    idempotency_key=f"tfa:{vid}:send",
                    max_attempts=self.max_attempts,
                    region=self.region,
                    now=now,
                )
                insert_verification(
                    conn, _new_row(vid, key, app, template, action_id, now, self.pin_ttl)
                )
                self._audit(conn, vid, key, "send", f"action {action_id}", now)
            else:
                self._audit(conn, None, key, "limited", f"{self.max_per_hour} an hour", now)
        if wait is not None:
            raise self._limited(wait)
        self.on_queued()
        log.info("tfa", id=vid, step="send")
        found = self.get(vid)
        assert found is not None
        return found[0]

    def _over_limit(self, conn: Connection, key: str, now: datetime) -> int | None:
        """Seconds until another PIN may go to this number, or None when one may now."""
        if conn.dialect.name == "postgresql":
            # Two requests for one number at once must not both pass the count.
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"tfa:{key}"})
        sent = sends_since(conn, key, now - HOUR)
        if len(sent) < self.max_per_hour:
            return None
        oldest = sent[len(sent) - self.max_per_hour]
        return max(1, int((oldest + HOUR - now).total_seconds()) + 1)

    def _limited(self, wait: int) -> Refused:
        return Refused(
            429,
            f"at most {self.max_per_hour} PINs an hour to one number "
            f"(INFOBIP_EVENTS_TFA_MAX_PER_HOUR): try again in {wait} s",
            retry_after=wait,
        )

    # ---- look -----------------------------------------------------------------------------------

    def get(self, vid: str) -> tuple[StoredVerification, list[StoredAudit]] | None:
        """A verification as it stands now (what its send action became is read in), and its
        audit trail."""
        with write_transaction(self.engine) as conn:
            found = self._current(conn, vid)
            return None if found is None else (found, audit_of(conn, vid))

    def _current(self, conn: Connection, vid: str) -> StoredVerification | None:
        """The verification, locked, brought up to date: the send's outcome, the expiry."""
        v = get_verification(conn, vid, lock=True)
        if v is None:
            return None
        now = self.clock()
        changes: dict[str, Any] = {}
        if v.outcome == "sending" and v.action_id:
            changes = _send_outcome(conn, v.action_id)
        if (changes.get("outcome") or v.outcome) in OPEN and now >= v.expires_at:
            changes = {**changes, "outcome": "expired", "reason": "the PIN's time ran out"}
        if not changes:
            return v
        update_verification(conn, vid, {**changes, "updated_at": now})
        if "outcome" in changes:
            self._audit(conn, vid, v.to, changes["outcome"], changes.get("reason"), now)
        return get_verification(conn, vid)

    # ---- check ----------------------------------------------------------------------------------

    def check(self, vid: str, pin: str) -> Checked:
        """Ask Infobip whether the PIN is right (one attempt). Refused when it cannot be
        checked (404 unknown, 409 not checkable now, 502 Membrane failed)."""
        if not pin or len(pin) > MAX_PIN_LENGTH or not pin.isalnum():
            raise Refused(400, f"pin: letters and digits, 1 to {MAX_PIN_LENGTH} of them")
        with write_transaction(self.engine) as conn:
            v = self._checkable(conn, vid)
        action = self.catalogue["verify-tfa-pin"]
        try:
            # Never logged, never stored: the PIN lives only in this call.
            result = self.client.run_action(
                action.key, render(action.template, {"pin_id": v.pin_id, "pin": pin}) or {}
            )
        except MembraneError as exc:
            # Whatever Membrane said, the PIN is not repeated in a log line or an answer.
            said = str(exc).replace(pin, "[pin]")
            log.warning("tfa check failed", id=vid, error=said[:300])
            raise Refused(502, f"Membrane could not check the PIN: {said}") from None
        output = result.output if isinstance(result.output, dict) else {"value": result.output}
        output = {k: val for k, val in output.items() if k != "pin"}
        keep_answer(self.engine, "tfa", output, process=False, note="verify-tfa-pin answer")
        with write_transaction(self.engine) as conn:
            return self._record_check(conn, vid, output)

    def _checkable(self, conn: Connection, vid: str) -> StoredVerification:
        v = self._current(conn, vid)
        if v is None:
            raise Refused(404, f"no verification {vid!r}")
        if v.outcome == "sending":
            raise Refused(409, "the PIN is still being sent: try again in a moment", 1)
        if v.outcome not in OPEN or not v.pin_id:
            raise Refused(409, f"this verification is {v.outcome}: start a new one")
        return v

    def _record_check(self, conn: Connection, vid: str, output: dict[str, Any]) -> Checked:
        v = get_verification(conn, vid, lock=True)
        assert v is not None
        now = self.clock()
        remaining = output.get("attemptsRemaining")
        remaining = remaining if isinstance(remaining, int) else None
        error = output.get("pinError")
        changes: dict[str, Any] = {"attempts": v.attempts + 1, "updated_at": now}
        if output.get("verified") is True:
            changes.update(outcome="verified", verified_at=now, reason=None)
            detail = "verified"
        elif remaining == 0 or error == NO_MORE_ATTEMPTS:
            changes.update(outcome="failed", reason=str(error or "no attempts left"))
            detail = f"wrong PIN, no attempts left ({error or 'attemptsRemaining 0'})"
        else:
            changes["reason"] = str(error or "wrong PIN")
            detail = f"wrong PIN ({error or 'not verified'}), {remaining} attempts left"
        update_verification(conn, vid, changes)
        self._audit(conn, vid, v.to, "check", detail, now)
        log.info("tfa", id=vid, step="check", outcome=changes.get("outcome", v.outcome))
        found = get_verification(conn, vid)
        assert found is not None
        return Checked(found, remaining)

    # ---- resend ---------------------------------------------------------------------------------

    def resend(self, vid: str) -> StoredVerification:
        """Queue the PIN again (the same pinId); counts toward the hourly limit."""
        now = self.clock()
        with write_transaction(self.engine) as conn:
            v = self._checkable(conn, vid)
            wait = self._over_limit(conn, v.to, now)
            if wait is None:
                enqueue(
                    conn,
                    self.catalogue,
                    "resend-tfa-pin-sms",
                    {"pin_id": v.pin_id, "to": v.to, VERIFICATION_FLAG: vid},
                    idempotency_key=f"tfa:{vid}:resend:{v.sends}",
                    max_attempts=self.max_attempts,
                    region=self.region,
                    now=now,
                )
                update_verification(conn, vid, {"sends": v.sends + 1, "updated_at": now})
                self._audit(conn, vid, v.to, "resend", None, now)
            else:
                self._audit(conn, vid, v.to, "limited", f"{self.max_per_hour} an hour", now)
        if wait is not None:
            raise self._limited(wait)
        self.on_queued()
        log.info("tfa", id=vid, step="resend")
        found = self.get(vid)
        assert found is not None
        return found[0]

    @staticmethod
    def _audit(
        conn: Connection, vid: str | None, to: str, step: str, detail: str | None, now: datetime
    ) -> None:
        row: AuditRow = {
            "verification_id": vid,
            "to": to,
            "step": step,
            "detail": detail,
            "at": now,
        }
        add_audit(conn, [row])


def _new_row(
    vid: str, to: str, app: str, template: str, action_id: str, now: datetime, ttl: timedelta
) -> Any:
    return {
        "id": vid,
        "to": to,
        "application_id": app,
        "message_id": template,
        "action_id": action_id,
        "pin_id": None,
        "attempts": 0,
        "sends": 1,
        "outcome": "sending",
        "reason": None,
        "created_at": now,
        "sent_at": None,
        "expires_at": now + ttl,
        "verified_at": None,
        "updated_at": now,
    }


def _send_outcome(conn: Connection, action_id: str) -> dict[str, Any]:
    """What the PIN's send action became: sent (with Infobip's pinId), send_failed, or nothing
    yet."""
    action = get_action(conn, action_id)
    if action is None:
        return {}
    if action.state == "done":
        pin_id = (action.output or {}).get("pinId")
        if not pin_id:
            return {"outcome": "send_failed", "reason": "Infobip's answer had no pinId"}
        return {"outcome": "sent", "pin_id": str(pin_id), "sent_at": action.updated_at}
    if action.state in ("failed", "dead", "skipped"):
        return {"outcome": "send_failed", "reason": action.last_error}
    return {}
