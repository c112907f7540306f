"""Run records left `running` by a crash: found at the next start and marked `interrupted`.

A reconcile run is written `running` when it starts and `done` or `failed` when it ends; a
process killed in between (OOM, SIGKILL, power) never writes the end. Each run records its
owner, ``host:pid:start``, where start is the process's start time in clock ticks (Linux
/proc/<pid>/stat), so that a pid reused by another process does not pass for the owner.

Who may declare a run interrupted:

- On PostgreSQL a run is written only under the reconciler's leader lock (an advisory lock
  held for the whole run, events/reconcile.py); the lock is released when its session ends, so
  a dead owner has let go of it. Whoever holds the lock therefore knows every other `running`
  run is an orphan, whatever host wrote it: no lease and no heartbeat to tune.
- On SQLite the leader lock is per process (several worker processes, or a `reconcile run`
  next to `serve`, may each run one), and every process is on this host: a run is an orphan
  when its owner's process is gone (or is this very process: it holds its own lock), or when
  it has no owner (written before migration 0012, so by a process since restarted).

Outbox actions have their own lease (`lease_until`, events/dispatch.py): a dispatcher that
dies leaves actions that the next one reclaims; they need nothing here.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import datetime
from functools import cache

import structlog
from sqlalchemy import Engine

from storage.db import write_transaction
from storage.queries.reconcile import interrupt_runs, running_runs

log = structlog.get_logger("events.runs")

INTERRUPTED = "interrupted"


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot ("" where /proc is not)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            text = stat.read()
    except OSError:
        return ""
    # The command name (field 2) is in parentheses and may hold spaces; starttime is field 22.
    fields = text.rpartition(")")[2].split()
    return fields[19] if len(fields) > 19 else ""


@cache
def this_owner() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{process_start(pid)}"[-128:]


def owner_is_gone(owner: str | None, *, me: str | None = None) -> bool:
    """Whether the process that wrote a run can no longer finish it (see the module doc)."""
    me = me or this_owner()
    if owner is None or owner == me:
        return True
    host, pid_text, start = _split(owner)
    if host != _split(me)[0] or not pid_text.isdigit():
        return False  # another host's process: nothing here can tell
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # alive, someone else's
    return bool(start) and process_start(pid) not in ("", start)


def _split(owner: str) -> tuple[str, str, str]:
    host, _, rest = owner.rpartition(":")  # host:pid:start -> ("host:pid", "", start)
    host, _, pid = host.rpartition(":")
    return host, pid, rest


def interrupt_orphans(
    engine: Engine,
    now: datetime,
    *,
    leader_held: bool,
    gone: Callable[[str | None], bool] = owner_is_gone,
) -> int:
    """Mark `interrupted` the runs left running by a process that is gone. With leader_held
    (PostgreSQL, the caller holds the reconciler's leader lock) every running run is one."""
    with write_transaction(engine) as conn:
        orphans = [run_id for run_id, owner in running_runs(conn) if leader_held or gone(owner)]
        count = interrupt_runs(
            conn,
            orphans,
            now,
            "interrupted: the process running it stopped before the run ended",
        )
    if count:
        log.warning("runs interrupted by a crash", runs=count, ids=orphans[:10])
    return count
