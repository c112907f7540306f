"""The processor: claim raw rows -> parse (pure) -> events and messages, one transaction a batch.

Several workers may run against one PostgreSQL: rows are claimed with FOR UPDATE SKIP LOCKED,
and messages are locked in a fixed order. A redelivered item is dropped by the events table's
unique key, so it never moves a message twice (invariant 3). One bad item never fails its batch:
every parsed item is made storable first (events/storable.py); if a batch still cannot be
written, its rows are retried one by one, and a row that still fails is written item by item
(events/isolation.py), the item the database refuses becoming an unknown event with the reason.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog
from sqlalchemy import Connection, Engine

from events import metrics
from events.answers import SOURCE as KEPT_ANSWER_SOURCE
from events.automation import Automation, MessageSeen
from events.background import BackgroundLoop
from events.backlog import BacklogWatch
from events.bookkeeping import Bookkeeping
from events.channels.envelope import MAX_ITEMS, too_many_items
from events.channels.event import ParsedEvent, ParseError, Parser
from events.channels.status import status_fields
from events.channels.values import as_bool, as_str
from events.compliance import Compliance
from events.isolation import is_busy, reason_of, store_item_by_item
from events.retry import DATABASE_WAIT_CAP_SECONDS, RetryPolicy
from events.states import (
    MESSAGE_FIELDS,
    CallState,
    MessageState,
    apply_call_event,
    apply_event,
    initial_state,
)
from events.storable import storable_event
from events.vocabulary import MESSAGE_KINDS, Kind
from storage.db import is_unavailable, write_transaction
from storage.models import RAW_FAILED, RAW_IGNORED, RAW_PROCESSED
from storage.queries.calls import (
    CallRow,
    CallUpdate,
    LookupRow,
    insert_lookups,
    insert_new_calls,
    lock_calls,
    update_calls,
)
from storage.queries.messages import (
    EventRow,
    MessageRow,
    StoredMessage,
    channels_of_messages,
    insert_events_ignoring_duplicates,
    insert_new_messages,
    lock_messages,
    update_messages,
)
from storage.queries.raw import RawOutcome, StoredRaw, claim_raw, mark_raw, raw_by_ids

log = structlog.get_logger("events.process")

# While webhooks are arriving: small batches (a few ms of work, so a waiting ack is never held
# long). When a batch came back full (a backlog), the next waits as long as that batch took
# (the processor then holds the write lock about half the time), between BUSY_MIN_PAUSE and
# BUSY_PAUSE_SECONDS: at saturation, acks first. When it keeps up, no pause: at a few hundred
# webhooks a second a reply leaves within tens of milliseconds.
BUSY_BATCH_SIZE = 20
BUSY_PAUSE_SECONDS = 0.05
BUSY_MIN_PAUSE = 0.002


@dataclass(frozen=True, slots=True)
class Outcome:
    raw_id: str
    channel: str
    state: str
    items: int
    new_events: int
    error: str | None
    received_at: datetime
    kinds: tuple[tuple[str, str], ...] = ()  # (channel, kind) of each new event, for metrics


@dataclass(frozen=True, slots=True)
class Fold:
    """What the new events of a kind fold into besides their events rows, and the event's
    field that names that record (an event without it folds into nothing)."""

    into: str
    key: str


MESSAGES = Fold("messages", "message_id")  # the message's state machine (events/states.py)
CALLS = Fold("calls", "message_id")  # the call of its callId
LOOKUPS = Fold("lookups", "recipient")  # a Number Lookup result, kept per number
FOLDS: dict[str, Fold] = {
    **dict.fromkeys(MESSAGE_KINDS, MESSAGES),
    Kind.CALL: CALLS,
    Kind.NUMBER_LOOKUP: LOOKUPS,
}

Fresh = dict[Fold, list[tuple[ParsedEvent, EventRow]]]
# A raw row with its items, its state and its error, as parse_raw gives them.
ParsedRow = tuple[StoredRaw, list[ParsedEvent], str, str | None]


def _raw_outcome(
    raw: StoredRaw, state: str, error: str | None, keys: list[str], now: datetime
) -> RawOutcome:
    return {
        "raw_id": raw.id,
        "state": state,
        "error": error,
        "item_count": len(keys),
        "processed_at": now,
    }


def _outcome(
    raw: StoredRaw,
    state: str,
    error: str | None,
    keys: list[str],
    new_keys: Collection[str],
    kinds: dict[str, tuple[str, str]],
) -> Outcome:
    """What became of one raw row; each new event's (channel, kind) is taken once (pop)."""
    return Outcome(
        raw_id=raw.id,
        channel=raw.channel,
        state=state,
        items=len(keys),
        new_events=sum(1 for k in keys if k in new_keys),
        error=error,
        received_at=raw.received_at,
        kinds=tuple(kinds.pop(k) for k in keys if k in kinds),
    )


