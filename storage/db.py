"""Engines and migrations. Built by factories, never at import time."""

from __future__ import annotations

import fcntl
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event

# Errors that mean "the database cannot take this now" (answer 503, retry later), as opposed
# to errors in the data itself. Classified here, once.
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import NullPool

from alembic import command

UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    DisconnectionError,
    PoolTimeoutError,
    ConnectionError,
    TimeoutError,
)


def is_unavailable(exc: BaseException) -> bool:
    """True when the database is down, locked or unreachable rather than the data being bad."""
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def make_engine(
    url: str,
    *,
    sqlite_synchronous: str = "FULL",
    pool_size: int = 10,
    connect_timeout: float = 3.0,
    busy_timeout_ms: int = 5000,
    wal_autocheckpoint: int = 1000,
) -> Engine:
    """An engine with the pragmas and pool this service relies on. A long-running process
    raises wal_autocheckpoint and calls checkpoint() from a thread of its own, so that no
    commit on the hot path pays for copying the WAL into the database file."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        memory = not path or path == ":memory:"
        # Keep connections: opening one runs the pragmas below, which is slower than a query.
        pool_args: dict[str, Any] = (
            {"poolclass": NullPool}
            if memory
            else {"pool_size": pool_size, "max_overflow": 2 * pool_size}
        )
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
            **pool_args,
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
            # isolation_level=None hands transaction control to SQLAlchemy's BEGIN below, so
            # that writers can BEGIN IMMEDIATE and never deadlock upgrading a read lock.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sqlite_synchronous}")
            cur.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers take the write lock up front (see write_transaction); readers start a
            # deferred transaction and never wait on a writer, thanks to WAL.
            if conn.get_execution_options().get("sqlite_immediate"):
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql("BEGIN")

        if not memory:
            _FILE_LOCKS[engine] = WriterFileLock(f"{path}-writer.lock", busy_timeout_ms / 1000)
        return engine

    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_timeout=connect_timeout,
        connect_args={"connect_timeout": max(1, int(connect_timeout))},
    )


# SQLite has one writer. Threads of one process that write through the same engine queue on
# this lock instead of on SQLite's busy handler, which polls with sleeps of up to 100 ms.
_WRITE_LOCKS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()
_FILE_LOCKS: WeakKeyDictionary[Engine, WriterFileLock] = WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


class WriterFileLock:
    """The same queue across processes (`serve`'s receiver and workers share one SQLite file):
    an flock on a file beside the database. SQLite's own busy handler sleeps 25 to 100 ms
    between tries once a wait has lasted a while, so an ack waiting behind a worker's batch
    could wait 100 ms more than the batch took; this lock is polled every few hundred
    microseconds instead, so a waiting writer starts as soon as the other one commits."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._fd: int | None = None

    def acquire(self, wait: bool) -> bool:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        pause = 0.0002
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if not wait:
                    return False
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"another process held the database's write lock for over {self.timeout:g}s"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.002)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)


def _write_lock(engine: Engine) -> threading.Lock | None:
    if engine.dialect.name != "sqlite":
        return None
    with _LOCKS_GUARD:
        lock = _WRITE_LOCKS.get(engine)
        if lock is None:
            lock = _WRITE_LOCKS[engine] = threading.Lock()
        return lock


class WriteBusy(Exception):
    """write_transaction(wait=False) could not start without waiting."""


