"""The suppression list: who must get no automated message, on which channels, and why.

One policy, read once from the settings, answers the questions every sending path asks:

- **scope** `contact` (the default): an opt-out on any channel addressed by phone number (SMS,
  MMS, RCS, WhatsApp, Viber, Voice) suppresses automated sending to that number on all of them;
  `channel`: only on the channel it was made on. Email addresses are their own channel either
  way.
- **uncertain** `review` (the default): a message that probably asks to stop suppresses the
  contact until a person confirms or dismisses it; `ignore`: it is audited and nothing more.
- **hard bounces**: with `SUPPRESS_HARD_BOUNCES=true`, a permanent email bounce suppresses the
  address like an unsubscribe.

Contacts are the keys of events/contacts.py; the policy never sees a raw writing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection

from events import metrics
from events.channels.registry import PHONE_CHANNELS
from events.erasure import UNCHECKABLE, ErasureKey, key_problem
from storage.queries.optouts import (
    add_opt_out_audit,
    decide_opt_out_review,
    get_opt_out_review,
    opted_out_among,
    pending_reviews_among,
    record_opt_out_choice,
)


class ReviewError(ValueError):
    """A review that cannot be decided."""


class ReviewNotFound(ReviewError):
    """No review has this id."""


class ReviewDecided(ReviewError):
    """The review was confirmed or dismissed already."""


Scope = Literal["contact", "channel"]
_PHONE = tuple(sorted(PHONE_CHANNELS))


@dataclass(frozen=True)
class OptOutPolicy:
    scope: Scope = "contact"
    uncertain: Literal["review", "ignore"] = "review"
    suppress_hard_bounces: bool = False
    # How national writings are read (INFOBIP_EVENTS_DEFAULT_REGION); None refuses them.
    region: str | None = None
    # Erased contacts are kept as keyed hashes (events/erasure.py): suppressed everywhere.
    erasure: ErasureKey | None = field(default=None, repr=False)

    def channels(self, channel: str) -> tuple[str, ...]:
        """The channels an opt-out made (or checked) on `channel` covers."""
        if self.scope == "contact" and channel in PHONE_CHANNELS:
            return _PHONE
        return (channel,)

    def scope_of(self, channel: str) -> Scope:
        return "contact" if self.channels(channel) != (channel,) else "channel"

    def blocked(self, conn: Connection, channel: str, contacts: Sequence[str]) -> set[str]:
        """Which of these contacts must get no automated message on `channel`: opted out
        within the scope, waiting for a review of an uncertain opt-out, or erased."""
        return set(self.refusals(conn, channel, contacts))

    def refusals(self, conn: Connection, channel: str, contacts: Sequence[str]) -> dict[str, str]:
        """The blocked contacts, each with what an audit row may call it: itself, or for an
        erased contact its hash's label (a refusal must not write the number down again)."""
        if not contacts:
            return {}
        covered = self.channels(channel)
        out = {
            c: c
            for c in opted_out_among(conn, covered, contacts)
            | pending_reviews_among(conn, covered, contacts)
        }
        out.update(self.erased_labels(conn, contacts))
        return out

    def erased_labels(self, conn: Connection, contacts: Iterable[str]) -> dict[str, str]:
        """The erased ones among these contacts, each with what an audit row may call it.

        A contact erased under a key this process does not hold (`contacts forget` run with
        INFOBIP_EVENTS_ERASURE_KEY while the service runs without it, or with another one)
        cannot be recognised: every contact is then treated as erased, so nobody is messaged
        until the service runs with that key. At start the same problem stops the service."""
        contacts = list(contacts)
        if key_problem(conn, self.erasure) is not None:
            return {c: UNCHECKABLE for c in contacts}
        if self.erasure is None:
            return {}
        return {c: self.erasure.label(c) for c in self.erasure.erased_among(conn, contacts)}

    def record(
        self,
        conn: Connection,
        channel: str,
        contact: str,
        opted_out: bool,
        now: datetime,
        *,
        source: str,
        message_id: str | None = None,
        words: str | None = None,
    ) -> bool:
        """Record a choice with its audit row; returns whether the contact was opted out
        before (within the scope)."""
        metrics.opted(channel, opted_out, source)
        return record_opt_out_choice(
            conn,
            channel=channel,
            contact=contact,
            opted_out=opted_out,
            now=now,
            scope_channels=self.channels(channel),
            source=source,
            message_id=message_id,
            words=words,
        )

    def decide(
        self, conn: Connection, review_id: str, confirm: bool, now: datetime, *, by: str
    ) -> str:
        """A person's word on an uncertain opt-out: confirmed, it is an opt-out; dismissed, the
        contact may be messaged again. Audited either way. Returns the review's new state."""
        row = get_opt_out_review(conn, review_id)
        if row is None:
            raise ReviewNotFound(f"no review {review_id!r} (see /v1/opt-outs/review)")
        state = "confirmed" if confirm else "dismissed"
        if not decide_opt_out_review(conn, review_id, state, now, by):
            raise ReviewDecided(f"review {review_id} was {row.state} already")
        if confirm:
            self.record(
                conn,
                row.channel,
                row.contact,
                True,
                now,
                source=by,
                message_id=row.message_id,
                words=row.words,
            )
        add_opt_out_audit(
            conn,
            [
                {
                    "channel": row.channel,
                    "contact": row.contact,
                    "action": state,
                    "source": by,
                    "message_id": row.message_id,
                    "words": f"review {review_id}",
                    "at": now,
                }
            ],
        )
        return state
