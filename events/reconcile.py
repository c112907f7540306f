"""The reconciler: recover the reports that never came, before Infobip's 48-hour window closes.

Infobip keeps no webhook history; a lost callback can only be recovered from the reports and
logs APIs, within about 48 hours, and the reports endpoints return each report only once.
So, per channel:

1. stale messages (outbound, no final state, older than the channel's delay, inside the window)
   are looked up in the **logs** first, because logs can be read again: batched by message id,
   paced under Infobip's throttles;
2. then the one-time **reports** are pulled;
3. every response is stored as a raw row (source ``reconcile``) **before anything else** and goes
   through the same parsers, dedupe and state machine as a webhook, so a report that arrives by
   both routes counts once;
4. a logs sweep over the window also records messages sent by other systems (discovery);
5. a message past the window with no final report becomes ``unknown``, "report window closed".

One reconciler runs at a time: a PostgreSQL advisory lock elects the leader among workers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Engine

from events import metrics
from events.answers import keep_answer
from events.background import BackgroundLoop
from events.channels.event import ParsedEvent
from events.channels.registry import DEFAULT_DELAYS, INBOUND, LOGS, ONE_ID_LOGS, REPORTS
from events.channels.spec import Source
from events.channels.status import Status
from events.membrane.catalogue import Action, render
from events.membrane.client import MembraneClient, MembraneError
from events.process import Processor, event_row
from events.runs import interrupt_orphans, this_owner
from events.vocabulary import Direction, Kind
from storage.db import write_transaction
from storage.ids import new_id
from storage.queries.messages import insert_events_ignoring_duplicates
from storage.queries.reconcile import (
    RunCounts,
    StoredRun,
    close_messages,
    expired_messages,
    final_among,
    insert_run,
    known_among,
    list_runs,
    release_leader_lock,
    stale_messages,
    try_leader_lock,
    update_run,
)

log = structlog.get_logger("events.reconcile")

LEADER_LOCK_KEY = 0x1B_E7_0C  # any constant shared by every worker of one database
WINDOW = timedelta(hours=48)
BATCH = 1000  # Infobip's logs and reports return at most 1,000 items a call


# What to read for each channel (LOGS first, repeatable, by message id; then the one-time
# REPORTS; INBOUND as a backstop), each paced by its Source, and how long after sending to
# look (DEFAULT_DELAYS): each channel module declares its own (events/channels/spec.py,
# Reconcile), and the registry gathers them.


class Pacer:
    """Spaces the calls to each endpoint under its per-minute throttle."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._next: dict[str, float] = {}
        self._sleep = sleep
        self._lock = threading.Lock()

    def wait(self, source: Source) -> None:
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next.get(source.target, now))
            self._next[source.target] = at + 60.0 / source.per_minute
        if at > now:
            self._sleep(at - now)


@dataclass
class RunReport:
    id: str
    checked: int = 0
    recovered: int = 0
    still_missing: int = 0
    discovered: int = 0
    closed: int = 0
    errors: int = 0
    calls: list[str] = field(default_factory=list)
    error_text: list[str] = field(default_factory=list)

    def counts(self) -> RunCounts:
        return {
            "checked": self.checked,
            "recovered": self.recovered,
            "still_missing": self.still_missing,
            "discovered": self.discovered,
            "closed": self.closed,
            "errors": self.errors,
        }