@contextmanager
def write_transaction(engine: Engine, *, wait: bool = True) -> Iterator[Connection]:
    """A transaction that will write: on SQLite it holds the write lock from its first step.

    With wait=False (SQLite only) it raises WriteBusy instead of waiting for another writer,
    in this process or another: the caller can then wait somewhere it blocks nothing.
    """
    lock = _write_lock(engine)
    if lock is None:
        if not wait:
            raise WriteBusy("only SQLite writes without waiting")
        with engine.connect() as conn, conn.begin():
            yield conn
        return
    if not lock.acquire(blocking=wait):
        raise WriteBusy("another thread of this process is writing")
    file_lock = _FILE_LOCKS.get(engine)
    try:
        if file_lock is not None and not file_lock.acquire(wait):
            file_lock = None
            raise WriteBusy("another process is writing")
        with engine.connect() as conn:
            restore = None
            raw = conn.connection.dbapi_connection
            if not wait and raw is not None:
                # On the driver connection, outside any transaction SQLAlchemy would begin.
                restore = raw.execute("PRAGMA busy_timeout").fetchone()[0]
                raw.execute("PRAGMA busy_timeout=0")
            try:
                # sqlite_nowait: a "locked" error here is expected, not a database error.
                conn = conn.execution_options(sqlite_immediate=True, sqlite_nowait=not wait)
                with conn.begin():
                    yield conn
            except OperationalError as exc:
                if not wait and "locked" in str(exc):
                    raise WriteBusy("another process is writing") from exc
                raise
            finally:
                if restore is not None and raw is not None:
                    raw.execute(f"PRAGMA busy_timeout={int(restore)}")
    finally:
        if file_lock is not None:
            file_lock.release()
        lock.release()


@contextmanager
def read_only_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that cannot write, even by mistake (SQLite: query_only; PostgreSQL: READ
    ONLY), rolled back at the end."""
    with engine.connect() as conn:
        conn.begin()
        sqlite = conn.dialect.name == "sqlite"
        try:
            if sqlite:
                conn.exec_driver_sql("PRAGMA query_only = ON")
            else:
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            yield conn
        finally:
            conn.rollback()
            if sqlite:  # the pragma outlives the transaction: the pooled connection writes again
                conn.exec_driver_sql("PRAGMA query_only = OFF")
                conn.rollback()


def migrations_dir() -> Path:
    """The alembic folder: inside the wheel when installed, at the repo top when editable."""
    packaged = Path(__file__).parent / "_alembic"
    if (packaged / "env.py").exists():
        return packaged
    return Path(__file__).resolve().parent.parent / "alembic"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


# Held while PostgreSQL is migrated (any constant; the reconciler's leader lock is another).
MIGRATION_LOCK_KEY = 0x1B_E7_0D


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate to the revision. On PostgreSQL under a session advisory lock: replicas started
    together with MIGRATE_ON_START (or two `db upgrade`s) migrate one after the other, and the
    second finds the schema at the revision and does nothing."""
    if not url.startswith("postgresql"):
        command.upgrade(alembic_config(url), revision)
        return
    engine = make_engine(url, pool_size=1)
    try:
        # Autocommit: the lock's session must not sit idle in a transaction meanwhile.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
            try:
                command.upgrade(alembic_config(url), revision)
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
    finally:
        engine.dispose()


def sqlite_write_problem(path: Path) -> str | None:
    """Why this process could not write the SQLite database at path, or None; nothing is
    created. SQLite writes its -wal and -shm files beside the database, so the directory must
    be writable, not only the file; a directory that does not exist yet must be creatable."""
    directory = path.parent
    try:
        existing = directory
        while not existing.exists():
            existing = existing.parent
        if existing != directory:
            targets = [(existing, f"directory {existing}, where {directory} would be created,")]
        else:
            targets = [(directory, f"directory {directory}")]
            if path.exists():
                targets.append((path, f"file {path}"))
        for target, what in targets:
            if not os.access(target, os.W_OK | (os.X_OK if target.is_dir() else 0)):
                return (
                    f"cannot write the SQLite database {what} (owned by uid "
                    f"{target.stat().st_uid}; this process runs as uid {os.getuid()})"
                )
        # Permissions are not the whole story: root passes every access check, yet a read-only
        # filesystem (/sys, a read-only mount) refuses the write. An unnamed temporary file
        # in the directory tries it for real and leaves nothing behind.
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        return f"cannot write the SQLite database {path}: {exc.strerror}"
    return None


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def checkpoint(engine: Engine) -> None:
    """Copy what the SQLite WAL holds into the database file without blocking writers
    (PASSIVE); a no-op elsewhere."""
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")