def _fresh(
    parsed: Sequence[tuple[ParsedEvent, str]], event_rows: Sequence[EventRow], new: Collection[str]
) -> Fresh:
    """The new events (each key once, in arrival order) with their rows, by what they fold
    into (FOLDS)."""
    fresh: Fresh = {MESSAGES: [], CALLS: [], LOOKUPS: []}
    seen_keys: set[str] = set()
    for (event, key), row in zip(parsed, event_rows, strict=True):
        if key not in new or key in seen_keys:
            continue
        seen_keys.add(key)
        fold = FOLDS.get(event.kind)
        if fold is not None and getattr(event, fold.key) is not None:
            fresh[fold].append((event, row))
    return fresh


class RawOrigin(Protocol):
    """What an event row takes from the raw row it came from."""

    @property
    def id(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def received_at(self) -> datetime: ...


def event_row(event: ParsedEvent, raw: RawOrigin, index: int) -> EventRow:
    return {
        "dedupe_key": event.dedupe_key(),
        "raw_id": raw.id,
        "item_index": index,
        "source": raw.source,
        "channel": event.channel,
        "channel_uncertain": event.channel_uncertain,
        "kind": event.kind,
        "sub_type": event.sub_type,
        "message_id": event.message_id,
        "direction": event.direction,
        "sender": event.sender,
        "recipient": event.recipient,
        "occurred_at": event.occurred_at,
        "received_at": raw.received_at,
        "data": event.data,
        "note": event.note,
        **status_fields(event.status, event.error, event.price),
    }


def lookup_row(event: ParsedEvent, key: str, raw_id: str, received_at: datetime) -> LookupRow:
    """A Number Lookup result (one with a number) as a lookups row."""
    item = event.data
    assert event.recipient is not None

    def network(name: str) -> str | None:
        value = item.get(name)
        if not isinstance(value, dict):
            return None
        return as_str(value.get("networkName")) or as_str(value.get("networkPrefix"))

    return {
        "number": event.recipient,
        "event_key": key,
        "raw_id": raw_id,
        "mcc_mnc": as_str(item.get("mccMnc")),
        "network": network("originalNetwork"),
        "ported": as_bool(item.get("ported")),
        "ported_network": network("portedNetwork"),
        "roaming": as_bool(item.get("roaming")),
        "roaming_network": network("roamingNetwork"),
        "outcome": event.status.group_name if event.status else None,
        "error_name": event.error.name if event.error else None,
        "error_permanent": event.error.permanent if event.error else None,
        "looked_up_at": event.occurred_at or received_at,
    }


class Processor(BackgroundLoop):
    thread_name = "processor"

    def __init__(
        self,
        engine: Engine,
        parsers: dict[str, Parser],
        *,
        batch_size: int = 200,
        max_attempts: int = 5,
        idle_seconds: float = 0.5,
        ingest_idle: Callable[[], bool] | None = None,
        compliance: Compliance | None = None,
        automation: Automation | None = None,
        bookkeeping: Bookkeeping | None = None,
        backlog: BacklogWatch | None = None,
    ) -> None:
        super().__init__()
        self.engine = engine
        self.parsers = parsers
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.idle_seconds = idle_seconds
        # While the database is unavailable: wait, from the idle interval growing to 30 s.
        self.database_retry = RetryPolicy(base=idle_seconds, cap=DATABASE_WAIT_CAP_SECONDS)
        # In `serve` the processor shares the process with the receiver: while webhooks are
        # arriving it takes small batches now and then, and the full batches when ingest is
        # quiet, so that acks stay fast and the backlog is worked off between bursts.
        self.ingest_idle = ingest_idle
        # Opt-out compliance (STOP, START, HELP) runs in the batch's transaction.
        self.compliance = compliance
        # The rules: decisions and their outbox actions, in the batch's transaction too.
        self.automation = automation
        # The cost ledger and the own-number marks, in the batch's transaction too.
        self.bookkeeping = bookkeeping or Bookkeeping(automation.holder if automation else None)
        self._last_batch_seconds = BUSY_PAUSE_SECONDS
        self._last_batch_full = True
        # Called after every round of run_forever that reached the database (the worker's
        # heartbeat, events/health.py).
        self.on_round: Callable[[], None] | None = None
        # Logs the oldest pending webhook's age while it is too old (events/backlog.py).
        self.backlog = backlog

    # ---- the pure part: bytes -> parsed events ----------------------------------------------

    def parse_raw(self, raw: StoredRaw) -> tuple[list[ParsedEvent], str, str | None]:
        """(events, raw state, error) for one raw row; never raises."""
        parser = self.parsers.get(raw.channel)
        if parser is None and raw.source == KEPT_ANSWER_SOURCE:
            # A Membrane answer kept as it came (events/answers.py): nothing to parse, even
            # when a replay comes by.
            return [], RAW_IGNORED, raw.error
        if parser is None:
            return [], RAW_FAILED, f"no parser for channel {raw.channel!r} yet; replay it later"
        try:
            result = parser(bytes(raw.body), raw.content_type)
        except ParseError as exc:
            return [], RAW_FAILED, str(exc)
        except Exception as exc:  # a parser bug must not stop the others
            return [], RAW_FAILED, f"parser crashed: {type(exc).__name__}: {exc}"
        if not result.events:
            return [], RAW_IGNORED, "no items in the body"
        if len(result.events) > MAX_ITEMS:
            return [], RAW_FAILED, too_many_items(len(result.events))
        error = "; ".join(result.item_errors) if result.item_errors else None
        # Every value made storable here, so that one odd item never fails the batch.
        return [storable_event(e) for e in result.events], RAW_PROCESSED, error

    # ---- one transaction ---------------------------------------------------------------------

    def handle(self, conn: Connection, rows: Sequence[StoredRaw]) -> list[Outcome]:
        """Write the events and messages of these raw rows inside the caller's transaction."""
        return self.write_parsed(conn, [(raw, *self.parse_raw(raw)) for raw in rows])

    def write_parsed(
        self, conn: Connection, parsed_rows: list[ParsedRow], *, start: int = 0, mark: bool = True
    ) -> list[Outcome]:
        """Write parsed rows (their items numbered from start) and, with mark, their raw
        rows' outcomes. events/isolation.py writes one item at a time through here."""
        now = datetime.now(UTC)
        event_rows: list[EventRow] = []
        parsed: list[tuple[ParsedEvent, str]] = []
        per_raw: list[tuple[StoredRaw, str, str | None, list[str]]] = []
        self._resolve_channels(conn, parsed_rows)
        self.bookkeeping.mark(conn, [e for _, items, _, _ in parsed_rows for e in items])
        for raw, items, state, error in parsed_rows:
            keys = []
            for index, event in enumerate(items, start):
                row = event_row(event, raw, index)
                event_rows.append(row)
                parsed.append((event, row["dedupe_key"]))
                keys.append(row["dedupe_key"])
            per_raw.append((raw, state, error, keys))

        new_ids = insert_events_ignoring_duplicates(conn, event_rows) if event_rows else {}
        new_keys = new_ids.keys()
        if new_ids:
            self.bookkeeping.record(conn, [(e, new_ids[k]) for e, k in parsed if k in new_ids], now)
        kinds = {
            k: (r["channel"], r["kind"]) for r in event_rows if (k := r["dedupe_key"]) in new_keys
        }

        # Fold the new events into their messages, calls and lookups, in arrival order.
        fresh = _fresh(parsed, event_rows, new_keys)
        intents: dict[int, str] = {}
        messages: dict[tuple[str, str], MessageSeen] = {}
        if fresh[MESSAGES]:
            messages = self._fold(conn, [event for event, _ in fresh[MESSAGES]], now)
            if self.compliance is not None:
                pairs = [(event, new_ids[row["dedupe_key"]]) for event, row in fresh[MESSAGES]]
                intents = self.compliance.apply(conn, pairs, now)
        if fresh[CALLS]:
            self._fold_calls(conn, [event for event, _ in fresh[CALLS]], now)
        insert_lookups(
            conn,
            [
                lookup_row(event, row["dedupe_key"], row["raw_id"], row["received_at"])
                for event, row in fresh[LOOKUPS]
            ],
        )
        if self.automation is not None and new_keys:
            # Every new event, in arrival order (a redelivered one is not new: no second run).
            done: set[str] = set()
            new_events = []
            for event, key in parsed:
                if key in new_keys and key not in done:
                    done.add(key)
                    new_events.append((event, new_ids[key]))
            self.automation.apply(conn, new_events, intents, now, messages)

        if mark:
            mark_raw(
                conn,
                [_raw_outcome(raw, state, error, keys, now) for raw, state, error, keys in per_raw],
            )
        return [
            _outcome(raw, state, error, keys, new_keys, kinds)
            for raw, state, error, keys in per_raw
        ]

    @staticmethod
    def _resolve_channels(conn: Connection, parsed_rows: list[ParsedRow]) -> None:
        """A shared-shape report from /webhooks/auto takes the channel of the message already
        known by its id (when exactly one channel knows it), else the channel its callbackData
        names; otherwise it stays uncertain."""
        ids = [
            e.message_id
            for _, items, _, _ in parsed_rows
            for e in items
            if e.channel_uncertain and e.message_id is not None
        ]
        if not ids:
            return
        known = channels_of_messages(conn, ids)
        for _, items, _, _ in parsed_rows:
            for index, event in enumerate(items):
                if not event.channel_uncertain or event.message_id is None:
                    continue
                channels = known.get(event.message_id, set())
                hint = event.data.get("channel_hint")
                if len(channels) == 1:
                    channel = channels.pop()
                elif isinstance(hint, str):
                    channel = hint
                else:
                    continue
                items[index] = dataclasses.replace(event, channel=channel, channel_uncertain=False)

    def _fold(
        self, conn: Connection, fresh: list[ParsedEvent], now: datetime
    ) -> dict[tuple[str, str], MessageSeen]:
        """Apply new events to their messages. Each message is first folded as if it were new
        and inserted whole; the keys that already exist (the insert skips them) are then locked,
        folded onto what is stored, and updated. Returns each message as it now is, for the
        rules."""
        by_key: dict[tuple[str, str], list[ParsedEvent]] = {}
        for event in fresh:
            assert event.message_id is not None
            by_key.setdefault((event.channel, event.message_id), []).append(event)
        rows: list[MessageRow] = []
        seen: dict[tuple[str, str], MessageSeen] = {}
        for (channel, message_id), items in by_key.items():
            direction, state = initial_state(items[0])
            msg = MessageState(
                channel=channel,
                message_id=message_id,
                direction=direction,
                state=state,
                channel_uncertain=items[0].channel_uncertain,
            )
            for event in items:
                apply_event(msg, event)
            rows.append(msg.row(now, now))
            seen[(channel, message_id)] = MessageSeen(msg.state, msg.sent_at, now, None)
        inserted = insert_new_messages(conn, rows)
        existing = [key for key in by_key if key not in inserted]
        if existing:
            stored = lock_messages(conn, existing)
            update_messages(conn, self._fold_existing(stored, by_key, now, seen))
        return seen

    @staticmethod
    def _fold_calls(conn: Connection, fresh: list[ParsedEvent], now: datetime) -> None:
        by_call: dict[str, list[ParsedEvent]] = {}
        for event in fresh:
            assert event.message_id is not None
            by_call.setdefault(event.message_id, []).append(event)
        new_rows: list[CallRow] = []
        for call_id, items in by_call.items():
            call = CallState(call_id=call_id)
            for event in items:
                apply_call_event(call, event)
            new_rows.append({**call.columns(), "created_at": now, "updated_at": now})
        inserted = insert_new_calls(conn, new_rows)
        existing = [call_id for call_id in by_call if call_id not in inserted]
        updates: list[CallUpdate] = []
        for row in lock_calls(conn, existing):
            call = CallState(**{name: getattr(row, name) for name in CallState.__slots__})
            for event in by_call[row.call_id]:
                apply_call_event(call, event)
            updates.append({**call.columns(), "call_row_id": row.id, "updated_at": now})
        update_calls(conn, updates)

    @staticmethod
    def _fold_existing(
        rows: Sequence[StoredMessage],
        by_key: dict[tuple[str, str], list[ParsedEvent]],
        now: datetime,
        seen: dict[tuple[str, str], MessageSeen],
    ) -> list[tuple[int, MessageRow]]:
        updates: list[tuple[int, MessageRow]] = []
        for row in rows:
            values = {name: getattr(row, name) for name in MESSAGE_FIELDS}
            msg = MessageState(id=row.id, **values)
            for event in by_key[(row.channel, row.message_id)]:
                apply_event(msg, event)
            seen[(row.channel, row.message_id)] = MessageSeen(
                msg.state, msg.sent_at, row.created_at, msg.action_id
            )
            if msg.changed:
                updates.append((row.id, msg.row(row.created_at, now)))
        return updates

    def request_rules_reload(self, *_: object) -> None:
        """SIGHUP: read the rules file again between two batches (no event is dropped or half
        evaluated); a file that does not validate keeps the old rules. Safe in a signal
        handler: it only sets a flag and wakes the loop."""
        if self.automation is not None:
            self.automation.holder.request_reload()
        self.wake()

    # ---- claiming and the loop ---------------------------------------------------------------

    def run_once(self, limit: int | None = None) -> list[Outcome]:
        """Claim and process one batch. Raises only when the database is unavailable."""
        if self.automation is not None:
            self.automation.holder.reload_if_requested()  # SIGHUP: between batches only
        claimed: list[str] = []
        started = time.perf_counter()
        try:
            with write_transaction(self.engine) as conn:
                rows = claim_raw(conn, limit or self.batch_size, self.max_attempts)
                claimed = [r.id for r in rows]
                if not rows:
                    self._last_batch_full = False
                    return []
                outcomes = self.handle(conn, rows)
        except Exception as exc:
            if is_unavailable(exc) or not claimed:
                raise
            log.warning(
                "batch failed, retrying its rows one by one",
                rows=len(claimed),
                error=str(exc).splitlines()[0],
            )
            outcomes = self.process_ids(claimed)
        self._last_batch_seconds = time.perf_counter() - started
        self._last_batch_full = len(outcomes) >= (limit or self.batch_size)
        self._log(outcomes, self._last_batch_seconds)
        metrics.processed(outcomes)
        if self.automation is not None:
            self.automation.after_commit()
        return outcomes

    def process_ids(self, ids: Sequence[str]) -> list[Outcome]:
        """Process these raw rows whatever their state (replay), each in its own transaction
        when a batch cannot be written; idempotent through the events' unique key."""
        outcomes: list[Outcome] = []
        for start in range(0, len(ids), self.batch_size):
            chunk = list(ids[start : start + self.batch_size])
            try:
                with write_transaction(self.engine) as conn:
                    outcomes.extend(self.handle(conn, raw_by_ids(conn, chunk)))
                continue
            except Exception as exc:
                if is_unavailable(exc):
                    raise
            for raw_id in chunk:
                outcomes.extend(self._process_one(raw_id))
        if self.automation is not None:
            self.automation.after_commit()
        return outcomes

    def _process_one(self, raw_id: str) -> list[Outcome]:
        try:
            with write_transaction(self.engine) as conn:
                return self.handle(conn, raw_by_ids(conn, [raw_id]))
        except Exception as exc:
            if is_unavailable(exc):
                raise
            reason = f"could not be stored: {reason_of(exc)}"
        # One item the database refuses must not cost the others: item by item, in savepoints.
        try:
            done = store_item_by_item(self, raw_id)
        except Exception as exc:
            if is_unavailable(exc):
                raise
            done = None
            reason += f"; item by item: {reason_of(exc)}"
        if done is not None:
            raw = done.raw
            return [
                Outcome(
                    raw.id,
                    raw.channel,
                    RAW_PROCESSED,
                    done.items,
                    done.new_events,
                    done.error,
                    raw.received_at,
                )
            ]
        with write_transaction(self.engine) as conn:
            rows = raw_by_ids(conn, [raw_id])
            failed: RawOutcome = {
                "raw_id": raw_id,
                "state": RAW_FAILED,
                "error": reason,
                "item_count": None,
                "processed_at": datetime.now(UTC),
            }
            mark_raw(conn, [failed])
        return [Outcome(raw_id, r.channel, RAW_FAILED, 0, 0, reason, r.received_at) for r in rows]

    def _log(self, outcomes: Sequence[Outcome], seconds: float) -> None:
        """One line per webhook: id, channel, items, outcome, milliseconds since it arrived."""
        now = datetime.now(UTC)
        for o in outcomes:
            log.info(
                "webhook",
                id=o.raw_id,
                channel=o.channel,
                items=o.items,
                new=o.new_events,
                outcome=o.state,
                ms=round((now - o.received_at).total_seconds() * 1000, 1),
                **({"error": o.error} if o.error else {}),
            )

    def _pace(self) -> int:
        """How many rows to take now (see ingest_idle)."""
        if self.ingest_idle is None or self.ingest_idle():
            return self.batch_size
        if self._last_batch_full:
            # Falling behind while webhooks arrive: let the acks through first.
            pause = min(BUSY_PAUSE_SECONDS, max(BUSY_MIN_PAUSE, self._last_batch_seconds))
            self._stop.wait(pause)
        return BUSY_BATCH_SIZE

    def run_forever(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                limit = self._pace()
                outcomes = self.run_once(limit)
                failures = 0
                if self.on_round is not None:
                    self.on_round()
                if self.backlog is not None:
                    self.backlog.check()
            except Exception as exc:
                # SQLite busy past its timeout (a burst of acks holding the write lock) is no
                # outage: try again soon rather than back off towards 30 s with rows pending.
                failures = 0 if is_busy(exc) else failures + 1
                wait = self.database_retry.delay(failures) if failures else BUSY_PAUSE_SECONDS
                log.error(
                    "processor cannot reach the database",
                    error=str(exc).splitlines()[0],
                    retry_in_s=round(wait, 3),
                )
                self._stop.wait(wait)
                continue
            if len(outcomes) < limit:
                self._wake.wait(self.idle_seconds)
                self._wake.clear()
