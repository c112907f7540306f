"""Opt-out compliance, on by default for every channel a person writes to us on by phone number:
STOP opts a sender out (one confirmation), START opts back in, HELP answers with the help text,
and a message that probably asks to stop puts the sender under review (suppressed until a person
decides). Email: Infobip's unsubscribe and complaint events (and, when asked, hard bounces)
suppress the address. The suppression list (events/optouts.py) then holds for every automated
message, whatever rule or API asked for it; the dispatcher checks it last (events/outbox.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection

from events.channels.event import ParsedEvent
from events.channels.registry import SEND_ACTIONS
from events.contacts import ContactError, wire_key
from events.membrane.catalogue import Action
from events.optouts import OptOutPolicy
from events.outbox import COMPLIANCE_FLAG, enqueue
from events.rules.engine import WINDOW_FLAG
from events.rules.model import SESSION_CHANNELS, ComplianceTexts
from events.rules.optout import (
    HELP,
    OPT_IN,
    OPT_OUT,
    OPT_OUT_UNCERTAIN,
    MessageIntent,
    Vocabulary,
    read_intent,
)
from events.vocabulary import Direction, Kind
from storage.ids import new_id
from storage.queries.decisions import DecisionAction, DecisionRow, insert_decisions
from storage.queries.optouts import add_opt_out_audit, insert_opt_out_review

# Email events that are an opt-out in Infobip's words: the person unsubscribed or complained.
EMAIL_OPT_OUTS = frozenset({Kind.UNSUBSCRIBE, Kind.COMPLAINT})


@dataclass
class Compliance:
    catalogue: dict[str, Action]
    channels: frozenset[str]
    vocabulary: Vocabulary
    opt_out_text: str
    opt_in_text: str
    help_text: str
    max_attempts: int = 6
    policy: OptOutPolicy = field(default_factory=OptOutPolicy)
    # The rules file's [compliance.texts.<language>], read at each use (a reload changes them).
    texts_of: Callable[[], Mapping[str, ComplianceTexts]] = field(default=lambda: {})

    def text(self, kind: str, language: str | None) -> str:
        """The confirmation or HELP text in the language the reader recognised; else the
        file's English one; else the settings' (INFOBIP_EVENTS_OPTOUT_*_TEXT)."""
        table = self.texts_of()
        for code in (language, "en"):
            found = table.get(code) if code else None
            value = getattr(found, kind, None) if found else None
            if value:
                return str(value)
        defaults = {OPT_OUT: self.opt_out_text, OPT_IN: self.opt_in_text, HELP: self.help_text}
        return defaults[kind]

    def read(self, event: ParsedEvent) -> MessageIntent | None:
        """What an inbound message on a compliance channel says: STOP, START, HELP, probably
        stop, or nothing. Also what `rules test` and `rules replay` ask, so they read messages
        as serve does."""
        if event.kind != Kind.INBOUND or event.channel not in self.channels or not event.sender:
            return None
        text = event.data.get("text")
        return read_intent(text if isinstance(text, str) else None, self.vocabulary)

    def contact_of(self, event: ParsedEvent) -> str | None:
        """The other party's key: who wrote (inbound), or to whom we wrote."""
        value = event.sender if event.direction == Direction.INBOUND else event.recipient
        return wire_key(value, self.policy.region) if value else None

    def apply(
        self, conn: Connection, new: list[tuple[ParsedEvent, int]], now: datetime
    ) -> dict[int, str]:
        """Decide on new events, inside the batch's transaction. Returns the intent read in
        each inbound event that had one (the rules then leave it to compliance rules), and
        records each decision for the read API's explain."""
        intents: dict[int, str] = {}
        decisions: list[DecisionRow] = []
        for event, event_id in new:
            if event.kind == Kind.INBOUND:
                intent = self.read(event)
                if intent is None:
                    continue
                intents[event_id] = intent.kind
                decisions.append(self._inbound(conn, event, event_id, intent, now))
            elif self._email_opt_out(event):
                decisions.append(self._email(conn, event, event_id, now))
        insert_decisions(conn, decisions)
        return intents

    def _email_opt_out(self, event: ParsedEvent) -> bool:
        if event.channel != "email" or not event.recipient:
            return False
        if event.kind in EMAIL_OPT_OUTS:
            return True
        return self.policy.suppress_hard_bounces and is_hard_bounce(event)

    def _email(
        self, conn: Connection, event: ParsedEvent, event_id: int, now: datetime
    ) -> DecisionRow:
        contact = self.contact_of(event)
        assert contact is not None
        why = "a hard bounce" if event.kind not in EMAIL_OPT_OUTS else event.kind
        was_out = self.policy.record(
            conn,
            "email",
            contact,
            True,
            now,
            source="infobip",
            message_id=event.message_id,
            words=why,
        )
        reason = f"Infobip reported {why}: no more automated email to this address"
        if was_out:
            reason += " (it was suppressed already)"
        return _decision(event_id, f"compliance:{OPT_OUT}", reason, contact, [], now)

    def _inbound(
        self,
        conn: Connection,
        event: ParsedEvent,
        event_id: int,
        intent: MessageIntent,
        now: datetime,
    ) -> DecisionRow:
        contact = self.contact_of(event)
        assert contact is not None
        reason = f"read {intent.kind.replace('_', ' ')} in {intent.words!r}"
        reply: str | None = None
        if intent.kind in (OPT_OUT, OPT_IN):
            was_out = self.policy.record(
                conn,
                event.channel,
                contact,
                intent.kind == OPT_OUT,
                now,
                source="inbound",
                message_id=event.message_id,
                words=intent.words,
            )
        if intent.kind == OPT_OUT:
            reply = None if was_out else self.text(OPT_OUT, intent.language)  # one per opt-out
            reason += "; already opted out: no second confirmation" if was_out else ""
        elif intent.kind == OPT_IN:
            reply = self.text(OPT_IN, intent.language) if was_out else None
            reason += "" if was_out else "; was not opted out: no confirmation"
        elif intent.kind == HELP:
            reply = self.text(HELP, intent.language)
        elif intent.kind == OPT_OUT_UNCERTAIN:
            reason += self._uncertain(conn, event, contact, intent, now)
        actions: list[DecisionAction] = []
        if reply and event.channel in SEND_ACTIONS:
            action_id, problem = self._reply(conn, event, event_id, reply, now)
            if action_id is None:
                reason += f"; no reply: {problem}"
            else:
                summary = f"{event.channel} to {event.sender}: {reply!r}"
                actions.append(
                    {
                        "type": "reply",
                        "channel": event.channel,
                        "action_id": action_id,
                        "summary": summary,
                    }
                )
        return _decision(event_id, f"compliance:{intent.kind}", reason, contact, actions, now)

    def _uncertain(
        self,
        conn: Connection,
        event: ParsedEvent,
        contact: str,
        intent: MessageIntent,
        now: datetime,
    ) -> str:
        """Probably a request to stop: suppressed until a person decides (or, with
        OPTOUT_UNCERTAIN=ignore, only audited). Returns what to add to the decision's reason."""
        review = self.policy.uncertain == "review"
        review_id = new_id() if review else None
        if review_id is not None:
            insert_opt_out_review(
                conn,
                {
                    "id": review_id,
                    "channel": event.channel,
                    "contact": contact,
                    "state": "pending",
                    "message_id": event.message_id,
                    "words": intent.words,
                    "language": intent.language,
                    "created_at": now,
                    "decided_at": None,
                    "decided_by": None,
                },
            )
        add_opt_out_audit(
            conn,
            [
                {
                    "channel": event.channel,
                    "contact": contact,
                    "action": "uncertain",
                    "source": "inbound",
                    "message_id": event.message_id,
                    "words": intent.words,
                    "at": now,
                }
            ],
        )
        if review_id is None:
            return "; OPTOUT_UNCERTAIN=ignore: audited only"
        return f"; suppressed until a person decides (review {review_id})"

    def _reply(
        self, conn: Connection, event: ParsedEvent, event_id: int, text: str, now: datetime
    ) -> tuple[str | None, str | None]:
        values: dict[str, object] = {
            "to": event.sender,
            "from": event.recipient,
            "text": text,
            COMPLIANCE_FLAG: True,
        }
        if event.channel in SESSION_CHANNELS:
            # Checked against the window when due: a reconciled old STOP may be past it.
            values[WINDOW_FLAG] = {}
        try:
            action_id, _ = enqueue(
                conn,
                self.catalogue,
                SEND_ACTIONS[event.channel],
                values,
                idempotency_key=f"compliance:{event.dedupe_key()}",
                caused_by_event_id=event_id,
                max_attempts=self.max_attempts,
                now=now,
                region=self.policy.region,
            )
        except ContactError as exc:
            return None, str(exc)
        return action_id, None


def is_hard_bounce(event: ParsedEvent) -> bool:
    """A permanent email failure: a late bounce, or a report whose error says retrying can
    never succeed (Infobip's `permanent` flag)."""
    if event.kind == Kind.LATE_BOUNCE:
        return True
    return event.kind == Kind.DELIVERY and event.error is not None and bool(event.error.permanent)


def _decision(
    event_id: int,
    rule: str,
    reason: str,
    contact: str,
    actions: list[DecisionAction],
    now: datetime,
) -> DecisionRow:
    return {
        "event_id": event_id,
        "rule": rule,
        "outcome": "fired",
        "reason": reason,
        "contact": contact,
        "digest": None,
        "actions": actions,
        "not_before": None,
        "rules_version": "builtin",
        "created_at": now,
    }
