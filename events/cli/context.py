"""One set-up path for every command: settings read once (a bad one stops with its name and
why), logging configured, the schema checked where the command needs it, and the long-lived
objects (events/services.py) built on first use."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from sqlalchemy.exc import DatabaseError, OperationalError

from events.config import Settings, load_settings
from events.erasure import key_problem
from events.logs import configure_logging
from events.services import Services, erasure_key
from storage.db import (
    current_revision,
    head_revision,
    make_engine,
    sqlite_write_problem,
    upgrade,
)


class CommandError(Exception):
    """A command that cannot go on; main() prints the message and exits with the code (2 for
    a wrong use of the command, 1 for a state of the world)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 2) -> NoReturn:
    raise CommandError(message, code)


def settings() -> Settings:
    """The settings, with logging configured from them (SettingsError stops the command)."""
    found = load_settings()
    configure_logging(found.log_level, found.log_format)
    return found


def setup(*, schema: bool = False, checkpoints: bool = False) -> Services:
    """The command's services; with schema, the database is checked (SQLite is migrated)."""
    found = settings()
    if schema:
        ensure_schema(found)
    return Services(found, background_checkpoints=checkpoints)


def ensure_schema(found: Settings) -> None:
    """The schema at head (below), then the erasure key checked against the erased contacts:
    under another key they could be messaged again (events/erasure.py)."""
    _ensure_head(found)
    engine = make_engine(found.database_url, connect_timeout=found.db_connect_timeout_seconds)
    try:
        with engine.connect() as conn:
            problem = key_problem(conn, erasure_key(found))
    finally:
        engine.dispose()
    if problem is not None:
        fail(problem, 1)


def _ensure_head(found: Settings) -> None:
    """SQLite, the embedded default, is migrated by itself (after checking that its directory
    can be written); PostgreSQL on purpose (db upgrade), or here with MIGRATE_ON_START, under
    an advisory lock. Any other PostgreSQL schema than head stops the command, saying what
    to run."""
    if found.is_sqlite:
        check_sqlite_writable(found)
        upgrade_sqlite(found)
        return
    if found.migrate_on_start:
        try:
            upgrade(found.database_url)
        except OperationalError as exc:
            fail(f"cannot reach the database: {str(exc).splitlines()[0]}", 1)
        return
    engine = make_engine(found.database_url, connect_timeout=found.db_connect_timeout_seconds)
    try:
        current = current_revision(engine)
    except Exception as exc:
        fail(f"cannot reach the database: {str(exc).splitlines()[0]}", 1)
    finally:
        engine.dispose()
    head = head_revision(found.database_url)
    if current != head:
        fail(
            f"the database schema is at {current or 'nothing'}, not {head}. "
            "Run: infobip-events db upgrade (or set INFOBIP_EVENTS_MIGRATE_ON_START=true)",
            1,
        )


def upgrade_sqlite(found: Settings, revision: str = "head") -> None:
    """Migrate SQLite; a file that is not SQLite's ("file is not a database"), or a damaged
    one, stops the command in one line instead of a traceback."""
    try:
        upgrade(found.database_url, revision)
    except DatabaseError as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0]
        fail(
            f"cannot use the SQLite database {found.sqlite_path}: {reason}. Point "
            "INFOBIP_EVENTS_DATABASE_URL at a new file or at this service's database",
            1,
        )


def check_sqlite_writable(found: Settings) -> None:
    """A directory this process cannot write (in a container: a bind mount owned by root)
    stops the start with one line saying what to do, not with SQLite's traceback."""
    path = found.sqlite_path
    if path is not None and path.is_dir():
        fail(
            f"the SQLite database {path} is a directory: name a file in it "
            f"(INFOBIP_EVENTS_DATABASE_URL=sqlite:///{path / 'infobip-events.db'})",
            1,
        )
    problem = sqlite_write_problem(path) if path is not None else None
    if problem is not None:
        uid = os.getuid()
        fail(
            f"{problem}. Point INFOBIP_EVENTS_DATABASE_URL at a writable directory, or give "
            f"this one to uid {uid} (on the host: chown -R {uid} DIR, for the directory "
            "mounted there), or run as its owner (docker run --user UID)",
            1,
        )


def err(line: str) -> None:
    """Progress and notes go to stderr; results to stdout."""
    print(line, file=sys.stderr)
