"""Retention: how long what Infobip sent is kept, and the pruning that enforces it.

Two windows, from the settings (0 keeps forever):

- **RETENTION_RAW_DAYS** (30): raw webhooks that were processed (or ignored: a body with no
  items) and were received longer ago are deleted, row and body. Their events, messages and
  the rest stay; `GET /v1/webhooks/{id}` then answers 404 and `replay` cannot find them.
  Pending and failed rows are never pruned: they have not become events yet.
- **RETENTION_EVENTS_DAYS** (400): events, messages (by their last change), their tags, calls,
  lookups, rule decisions, settled outbox actions (done, failed, dead), masking sessions that
  expired and reconciliation runs. The suppression list, its audit trail, the reviews of
  uncertain opt-outs and the erasure records are kept: they are the proof of consent.

Pruning deletes at most `batch` rows per transaction (1,000), pausing between transactions,
so that neither SQLite nor PostgreSQL holds a lock long enough to delay an acknowledgement.
The workers prune once an hour (on PostgreSQL one worker at a time, under an advisory lock);
`infobip-events db prune` does the same at once, `--dry-run` counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy import Engine

from events.background import BackgroundLoop
from storage.db import write_transaction
from storage.queries.retention import EVENTS, RAW, Target, count_older, delete_older, prune_lock

log = structlog.get_logger("events.retention")

BATCH = 1000
# Between two transactions: the receiver's group commit (SQLite's one writer) gets in.
PAUSE_SECONDS = 0.05
EVERY_SECONDS = 3600.0
# A worker that just started has a backlog to process first.
FIRST_AFTER_SECONDS = 60.0

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class Retention:
    raw_days: int = 30
    events_days: int = 400

    def plan(self, now: datetime) -> list[tuple[Target, datetime]]:
        """What to prune and from which moment back; a window of 0 keeps its tables forever."""
        out: list[tuple[Target, datetime]] = []
        if self.raw_days > 0:
            out.append((RAW, now - timedelta(days=self.raw_days)))
        if self.events_days > 0:
            cutoff = now - timedelta(days=self.events_days)
            out += [(target, cutoff) for target in EVENTS]
        return out

    @property
    def keeps_everything(self) -> bool:
        return self.raw_days == 0 and self.events_days == 0


def count(engine: Engine, retention: Retention, now: datetime | None = None) -> dict[str, int]:
    """What a prune would delete now, per table."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        return {t.name: count_older(conn, t, cutoff) for t, cutoff in retention.plan(now)}


def prune(
    engine: Engine,
    retention: Retention,
    *,
    now: datetime | None = None,
    batch: int = BATCH,
    pause: float = PAUSE_SECONDS,
    progress: Progress | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> dict[str, int]:
    """Delete what is past its window, `batch` rows per transaction; returns rows per table.
    `progress(table, deleted so far)` is called after each transaction."""
    now = now or datetime.now(UTC)
    done: dict[str, int] = {}
    for target, cutoff in retention.plan(now):
        done[target.name] = 0
        after = None
        while not stopping():
            with write_transaction(engine) as conn:
                deleted, after = delete_older(conn, target, cutoff, after, batch)
            done[target.name] += deleted
            if deleted and progress is not None:
                progress(target.name, done[target.name])
            if after is None or deleted < batch:
                break
            time.sleep(pause)
    return done


class Pruner(BackgroundLoop):
    """The workers' pruning: once an hour, a while after the start."""

    thread_name = "prune"

    def __init__(
        self, engine: Engine, retention: Retention, every_seconds: float = EVERY_SECONDS
    ) -> None:
        super().__init__()
        self.engine = engine
        self.retention = retention
        self.every_seconds = every_seconds

    def start(self) -> None:
        if not self.retention.keeps_everything:
            super().start()

    def run_forever(self) -> None:
        wait = min(FIRST_AFTER_SECONDS, self.every_seconds)
        while not self._stop.wait(wait):
            wait = self.every_seconds
            try:
                self.run_once()
            except Exception as exc:  # the next round will do; nothing is lost by waiting
                log.warning("prune failed", error=str(exc).splitlines()[0])

    def run_once(self) -> dict[str, int]:
        with prune_lock(self.engine) as mine:
            if not mine:
                return {}
            started = time.monotonic()
            done = prune(self.engine, self.retention, stopping=self._stop.is_set)
        if any(done.values()):
            log.info(
                "pruned",
                seconds=round(time.monotonic() - started, 2),
                **{k: v for k, v in done.items() if v},
            )
        return done
