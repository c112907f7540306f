"""The dispatcher: outbox -> Membrane, with leases, bounded concurrency, retries with capped
exponential backoff and jitter, dead letters, and no blind resend of a send whose outcome is
unknown.

A send carries a message id of ours (tracking_id). When its outcome is unknown (a timeout, a 5xx,
a dispatcher that died holding the lease) the next attempt first reads the logs for that id:
found means it was sent, and the action is done with what the logs say; not found means Infobip
never had it, and only then is it sent again. A channel with no logs to read (WhatsApp) parks
the action as unknown_outcome for a person (`infobip-events actions retry ID`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Generator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Connection, Engine

from events import metrics
from events.answers import keep_answer
from events.background import BackgroundLoop
from events.forward import Forwarder
from events.membrane.catalogue import Action, message_ids, render
from events.membrane.client import MembraneClient, MembraneError
from events.optouts import OptOutPolicy
from events.outbox import SendProbe, refusals
from events.retry import DATABASE_WAIT_CAP_SECONDS, CallError, Failure, RetryPolicy, classify
from events.sessions import recheck_due
from events.states import MessageState
from events.vocabulary import Direction, State
from storage.db import is_unavailable, write_transaction
from storage.ids import new_id
from storage.queries.messages import MessageRow, insert_new_messages, link_messages
from storage.queries.outbox import (
    ActionChange,
    ActionOutcome,
    ClaimedAction,
    claim_actions,
    finish_actions,
    switch_actions,
)

log = structlog.get_logger("events.dispatch")

# An unknown outcome that no log can settle waits for a person, not for a clock.
PARKED = datetime(9999, 12, 31, tzinfo=UTC)
# When the results of a batch cannot be written: this many tries, 1 s apart growing to 10 s.
WRITE_ATTEMPTS = 5
WRITE_RETRY = RetryPolicy(base=1.0, cap=10.0)


# The email sends VALIDATE_EMAIL checks first, and the check.
VALIDATED = "send-email"
VALIDATION = "validate-email-addresses"
KEPT_NOTE = "validate-email-addresses answer (VALIDATE_EMAIL)"


def invalid_reason(output: Any) -> str | None:
    """Why Infobip's validation says an address must not be mailed, or None. Infobip writes
    validMailbox as a string ("true", "false", "unknown"); unknown (the provider would not
    say) is not invalid."""
    answers = output if isinstance(output, list) else [output]
    for answer in answers:
        if not isinstance(answer, dict):
            continue
        if answer.get("validSyntax") is False:
            return str(answer.get("detailedReasons") or "invalid syntax")
        if str(answer.get("validMailbox", "")).lower() == "false":
            return str(answer.get("detailedReasons") or "invalid mailbox")
    return None


# A Membrane call the work of an action asks for: ("run", (key, input)),
# ("request", (method, path, body)), ("http", (url, event)), or ("keep", (channel, output)):
# an answer stored raw before it is used (events/answers.py).
Call = tuple[str, tuple[Any, ...]]
Steps = Generator[Call, Any, Any]


@dataclass
class ActionResult:
    values: ActionChange
    messages: list[tuple[str, str]]
    recipient: str | None = None
    callback_data: str | None = None


class Dispatcher(BackgroundLoop):
    thread_name = "dispatcher"

    def __init__(
        self,
        engine: Engine,
        client: MembraneClient,
        catalogue: dict[str, Action],
        *,
        concurrency: int = 64,
        lease_seconds: float = 120.0,
        backoff_seconds: float = 2.0,
        backoff_cap_seconds: float = 600.0,
        idle_seconds: float = 0.5,
        notify_url: str | None = None,
        send_via_proxy: frozenset[str] = frozenset(),
        forward_secret: str | None = None,
        forward_timeout: float = 10.0,
        policy: OptOutPolicy | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        validate_email: bool = False,
    ) -> None:
        super().__init__()
        # VALIDATE_EMAIL (issue 13): an automated email's address is validated first.
        self.validate_email = validate_email
        self.engine = engine
        self.client = client
        self.catalogue = catalogue
        self.concurrency = concurrency
        self.lease = timedelta(seconds=lease_seconds)
        # Actions (Membrane calls and forwards alike) wait this between attempts.
        self.retry = RetryPolicy(base=backoff_seconds, cap=backoff_cap_seconds)
        # Claiming, when the database is unavailable.
        self.claim_retry = RetryPolicy(base=idle_seconds, cap=DATABASE_WAIT_CAP_SECONDS)
        self.idle_seconds = idle_seconds
        self.notify_url = notify_url
        self.send_via_proxy = send_via_proxy
        self.clock = clock
        self.forwarder = Forwarder(
            forward_secret, timeout=forward_timeout, max_connections=concurrency
        )
        self.policy = policy or OptOutPolicy()
        self.worker = f"{os.getpid()}-{new_id()[-8:]}"
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="dispatch")

    # ---- one action (no database inside: only Membrane) ---------------------------------------

    def _values(self, row: ClaimedAction) -> dict[str, Any]:
        values = dict(row.input)
        if row.tracking_id:
            values["message_id"] = row.tracking_id
        if self.notify_url and "notify_url" not in values:
            values["notify_url"] = self.notify_url
        return values

    # The work of one action is a generator of the Membrane calls it needs, so the decisions
    # (look up first, then send; classify what failed) stay apart from how calls are made;
    # execute() drives it with the client.

    def _send(self, action: Action, values: dict[str, Any]) -> Steps:
        if action.proxy is not None and action.channel in self.send_via_proxy:
            method, path, body = action.proxy
            return (yield ("request", (method, path, render(body, values))))
        result = yield ("run", (action.key, render(action.template, values) or {}))
        return result.output

    def _lookup(self, action: Action, tracking_id: str) -> Steps:
        """What the logs know of our message id, or None when Infobip has no trace of it."""
        assert action.lookup is not None
        key, template = action.lookup
        result = yield ("run", (key, render(template, {"message_id": tracking_id}) or {}))
        found = [i for i in message_ids(result.output) if i == tracking_id]
        return result.output if found else None

    # ---- VALIDATE_EMAIL (issue 13, item 7) -----------------------------------------------------
    # The check runs here, just before the send, and not when the rules queue the email: the
    # processor must never wait for Membrane (a slow Membrane would hold every webhook behind
    # it), and the dispatcher already calls Membrane with retries and a lease. Only automated
    # emails (queued by a rule: caused by an event) are checked; an email a person sends
    # through the API or the CLI goes as asked.

    def _validate(self, values: dict[str, Any]) -> Steps:
        """None when every address may be mailed, else why not (Infobip's reason). Each
        answer is kept raw before it is read."""
        to = values.get("to")
        for address in to if isinstance(to, list) else [to]:
            action = self.catalogue[VALIDATION]
            result = yield ("run", (VALIDATION, render(action.template, {"to": address}) or {}))
            yield ("keep", ("email-validation", result.output))
            reason = invalid_reason(result.output)
            if reason is not None:
                return f"skipped: Infobip's validation says {address} is invalid ({reason})"
        return None

    def _steps(self, row: ClaimedAction) -> Generator[Call, Any, ActionResult]:
        """Run one claimed action and say what to write back. Never raises."""
        now = self.clock()
        action = self.catalogue.get(row.action)
        attempts = row.attempts
        if action is None:
            return ActionResult(
                {
                    "state": "failed",
                    "last_error": f"unknown action {row.action!r}",
                    "updated_at": now,
                },
                [],
            )
        values = self._values(row)
        if action.http:
            try:
                attempts += 1
                output = yield ("http", (values.get("url"), values.get("event")))
                return self._done(action, row, output, values, now, attempts=attempts)
            except CallError as error:
                return self._failed(row, error, classify(error, sends=False), attempts, now)
        # A send that may already have happened is looked up before anything is sent again.
        uncertain = action.sends and row.claimed_from in ("unknown_outcome", "running")
        try:
            if uncertain:
                if action.lookup is None or not row.tracking_id:
                    return ActionResult(
                        {
                            "state": "unknown_outcome",
                            "next_attempt_at": PARKED,
                            "updated_at": now,
                            "last_error": (row.last_error or "")
                            + " | no log can tell whether it was sent: check, then "
                            "`infobip-events actions retry`",
                        },
                        [],
                    )
                found = yield from self._lookup(action, row.tracking_id)
                if found is not None:
                    return self._done(action, row, found, values, now, note="found in the logs")
            if self.validate_email and action.key == VALIDATED and row.caused_by_event_id:
                try:
                    invalid = yield from self._validate(values)
                except MembraneError as error:  # nothing was sent: a read that failed
                    return self._failed(row, error, classify(error, sends=False), attempts + 1, now)
                if invalid is not None:
                    return ActionResult(
                        {"state": "skipped", "last_error": invalid, "updated_at": now}, []
                    )
            attempts += 1
            output = yield from self._send(action, values)
            return self._done(action, row, output, values, now, attempts=attempts)
        except MembraneError as error:
            failure = classify(error, sends=action.sends and not uncertain)
            if uncertain and failure is not Failure.PERMANENT:
                failure = Failure.UNKNOWN_OUTCOME  # the check itself failed: still unknown
            return self._failed(row, error, failure, attempts, now)
        except Exception as exc:  # a bug must not kill the dispatcher
            return ActionResult(
                {
                    "state": "failed",
                    "attempts": attempts,
                    "updated_at": now,
                    "last_error": f"{type(exc).__name__}: {exc}",
                },
                [],
            )

    def execute(self, row: ClaimedAction) -> ActionResult:
        steps = self._steps(row)
        try:
            call = next(steps)
            while True:
                kind, args = call
                try:
                    if kind == "run":
                        result: Any = self.client.run_action(*args)
                    elif kind == "http":
                        result = self.forwarder.post(*args)
                    elif kind == "keep":
                        result = keep_answer(self.engine, *args, process=False, note=KEPT_NOTE)
                    else:
                        result = self.client.request(args[0], args[1], body=args[2])
                except Exception as exc:
                    call = steps.throw(exc)
                    continue
                call = steps.send(result)
        except StopIteration as stop:
            outcome: ActionResult = stop.value
            metrics.dispatched(row.action, self.catalogue, outcome.values.get("state", ""))
            return outcome

    def _done(
        self,
        action: Action,
        row: ClaimedAction,
        output: Any,
        values: dict[str, Any],
        now: datetime,
        *,
        attempts: int | None = None,
        note: str | None = None,
    ) -> ActionResult:
        ids = message_ids(output) if action.sends else []
        result: ActionChange = {
            "state": "done",
            "output": output if isinstance(output, dict) else {"value": output},
            "message_ids": ids,
            "last_error": note,
            "updated_at": now,
        }
        if attempts is not None:
            result["attempts"] = attempts
        messages = [(action.channel, i) for i in ids] if action.channel else []
        to = values.get("to")
        return ActionResult(
            result,
            messages,
            recipient=str(to) if isinstance(to, (str, int)) else None,
            callback_data=values.get("callback_data"),
        )

    def _failed(
        self,
        row: ClaimedAction,
        error: CallError,
        failure: Failure,
        attempts: int,
        now: datetime,
    ) -> ActionResult:
        metrics.dispatch_failed(row.action, failure)
        message = str(error)[:2000]
        if isinstance(error, MembraneError) and error.stderr:
            message += f" | stderr: {error.stderr.strip()[:500]}"
        if failure is Failure.PERMANENT:
            return ActionResult(
                {"state": "failed", "attempts": attempts, "last_error": message, "updated_at": now},
                [],
            )
        if attempts >= row.max_attempts:
            state = "unknown_outcome" if failure is Failure.UNKNOWN_OUTCOME else "dead"
            return ActionResult(
                {
                    "state": state,
                    "attempts": attempts,
                    "last_error": message,
                    "next_attempt_at": PARKED,
                    "updated_at": now,
                },
                [],
            )
        delay = self.delay(attempts, error.retry_after)
        state = "unknown_outcome" if failure is Failure.UNKNOWN_OUTCOME else "pending"
        return ActionResult(
            {
                "state": state,
                "attempts": attempts,
                "last_error": message,
                "next_attempt_at": now + timedelta(seconds=delay),
                "updated_at": now,
            },
            [],
        )

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Seconds until the next attempt of an action that failed `attempts` times
        (self.retry: capped exponential backoff, equal jitter, a Retry-After as a floor)."""
        return self.retry.delay(attempts, retry_after)

    # ---- claiming and writing back -------------------------------------------------------------

    def claim(self, limit: int) -> list[ClaimedAction]:
        """Lease due actions. Sends to contacts on the suppression list end here, failed and
        audited, whatever queued them: this is the last check before Membrane."""
        with write_transaction(self.engine) as conn:
            return self._claim_in(conn, limit)

    def _claim_in(self, conn: Connection, limit: int) -> list[ClaimedAction]:
        now = self.clock()
        rows = claim_actions(conn, now, limit, now + self.lease, self.worker)
        probes: list[SendProbe] = [{"id": r.id, "action": r.action, "input": r.input} for r in rows]
        refused = refusals(conn, probes, self.catalogue, self.policy, now, "dispatcher")
        kept = self._recheck_windows(conn, [r for r in rows if r.id not in refused], refused, now)
        finish_actions(
            conn,
            self.worker,
            [
                (
                    r.id,
                    {
                        **r.unchanged(),
                        "state": "failed",
                        "updated_at": now,
                        "last_error": refused[r.id],
                    },
                )
                for r in rows
                if r.id in refused
            ],
        )
        return [r for r in kept if r.id not in refused]

    def _recheck_windows(
        self, conn: Connection, rows: list[ClaimedAction], refused: dict[str, str], now: datetime
    ) -> list[ClaimedAction]:
        """A rule's WhatsApp text, due now, is checked against the window again (a quiet-hours
        deferral may have crossed its end): outside, the template it carries goes instead, or
        it fails with the reason (added to `refused`)."""
        switched, failed = recheck_due(conn, rows, self.policy.region, now)
        refused.update(failed)
        if switched:
            switch_actions(conn, [(i, a, v) for i, (a, v) in switched.items()], now)
            log.info("outside the WhatsApp window when due: sent as a template", n=len(switched))
        return [
            dataclasses.replace(r, action=switched[r.id][0], input=switched[r.id][1])
            if r.id in switched
            else r
            for r in rows
        ]

    def write(self, done: list[tuple[ClaimedAction, ActionResult]]) -> None:
        """Write a batch of outcomes in one transaction, and track the messages they sent."""
        with write_transaction(self.engine) as conn:
            self._write_in(conn, done)

    def _write_in(self, conn: Connection, done: list[tuple[ClaimedAction, ActionResult]]) -> None:
        results: list[tuple[str, ActionOutcome]] = [
            (row.id, {**row.unchanged(), **outcome.values}) for row, outcome in done
        ]
        written = finish_actions(conn, self.worker, results)
        self._track(conn, [(row, o) for row, o in done if row.id in written])
        for row, outcome in done:
            if row.id not in written:
                log.warning("lease lost before the result was written", action=row.id)
                continue
            log.info(
                "action",
                id=row.id,
                action=row.action,
                outcome=outcome.values["state"],
                attempts=outcome.values.get("attempts"),
                messages=len(outcome.messages),
            )

    def _track(self, conn: Connection, done: list[tuple[ClaimedAction, ActionResult]]) -> None:
        """Outbound messages wait as `unknown` for their reports, linked to the action."""
        now = self.clock()
        rows: list[MessageRow] = []
        owners: dict[tuple[str, str], str] = {}
        for row, outcome in done:
            for channel, message_id in outcome.messages:
                msg = MessageState(
                    channel=channel,
                    message_id=message_id,
                    direction=Direction.OUTBOUND,
                    state=State.UNKNOWN,
                    recipient=outcome.recipient,
                    callback_data=outcome.callback_data,
                    action_id=row.id,
                )
                rows.append(msg.row(now, now))
                owners[(channel, message_id)] = row.id
        if not rows:
            return
        inserted = insert_new_messages(conn, rows)
        for key, action_id in owners.items():
            if key not in inserted:
                link_messages(conn, [key], action_id)

    def run_once(self) -> int:
        """Claim what is due, run it, write it back. Returns how many actions ran."""
        rows = self.claim(self.concurrency)
        if not rows:
            return 0
        results = list(self._pool.map(self.execute, rows))
        self.write(list(zip(rows, results, strict=True)))
        return len(rows)

    def run_forever(self) -> None:
        """Keep up to `concurrency` actions in flight; claim more as slots free up."""
        running: dict[Future[ActionResult], ClaimedAction] = {}
        claim_failures = 0
        while not self._stop.is_set() or running:
            free = self.concurrency - len(running)
            if not self._stop.is_set() and free >= max(1, self.concurrency // 4):
                try:
                    for row in self.claim(free):
                        running[self._pool.submit(self.execute, row)] = row
                    claim_failures = 0
                except Exception as exc:
                    if not is_unavailable(exc):
                        log.exception("claiming actions failed")
                    claim_failures += 1
                    self._stop.wait(self.claim_retry.delay(claim_failures))
            if not running:
                self._wake.wait(self.idle_seconds)
                self._wake.clear()
                continue
            finished, _ = wait(
                list(running), timeout=self.idle_seconds, return_when=FIRST_COMPLETED
            )
            if finished:
                batch = [(running.pop(f), f.result()) for f in finished]
                free = self.concurrency - len(running)
                try:
                    # One transaction (one commit) writes what finished and claims what is
                    # next.
                    with write_transaction(self.engine) as conn:
                        self._write_in(conn, batch)
                        claimed = [] if self._stop.is_set() else self._claim_in(conn, free)
                except Exception:
                    self._write_with_retry(batch)
                    continue
                for row in claimed:
                    running[self._pool.submit(self.execute, row)] = row

    def _write_with_retry(self, batch: list[tuple[ClaimedAction, ActionResult]]) -> None:
        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                self.write(batch)
                return
            except Exception as exc:
                log.error(
                    "cannot write action results",
                    error=str(exc).splitlines()[0],
                    attempt=attempt,
                )
            if attempt < WRITE_ATTEMPTS:
                # A plain sleep, not the stop event: results are still worth writing while
                # the dispatcher stops.
                time.sleep(WRITE_RETRY.delay(attempt))
        # The leases expire and another dispatcher checks the logs before sending again.

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.forwarder.close()
