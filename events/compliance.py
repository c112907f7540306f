"""Opt-out compliance, on by default for SMS: STOP opts a sender out (one confirmation), START
opts back in, HELP answers with the help text; the suppression list then holds for every
automated message, whatever rule or API asked for it (the dispatcher checks it last).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from events.channels.common import ParsedEvent
from events.dispatch import enqueue
from events.membrane.catalogue import SEND_ACTIONS, Action
from events.rules.optout import HELP, OPT_IN, OPT_OUT, Intent, Vocabulary, classify
from events.rules.text import normalize_contact as _normalize
from storage.queries import add_opt_out_audit, insert_decisions, opted_out_among, set_opt_out

# Set in an action's values by compliance itself: its confirmations reach opted-out contacts.
COMPLIANCE_FLAG = "_compliance"


def normalize_contact(channel: str, value: str) -> str:
    """The form the suppression list keeps (the channel does not change it today)."""
    return _normalize(value)


@dataclass
class Compliance:
    catalogue: dict[str, Action]
    channels: frozenset[str]
    vocabulary: Vocabulary
    opt_out_text: str
    opt_in_text: str
    help_text: str
    max_attempts: int = 6

    def read(self, event: ParsedEvent) -> Intent | None:
        """What an inbound message on a compliance channel says: STOP, START, HELP or nothing.
        Also what `rules test` and `rules replay` ask, so they read messages as serve does."""
        if event.kind != "inbound" or event.channel not in self.channels or not event.sender:
            return None
        text = event.data.get("text")
        return classify(text if isinstance(text, str) else None, self.vocabulary)

    def apply(
        self, conn: Connection, inbound: list[tuple[ParsedEvent, int]], now: datetime
    ) -> dict[int, str]:
        """Decide on new inbound messages, inside the batch's transaction. Returns the intent
        read in each event that had one (the rules then leave it to compliance rules), and
        records each decision for the read API's explain."""
        audit: list[dict[str, Any]] = []
        intents: dict[int, str] = {}
        decisions: list[dict[str, Any]] = []
        for event, event_id in inbound:
            intent = self.read(event)
            if intent is None:
                continue
            assert event.sender is not None
            intents[event_id] = intent.kind
            contact = normalize_contact(event.channel, event.sender)
            reply: str | None = None
            reason = f"read {intent.kind.replace('_', ' ')} in {intent.words!r}"
            if intent.kind == OPT_OUT:
                was_out = set_opt_out(conn, event.channel, contact, True, now)
                reply = None if was_out else self.opt_out_text  # one confirmation per opt-out
                reason += "; already opted out: no second confirmation" if was_out else ""
            elif intent.kind == OPT_IN:
                was_out = set_opt_out(conn, event.channel, contact, False, now)
                reply = self.opt_in_text if was_out else None
                reason += "" if was_out else "; was not opted out: no confirmation"
            elif intent.kind == HELP:
                reply = self.help_text
            action_id: str | None = None
            if intent.kind != HELP:
                audit.append(
                    {
                        "channel": event.channel,
                        "contact": contact,
                        "action": intent.kind,
                        "source": "inbound",
                        "message_id": event.message_id,
                        "words": intent.words,
                        "at": now,
                    }
                )
            if reply and event.channel in SEND_ACTIONS:
                values = {
                    "to": event.sender,
                    "from": event.recipient,
                    "text": reply,
                    COMPLIANCE_FLAG: True,
                }
                action_id, _ = enqueue(
                    conn,
                    self.catalogue,
                    SEND_ACTIONS[event.channel],
                    values,
                    idempotency_key=f"compliance:{event.dedupe_key()}",
                    caused_by_event_id=event_id,
                    max_attempts=self.max_attempts,
                    now=now,
                )
            decisions.append(
                {
                    "event_id": event_id,
                    "rule": f"compliance:{intent.kind}",
                    "outcome": "fired",
                    "reason": reason,
                    "contact": contact,
                    "digest": None,
                    "actions": [
                        {
                            "type": "reply",
                            "channel": event.channel,
                            "action_id": action_id,
                            "summary": f"{event.channel} to {event.sender}: {reply!r}",
                        }
                    ]
                    if action_id
                    else [],
                    "not_before": None,
                    "rules_version": "builtin",
                    "created_at": now,
                }
            )
        add_opt_out_audit(conn, audit)
        insert_decisions(conn, decisions)
        return intents


def suppressed(
    conn: Connection,
    rows: list[dict[str, Any]],
    catalogue: dict[str, Action],
    now: datetime,
    source: str,
) -> set[str]:
    """The ids of send actions whose recipient opted out; each refusal is audited."""
    candidates: dict[str, tuple[str, str]] = {}
    for row in rows:
        action = catalogue.get(row["action"])
        values = row["input"]
        to = values.get("to")
        if action is None or not action.sends or values.get(COMPLIANCE_FLAG):
            continue
        if isinstance(to, (str, int)) and action.channel:
            candidates[row["id"]] = (action.channel, normalize_contact(action.channel, str(to)))
    out: set[str] = set()
    for channel in {c for c, _ in candidates.values()}:
        contacts = [k for c, k in candidates.values() if c == channel]
        blocked = opted_out_among(conn, channel, contacts)
        for action_id, (c, contact) in candidates.items():
            if c == channel and contact in blocked:
                out.add(action_id)
    add_opt_out_audit(
        conn,
        [
            {
                "channel": candidates[i][0],
                "contact": candidates[i][1],
                "action": "refused",
                "source": source,
                "message_id": None,
                "words": f"action {i}",
                "at": now,
            }
            for i in sorted(out)
        ],
    )
    return out
