"""How the schema is made ready when a command starts: PostgreSQL migrations under an advisory
lock (two at once both succeed, the schema is migrated once), MIGRATE_ON_START, and a SQLite
directory this process cannot write, refused in one line."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from events.cli.context import CommandError, ensure_schema
from events.config import Settings
from storage.db import current_revision, head_revision, make_engine, upgrade
from tests.conftest import PG_ADMIN_URL


@pytest.fixture
def empty_pg(pg_database: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (pg_database skips or fails as configured)."""
    name = f"infobip_events_start_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _versions(url: str) -> list[str]:
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as conn:
        return [row[0] for row in conn.execute("SELECT version_num FROM alembic_version")]


def test_two_concurrent_postgresql_upgrades_both_succeed_and_migrate_once(empty_pg: str) -> None:
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def migrate() -> None:
        start.wait()
        try:
            upgrade(empty_pg)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=migrate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert _versions(empty_pg) == [head_revision(empty_pg)]


def _settings(url: str, **kw: object) -> Settings:
    return Settings(database_url=url, _env_file=None, **kw)  # type: ignore[call-arg]


def test_postgresql_at_an_old_schema_is_refused_saying_what_to_run(empty_pg: str) -> None:
    with pytest.raises(CommandError) as caught:
        ensure_schema(_settings(empty_pg))
    assert caught.value.code == 1
    assert "infobip-events db upgrade" in str(caught.value)
    assert "INFOBIP_EVENTS_MIGRATE_ON_START=true" in str(caught.value)


def test_migrate_on_start_brings_postgresql_to_head(empty_pg: str) -> None:
    ensure_schema(_settings(empty_pg, migrate_on_start=True))
    ensure_schema(_settings(empty_pg, migrate_on_start=True))  # at head: nothing to do
    engine = make_engine(empty_pg)
    try:
        assert current_revision(engine) == head_revision(empty_pg)
    finally:
        engine.dispose()
    ensure_schema(_settings(empty_pg))  # and the plain check now passes


def test_migrate_on_start_against_an_unreachable_postgresql_says_so_in_one_line() -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"
    with pytest.raises(CommandError) as caught:
        ensure_schema(_settings(url, migrate_on_start=True, db_connect_timeout_seconds=1))
    assert caught.value.code == 1
    assert str(caught.value).startswith("cannot reach the database")
    assert "\n" not in str(caught.value)


def _as_other_user(function: object, *args: object) -> tuple[int, str]:
    """Run function(*args) in a forked child as uid 65534 (root, as in CI, may write
    anywhere); return (the CommandError's code or 0, its message)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns to pytest
        code, message = 0, ""
        try:
            os.setgid(65534)
            os.setuid(65534)
            function(*args)  # type: ignore[operator]
        except CommandError as exc:
            code, message = exc.code, str(exc)
        except BaseException as exc:
            code, message = 99, f"{type(exc).__name__}: {exc}"
        finally:
            os.write(write, f"{code}\n{message}".encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        out = pipe.read()
    os.waitpid(pid, 0)
    code, _, message = out.partition("\n")
    return int(code), message


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A directory any user can reach (pytest's own tmp_path is private to its user)."""
    path = Path(tempfile.mkdtemp(prefix="infobip-events-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _unwritable_dir(base: Path) -> Path:
    directory = base / "data"
    directory.mkdir()
    directory.chmod(0o555)  # as a root-owned bind mount looks to the container's user
    return directory


def _check(function: object, *args: object) -> tuple[int, str]:
    if os.getuid() == 0:
        return _as_other_user(function, *args)
    try:
        function(*args)  # type: ignore[operator]
    except CommandError as exc:
        return exc.code, str(exc)
    return 0, ""


def test_an_unwritable_sqlite_directory_stops_the_start_in_one_line(open_tmp: Path) -> None:
    directory = _unwritable_dir(open_tmp)
    settings = _settings(f"sqlite:///{directory / 'infobip-events.db'}")
    code, message = _check(ensure_schema, settings)
    assert code == 1
    assert "\n" not in message
    assert f"cannot write the SQLite database directory {directory}" in message
    assert "chown -R" in message and "--user" in message
    assert not (directory / "infobip-events.db").exists()


def test_an_sqlite_directory_that_cannot_be_created_stops_the_start_in_one_line(
    open_tmp: Path,
) -> None:
    directory = _unwritable_dir(open_tmp)
    settings = _settings(f"sqlite:///{directory / 'sub' / 'infobip-events.db'}")
    code, message = _check(ensure_schema, settings)
    assert code == 1
    assert f"directory {directory}, where {directory / 'sub'} would be created," in message
    assert not (directory / "sub").exists()


def test_a_writable_sqlite_directory_is_created_and_migrated(tmp_path: Path) -> None:
    path = tmp_path / "new" / "infobip-events.db"
    ensure_schema(_settings(f"sqlite:///{path}"))
    engine = make_engine(f"sqlite:///{path}")
    try:
        assert current_revision(engine) == head_revision(f"sqlite:///{path}")
    finally:
        engine.dispose()


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's read-only /sys")
def test_a_read_only_filesystem_stops_the_start_in_one_line_even_for_root() -> None:
    # Root passes every permission check; /sys refuses the write all the same.
    settings = _settings("sqlite:////sys/infobip-events.db")
    with pytest.raises(CommandError) as caught:
        ensure_schema(settings)
    message = str(caught.value)
    assert caught.value.code == 1 and "\n" not in message
    assert "cannot write the SQLite database /sys/infobip-events.db" in message
    assert "INFOBIP_EVENTS_DATABASE_URL" in message


def test_an_sqlite_path_that_is_a_directory_stops_the_start_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(CommandError) as caught:
        ensure_schema(_settings(f"sqlite:///{tmp_path}"))
    message = str(caught.value)
    assert caught.value.code == 1 and "\n" not in message
    assert f"the SQLite database {tmp_path} is a directory" in message
    assert f"sqlite:///{tmp_path / 'infobip-events.db'}" in message


def test_a_file_that_is_not_sqlite_stops_the_start_and_db_upgrade_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from events.cli.main import main

    path = tmp_path / "notes.txt"
    path.write_text("not a database, but a file someone pointed the URL at\n" * 100)
    with pytest.raises(CommandError) as caught:
        ensure_schema(_settings(f"sqlite:///{path}"))
    message = str(caught.value)
    assert caught.value.code == 1 and "\n" not in message
    assert f"cannot use the SQLite database {path}: file is not a database" in message
    monkeypatch.setenv("INFOBIP_EVENTS_DATABASE_URL", f"sqlite:///{path}")
    assert main(["db", "upgrade"]) == 1
    assert "file is not a database" in capsys.readouterr().err
    assert path.read_text().startswith("not a database")  # left as it was