class Reconciler(BackgroundLoop):
    thread_name = "reconciler"

    def __init__(
        self,
        engine: Engine,
        client: MembraneClient,
        catalogue: dict[str, Action],
        processor: Processor,
        *,
        delays: dict[str, timedelta] | None = None,
        window: timedelta = WINDOW,
        interval_seconds: float = 300.0,
        inbound_backstop: bool = False,
        pacer: Pacer | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__()
        self.engine = engine
        self.client = client
        self.catalogue = catalogue
        self.processor = processor
        self.delays = delays or dict(DEFAULT_DELAYS)
        self.window = window
        self.interval_seconds = interval_seconds
        self.inbound_backstop = inbound_backstop
        self.pacer = pacer or Pacer()
        self.clock = clock
        self._local_lock = threading.Lock()

    # ---- Membrane calls, each stored raw before anything else ---------------------------------

    def _read(self, source: Source, values: dict[str, Any], query: dict[str, str]) -> Any:
        self.pacer.wait(source)
        if source.kind == "action":
            action = self.catalogue[source.target]
            return self.client.run_action(
                source.target, render(action.template, values) or {}
            ).output
        return self.client.request("GET", source.target, query=query)

    def _store(self, channel: str, output: Any) -> str:
        """Keep the response exactly like a webhook, committed, before it is processed: the
        one-time reports will not come again."""
        return keep_answer(
            self.engine, channel, output, process=True, now=self.clock(), source="reconcile"
        )

    def _pull(
        self,
        report: RunReport,
        channel: str,
        source: Source,
        values: dict[str, Any],
        query: dict[str, str],
        before_processing: Callable[[list[str]], None] | None = None,
    ) -> list[str]:
        """Read, store, process. Returns the message ids the response held."""
        report.calls.append(f"{source.target} {json.dumps(values or query)[:80]}")
        try:
            output = self._read(source, values, query)
        except MembraneError as exc:
            report.errors += 1
            report.error_text.append(f"{source.target}: {exc}")
            return []
        raw_id = self._store(channel, output)
        results = output.get("results", []) if isinstance(output, dict) else []
        ids = [str(r["messageId"]) for r in results if isinstance(r, dict) and r.get("messageId")]
        if before_processing is not None:
            before_processing(ids)
        metrics.processed(self.processor.process_ids([raw_id]))
        return ids

    # ---- one run ------------------------------------------------------------------------------

    def run(
        self,
        *,
        channel: str | None = None,
        since: datetime | None = None,
        dry_run: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> RunReport | None:
        """One reconciliation. None when another worker holds the leader lock."""
        with self._leader() as leader:
            if not leader:
                return None
            return self._run(
                channel=channel, since=since, dry_run=dry_run, progress=progress or (lambda _: None)
            )

    def _run(
        self,
        *,
        channel: str | None,
        since: datetime | None,
        dry_run: bool,
        progress: Callable[[str], None],
    ) -> RunReport:
        now = self.clock()
        report = RunReport(id=new_id())
        # Runs a crash left running are closed first (events/runs.py): on PostgreSQL holding
        # the leader lock proves their owners gone.
        interrupt_orphans(self.engine, now, leader_held=self.engine.dialect.name == "postgresql")
        with write_transaction(self.engine) as conn:
            insert_run(
                conn,
                {
                    "id": report.id,
                    "started_at": now,
                    "finished_at": None,
                    "state": "running",
                    "channel": channel,
                    "dry_run": dry_run,
                    "error": None,
                    "owner": this_owner(),
                    **report.counts(),
                },
            )
        window_start = max(now - self.window, since) if since else now - self.window
        failure: str | None = None
        try:
            channels = [channel] if channel else sorted(LOGS)
            for name in channels:
                self._channel(report, name, now, window_start, dry_run, progress)
            # Products with one-time reports and no logs to look stale messages up in.
            for name in sorted(set(REPORTS) - set(LOGS)):
                if channel in (None, name) and not dry_run:
                    self._pull(report, name, REPORTS[name], {}, {"limit": str(BATCH)})
            if not dry_run:
                report.closed = self._close_window(now)
                if self.inbound_backstop:
                    for name, source in sorted(INBOUND.items()):
                        if channel in (None, name):
                            self._pull(report, name, source, {}, {"limit": str(BATCH)})
        except Exception as exc:  # the run is recorded as failed; what was stored stays
            failure = f"{type(exc).__name__}: {exc}"
            log.exception("reconciliation failed", run=report.id)
        finished = self.clock()
        state = "failed" if failure else "done"
        with write_transaction(self.engine) as conn:
            update_run(
                conn,
                report.id,
                {
                    "finished_at": finished,
                    "state": state,
                    "error": failure or "; ".join(report.error_text)[:4000] or None,
                    **report.counts(),
                },
            )
        log.info("reconcile", run=report.id, state=state, **report.counts())
        metrics.reconciled(state, report.recovered, report.closed)
        return report

    def _channel(
        self,
        report: RunReport,
        channel: str,
        now: datetime,
        window_start: datetime,
        dry_run: bool,
        progress: Callable[[str], None],
    ) -> None:
        delay = self.delays.get(channel, timedelta(minutes=15))
        with self.engine.connect() as conn:
            found_stale = stale_messages(conn, channel, now - delay, window_start, 100_000)
        stale = [message_id for message_id, _ in found_stale]
        report.checked += len(stale)
        logs = LOGS.get(channel)
        if logs is None:
            return
        batches = self._batches(channel, found_stale)
        if dry_run:
            report.calls.append(
                f"would read {logs.target} {len(batches)} times for "
                f"{len(stale)} stale {channel} messages"
            )
            report.still_missing += len(stale)
            return
        done = 0
        for values, query, size in batches:
            self._pull(report, channel, logs, values, query)
            done += size
            progress(_bar(channel, done, len(stale)))
        # Discovery: a sweep of the window finds what the service never heard of.
        known: set[str] = set()

        def remember_known(ids: list[str]) -> None:
            with self.engine.connect() as conn:
                known.update(known_among(conn, channel, ids))

        found = self._pull(
            report,
            channel,
            logs,
            {"limit": BATCH},
            {"sentSince": window_start.isoformat(), "limit": str(BATCH)},
            before_processing=remember_known,
        )
        report.discovered += len(set(found) - known)
        reports = REPORTS.get(channel)
        if reports is not None:
            self._pull(report, channel, reports, {"limit": BATCH}, {"limit": str(BATCH)})
        with self.engine.connect() as conn:
            final = final_among(conn, channel, stale)
        report.recovered += len(final)
        report.still_missing += len(stale) - len(final)

    @staticmethod
    def _batches(
        channel: str, stale: list[tuple[str, str | None]]
    ) -> list[tuple[dict[str, Any], dict[str, str], int]]:
        """(template values, query, messages covered) for each logs call: by message id, up to
        1,000 a call; for logs that take one id a call (email's), by bulk id where there is one."""
        out: list[tuple[dict[str, Any], dict[str, str], int]] = []
        if channel in ONE_ID_LOGS:
            by_bulk: dict[str, int] = {}
            singles: list[str] = []
            for message_id, bulk_id in stale:
                if bulk_id:
                    by_bulk[bulk_id] = by_bulk.get(bulk_id, 0) + 1
                else:
                    singles.append(message_id)
            out += [({"bulk_id": b, "limit": BATCH}, {"bulkId": b}, n) for b, n in by_bulk.items()]
            out += [({"message_id": m}, {"messageId": m}, 1) for m in singles]
            return out
        ids = [message_id for message_id, _ in stale]
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            out.append(({"message_ids": chunk}, {"messageId": ",".join(chunk)}, len(chunk)))
        return out

    def _close_window(self, now: datetime) -> int:
        """Past the window no report can come: say so, once, and stop waiting."""
        closed = 0
        while True:
            with write_transaction(self.engine) as conn:
                rows = expired_messages(conn, now - self.window, 500)
                if not rows:
                    return closed
                synthetic = [
                    ParsedEvent(
                        kind=Kind.UNKNOWN,
                        channel=r.channel,
                        discriminator="window-closed",
                        message_id=r.message_id,
                        direction=Direction.OUTBOUND,
                        sub_type="REPORT_WINDOW_CLOSED",
                        occurred_at=now,
                        status=Status(
                            None, None, None, "REPORT_WINDOW_CLOSED", "report window closed"
                        ),
                        note="report window closed",
                    )
                    for r in rows
                ]
                raw = _Synthetic(id="reconcile", source="reconcile", received_at=now)
                insert_events_ignoring_duplicates(
                    conn,
                    [event_row(e, raw, 0) for e in synthetic],
                )
                close_messages(conn, [r.id for r in rows], now)
                closed += len(rows)

    # ---- leadership and the loop --------------------------------------------------------------

    @contextmanager
    def _leader(self) -> Iterator[bool]:
        """True while this reconciler may run: a PostgreSQL advisory lock across workers, the
        reconciler's own lock on SQLite (one process)."""
        if self.engine.dialect.name != "postgresql":
            held = self._local_lock.acquire(blocking=False)
            try:
                yield held
            finally:
                if held:
                    self._local_lock.release()
            return
        with self.engine.connect() as conn:
            held = try_leader_lock(conn, LEADER_LOCK_KEY)
            conn.commit()
            try:
                yield held
            finally:
                if held:
                    release_leader_lock(conn, LEADER_LOCK_KEY)
                    conn.commit()

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                self.run()
            except Exception:
                log.exception("reconciliation could not run")
            self._stop.wait(self.interval_seconds)

    def runs(self, limit: int = 20) -> list[StoredRun]:
        with self.engine.connect() as conn:
            return list_runs(conn, limit)


@dataclass(frozen=True)
class _Synthetic:
    """Stands for the raw row of events the reconciler makes itself (window closing)."""

    id: str
    source: str
    received_at: datetime


def _bar(channel: str, done: int, total: int, width: int = 30) -> str:
    """A text progress bar for the CLI: "sms [#########.....] 6000/10000 looked up"."""
    filled = width * done // total if total else width
    return f"{channel:<6} [{'#' * filled}{'.' * (width - filled)}] {done}/{total} looked up"
