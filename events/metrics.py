"""Prometheus metrics: every family the service exports, declared here once, and the one-line
calls that record them from the pipeline (ingest, processor, rules, opt-outs, dispatcher,
Membrane transports, reconciler, database errors).

Two kinds of figures:

- What happened (counters, histograms) is counted in the process where it happens. Under
  `serve` the receiver and the workers are separate processes, so prometheus_client's
  multiprocess mode is used there: the supervisor gives every child a fresh
  PROMETHEUS_MULTIPROC_DIR, each process writes its values to files of its own in it, and the
  receiver's `GET /metrics` sums them all. prometheus_client picks its value store (memory or
  those files) once, when it is first imported, from that environment variable; that is why the
  metric objects are the library's own kind, built once per process (on first use, not at
  import: in multiprocess mode building one opens a file), not objects of Services.
- What is (the raw inbox backlog and the age of its oldest pending row, the outbox by state,
  the last reconciliation's misses) is read from the database when /metrics is scraped: exact
  in every deployment, whichever process answers, and never summed twice.

Rows processed and events stored are counted after their commit. Rule decisions and opt-outs
are counted as they are written, in the processor's transaction (the one-line call sits where
they are written): a batch whose commit fails and is retried row by row may count them twice,
which takes a database failure.

Labels are bounded: channels from the registry, codes the receiver answers, event kinds,
catalogue actions, failure classes (events/retry.py), rule names (bounded by the rules file),
outcomes and states. Anything else is reported as "other"; a message id or a number never
becomes a label.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from events.channels.registry import CHANNEL_PATHS, SPECS
from events.retry import CallError, Failure, classify
from storage.models import ACTION_STATES
from storage.queries import metrics as metrics_q

if TYPE_CHECKING:
    from sqlalchemy.engine import ExceptionContext

log = structlog.get_logger("events.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
OTHER = "other"
CHANNELS = frozenset(CHANNEL_PATHS) | frozenset(SPECS)
# The answers the receiver gives (events/ingest.py); anything else would be a bug, not a label.
CODES = frozenset({200, 401, 404, 405, 413, 503})
# Acks take a millisecond or two on SQLite and a few on PostgreSQL; Infobip gives up after
# seconds, so the buckets reach 10 s.
ACK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# A Membrane call is a process start (CLI) or an HTTP round trip to Infobip through Membrane.
CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
OPT_SOURCES = frozenset({"infobip", "inbound", "api", "cli", "rule", "reconcile"})
DB_ERROR_KINDS = {
    "OperationalError": "operational",
    "IntegrityError": "integrity",
    "ProgrammingError": "programming",
    "DataError": "data",
    "InterfaceError": "interface",
    "InternalError": "internal",
    "NotSupportedError": "not_supported",
}

P = ParamSpec("P")
R = TypeVar("R")


def bounded(value: str | None, allowed: Collection[str]) -> str:
    """The value as a label when it is one of the allowed, else "other"."""
    return value if value is not None and value in allowed else OTHER


class Families:
    """The metric objects of this process (see the module's docstring for why one set)."""

    def __init__(self) -> None:
        self.multiprocess = MULTIPROC_ENV in os.environ
        if self.multiprocess:
            # The library asks os.getpid() at every increment, to notice a fork; here that is a
            # system call, and the ack path makes three increments. The pid is kept instead,
            # and renewed in a forked child (prometheus_client's own hook for this).
            values.ValueClass = values.MultiProcessValue(process_identifier=_pid)  # type: ignore[no-untyped-call]
        # The *_created samples exist in one process only: without them the text is the same
        # whether one process or several answer.
        disable_created_metrics()  # type: ignore[no-untyped-call]
        # In multiprocess mode the values live in files and are read back by
        # MultiProcessCollector; registering the objects as well would report them twice.
        self.registry = CollectorRegistry(auto_describe=True)
        self._declare_receiver_and_processor()
        self._declare_dispatch_and_reconcile()
        self._declare_people_and_database()

    def _counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        reg = None if self.multiprocess else self.registry
        return Counter(f"infobip_events_{name}", doc, labels, registry=reg)

    def _histogram(self, name: str, doc: str, labels: Sequence[str], buckets: Any) -> Histogram:
        reg = None if self.multiprocess else self.registry
        return Histogram(f"infobip_events_{name}", doc, labels, registry=reg, buckets=buckets)

    def _declare_receiver_and_processor(self) -> None:
        self.webhooks = self._counter(
            "webhooks_received", "Webhooks answered, by channel and HTTP code", ["channel", "code"]
        )
        self.ack = self._histogram(
            "webhook_ack_duration_seconds",
            "From the request to its 200 (the raw row committed), by channel",
            ["channel"],
            ACK_BUCKETS,
        )
        self.raw = self._counter(
            "raw_webhooks_processed",
            "Raw webhooks the processor finished, by channel and outcome "
            "(processed, failed, ignored)",
            ["channel", "outcome"],
        )
        self.results = self._counter(
            "events_stored",
            "New (not redelivered) events stored, by channel and kind",
            ["channel", "kind"],
        )

    def _declare_dispatch_and_reconcile(self) -> None:
        self.attempts = self._counter(
            "dispatch_attempts", "Outbox actions run by the dispatcher, by action", ["action"]
        )
        self.outcomes = self._counter(
            "dispatch_outcomes",
            "Outbox actions' states after a run (done, pending for a retry, failed, dead, "
            "unknown_outcome), by action",
            ["action", "outcome"],
        )
        self.failures = self._counter(
            "dispatch_failures",
            "Failed action runs by action and failure class (retryable, permanent, "
            "unknown_outcome)",
            ["action", "failure"],
        )
        self.membrane = self._histogram(
            "membrane_call_duration_seconds",
            "Membrane calls by call (run_action, request, list_actions, list_connections) and "
            "outcome (ok or the failure class)",
            ["call", "outcome"],
            CALL_BUCKETS,
        )
        self.reconcile_runs = self._counter(
            "reconcile_runs", "Reconciliation runs by state (done, failed)", ["state"]
        )
        self.recovered = self._counter("reconcile_recovered", "Reports recovered by reconciliation")
        self.closed = self._counter(
            "reconcile_windows_closed", "Messages whose report window closed without a report"
        )

    def _declare_people_and_database(self) -> None:
        self.opt_outs = self._counter(
            "opt_outs", "Opt-outs recorded, by channel and source", ["channel", "source"]
        )
        self.opt_ins = self._counter(
            "opt_ins", "Opt-ins recorded, by channel and source", ["channel", "source"]
        )
        self.decisions = self._counter(
            "rule_decisions", "New rule decisions by rule and outcome", ["rule", "outcome"]
        )
        self.db_errors = self._counter(
            "database_errors", "Errors the database driver raised, by kind", ["kind"]
        )


_own_pid = os.getpid()


def _pid() -> int:
    return _own_pid


def _forked() -> None:
    global _own_pid
    _own_pid = os.getpid()


os.register_at_fork(after_in_child=_forked)

_enabled = True
_families: Families | None = None
# The ack path's label children, looked up once per (channel, code): .labels() costs more
# than the increment.
_webhook_children: dict[tuple[str, int], tuple[Any, Any]] = {}


def configure(enabled: bool) -> None:
    """INFOBIP_EVENTS_METRICS: off, every call here does nothing."""
    global _enabled
    _enabled = enabled


def enabled() -> bool:
    return _enabled


def families() -> Families:
    global _families
    if _families is None:
        path = os.environ.get(MULTIPROC_ENV)
        if path:
            # serve's supervisor makes a fresh one; a deployment that sets it for separate
            # processes on one host shares one, emptied when they all restart.
            os.makedirs(path, exist_ok=True)
        _families = Families()
    return _families


# ---- the receiver (the ack path: a dict look-up, an increment and an observation) -----------


def webhook(channel: str, code: int, seconds: float) -> None:
    """One webhook answered; its ack latency when it was acknowledged (200)."""
    if not _enabled:
        return
    children = _webhook_children.get((channel, code))
    if children is None:
        children = _webhook_labels(channel, code)
    children[0].inc()
    if code == 200:
        children[1].observe(seconds)


def _webhook_labels(channel: str, code: int) -> tuple[Any, Any]:
    label = bounded(channel, CHANNELS)
    f = families()
    children = (
        f.webhooks.labels(label, str(code) if code in CODES else OTHER),
        f.ack.labels(label),
    )
    if label != OTHER and code in CODES:  # any path can be posted to: only known keys stay
        _webhook_children[(channel, code)] = children
    return children


class TimedWebhooks:
    """The webhook receiver with its answers counted and its acks timed (installed by
    create_app when metrics are on, so that with them off the ack path is untouched)."""

    def __init__(self, receiver: Any) -> None:
        self.receiver: ASGIApp = receiver
        self.prefix: str = receiver.prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 0

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.receiver(scope, receive, watched)
        if status:  # 0: the client left before its body was read; nothing was answered
            webhook(scope["path"][len(self.prefix) :], status, time.perf_counter() - started)


# ---- the processor, the rules and opt-outs ---------------------------------------------------


def processed(outcomes: Iterable[Any]) -> None:
    """Raw rows finished (after their commit) and the new events they gave, by kind."""
    if not _enabled:
        return
    f = families()
    for o in outcomes:
        channel = bounded(o.channel, CHANNELS)
        f.raw.labels(channel, bounded(o.state, ("processed", "failed", "ignored"))).inc()
        for event_channel, kind in o.kinds:
            f.results.labels(bounded(event_channel, CHANNELS), kind).inc()


def decided(rows: Iterable[Any], new: Collection[tuple[int, str]]) -> None:
    """Rule decisions written for the first time (a replay decides nothing twice)."""
    if not _enabled:
        return
    f = families()
    for row in rows:
        if (row["event_id"], row["rule"]) in new:
            f.decisions.labels(row["rule"], row["outcome"]).inc()


def opted(channel: str, opted_out: bool, source: str) -> None:
    """An opt-out or an opt-in recorded; sources such as "rule:NAME" count as "rule"."""
    if not _enabled:
        return
    f = families()
    family = f.opt_outs if opted_out else f.opt_ins
    family.labels(bounded(channel, CHANNELS), bounded(source.split(":")[0], OPT_SOURCES)).inc()


# ---- the dispatcher and Membrane ------------------------------------------------------------


def dispatched(action: str, catalogue: Collection[str], state: str) -> None:
    """One run of an outbox action: its attempt and the state it left the action in."""
    if not _enabled:
        return
    f = families()
    label = bounded(action, catalogue)
    f.attempts.labels(label).inc()
    f.outcomes.labels(label, bounded(state, ACTION_STATES)).inc()


def dispatch_failed(action: str, failure: Failure) -> None:
    """A run that failed, by its failure class (the action is one of the catalogue's)."""
    if _enabled:
        families().failures.labels(action, failure.value).inc()


def membrane_call(call: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a Membrane transport's method: each call timed, by outcome (ok, or the failure
    class of its error as a call that sends nothing: the dispatcher knows more)."""

    def decorate(method: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(method)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            if not _enabled:
                return method(*args, **kwargs)
            started = time.perf_counter()
            outcome = "ok"
            try:
                return method(*args, **kwargs)
            except CallError as exc:
                outcome = classify(exc, sends=False).value
                raise
            except Exception:
                outcome = "error"
                raise
            finally:
                seconds = time.perf_counter() - started
                families().membrane.labels(call, outcome).observe(seconds)

        return timed

    return decorate


# ---- the reconciler and the database ----------------------------------------------------------


def reconciled(state: str, recovered: int, closed: int) -> None:
    if not _enabled:
        return
    f = families()
    f.reconcile_runs.labels(bounded(state, ("done", "failed"))).inc()
    f.recovered.inc(recovered)
    f.closed.inc(closed)


def watch_engine(engine: Engine) -> None:
    """Count the errors the database driver raises through this engine (once per engine)."""
    if not event.contains(engine, "handle_error", _database_error):
        event.listen(engine, "handle_error", _database_error)


def _database_error(context: ExceptionContext) -> None:
    if not _enabled:
        return
    conn = context.connection
    if conn is not None and conn.get_execution_options().get("sqlite_nowait"):
        return  # a write that chose not to wait for the lock (storage.db.write_transaction)
    if context.is_disconnect:
        kind = "disconnect"
    else:
        kind = DB_ERROR_KINDS.get(type(context.sqlalchemy_exception).__name__, OTHER)
    families().db_errors.labels(kind).inc()


# ---- the exposition -------------------------------------------------------------------------


class DatabaseState(Collector):
    """What is, read from the database at each scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        try:
            with self.engine.connect() as conn:
                state = metrics_q.state(conn)
        except Exception as exc:  # counted by the engine's handler; the counters still answer
            log.warning("metrics: cannot read the database", error=str(exc).splitlines()[0])
            return
        now = datetime.now(UTC)
        yield _gauge("raw_inbox_pending", "Raw webhooks waiting for the processor", state.pending)
        age = (now - state.oldest_pending).total_seconds() if state.oldest_pending else 0.0
        yield _gauge(
            "raw_inbox_oldest_pending_age_seconds",
            "Age of the oldest raw webhook waiting for the processor (0: none waits)",
            max(0.0, age),
        )
        depth = GaugeMetricFamily(
            "infobip_events_outbox_actions",
            "Outbox actions by state (done ones are history and not counted)",
            labels=["state"],
        )
        for name in ACTION_STATES:
            if name != "done":
                depth.add_metric([name], state.outbox.get(name, 0))
        yield depth
        yield _gauge(
            "reconcile_last_run_still_missing",
            "Messages the last finished (not dry) reconciliation could not find a report for",
            state.last_still_missing,
        )
        finished = state.last_run_finished.timestamp() if state.last_run_finished else 0.0
        yield _gauge(
            "reconcile_last_run_timestamp_seconds",
            "When the last finished (not dry) reconciliation ended, Unix time (0: never)",
            finished,
        )
        if state.balance is not None:
            balance = GaugeMetricFamily(
                "infobip_events_account_balance",
                "The Infobip account's balance at its last read, in its currency",
                labels=["currency"],
            )
            balance.add_metric([state.balance[1]], state.balance[0])
            yield balance


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"infobip_events_{name}", doc, value=value)


def exposition(engine: Engine) -> bytes:
    """The text of GET /metrics: this process's counters (every process's, in multiprocess
    mode) and the database's state."""
    f = families()
    registry = CollectorRegistry()
    if f.multiprocess:
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Own(f.registry))
    registry.register(DatabaseState(engine))
    return generate_latest(registry)


class _Own(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        return iter(self.registry.collect())
