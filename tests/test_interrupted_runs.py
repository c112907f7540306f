"""Reconcile runs left `running` by a crash are marked `interrupted` at the next start
(events/runs.py), and a run whose owner still works is left alone where that can be told."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from events.config import Settings
from events.runs import interrupt_orphans, owner_is_gone, process_start, this_owner
from events.services import Services
from storage.db import write_transaction
from storage.models import reconcile_runs
from storage.queries.reconcile import insert_run

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def left_running(engine: Engine, run_id: str, owner: str | None) -> None:
    """A run as a process killed mid-run leaves it: started, never finished."""
    with write_transaction(engine) as conn:
        insert_run(
            conn,
            {
                "id": run_id,
                "started_at": T0,
                "finished_at": None,
                "state": "running",
                "channel": None,
                "dry_run": False,
                "error": None,
                "owner": owner,
                "checked": 3,
                "recovered": 1,
                "still_missing": 0,
                "discovered": 0,
                "closed": 0,
                "errors": 0,
            },
        )


def owner_of_a_dead_process() -> str:
    """The owner a process that has since exited wrote (same host)."""
    code = "from events.runs import this_owner; print(this_owner())"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def states(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(reconcile_runs.c.id, reconcile_runs.c.state))
        return {str(r[0]): str(r[1]) for r in rows}


def test_a_run_whose_process_died_is_interrupted_by_the_next_run_and_listed_so(
    engine: Engine, settings: Settings, client: TestClient
) -> None:
    left_running(engine, "run-crashed", owner_of_a_dead_process())
    left_running(engine, "run-before-0012", None)
    services = Services(settings, engine=engine)
    report = services.reconciler.run(dry_run=True)
    assert report is not None
    found = states(engine)
    assert found["run-crashed"] == "interrupted"
    assert found["run-before-0012"] == "interrupted"
    assert found[report.id] == "done"
    runs = {r["id"]: r for r in client.get("/v1/reconcile/runs").json()["items"]}
    assert runs["run-crashed"]["state"] == "interrupted"
    assert runs["run-crashed"]["finished_at"] is not None
    assert "stopped before the run ended" in runs["run-crashed"]["error"]
    assert runs["run-crashed"]["checked"] == 3  # what it counted before the crash stays


def test_a_run_of_a_live_process_stays_running_unless_the_leader_lock_proves_it_orphaned(
    engine: Engine,
) -> None:
    """On SQLite another live process may be mid-run (the leader lock is per process); on
    PostgreSQL runs are written only under the leader lock, so its holder knows better."""
    parent = os.getppid()
    live_owner = f"{this_owner().split(':')[0]}:{parent}:{process_start(parent)}"
    left_running(engine, "run-live", live_owner)
    postgres = engine.dialect.name == "postgresql"
    assert interrupt_orphans(engine, T0, leader_held=postgres) == (1 if postgres else 0)
    assert states(engine)["run-live"] == ("interrupted" if postgres else "running")


def test_finished_runs_are_never_touched(engine: Engine) -> None:
    left_running(engine, "run-old", None)
    with write_transaction(engine) as conn:
        conn.execute(
            reconcile_runs.update()
            .where(reconcile_runs.c.id == "run-old")
            .values(state="done", finished_at=T0)
        )
    assert interrupt_orphans(engine, T0, leader_held=True) == 0
    assert states(engine)["run-old"] == "done"


def test_owner_is_gone_tells_a_reused_pid_and_other_hosts_apart() -> None:
    me = this_owner()
    host, pid, start = me.rsplit(":", 2)
    assert not owner_is_gone(f"{host}:{os.getppid()}:{process_start(os.getppid())}", me=me)
    assert owner_is_gone(me, me=me)  # this process holds its own leader lock
    assert owner_is_gone(owner_of_a_dead_process(), me=me)
    # The parent's pid with another start time: the pid was reused, the owner is gone.
    assert owner_is_gone(f"{host}:{os.getppid()}:1", me=me)
    assert not owner_is_gone(f"another-host:{pid}:{start}", me=me)
    assert owner_is_gone(None, me=me)
