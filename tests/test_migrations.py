"""`alembic upgrade head` works from nothing and gives exactly the models, on both databases."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from storage.db import current_revision, head_revision, make_engine, upgrade
from storage.models import metadata
from tests.conftest import PG_ADMIN_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    request.getfixturevalue("pg_database")  # skips or fails as configured when unreachable
    name = f"infobip_events_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_head_from_empty_gives_exactly_the_models(empty_db: str) -> None:
    upgrade(empty_db)
    engine = make_engine(empty_db)
    try:
        assert current_revision(engine) == head_revision(empty_db)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
        assert diff == [], f"models and migrations differ: {diff}"
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(empty_db: str) -> None:
    upgrade(empty_db)
    upgrade(empty_db)
    engine = make_engine(empty_db)
    try:
        assert current_revision(engine) == head_revision(empty_db)
    finally:
        engine.dispose()


def test_migration_0007_rekeys_stored_contacts_and_merges_writings(empty_db: str) -> None:
    """Contacts stored as digits become E.164 keys; two rows of one number merge, and the
    merged row stays opted out when either was (when in doubt, nobody is messaged)."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    upgrade(empty_db, "0006")
    engine = make_engine(empty_db)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO opt_outs (channel, contact, opted_out, updated_at) VALUES "
                    "('sms', '41791000011', false, :now), ('sms', '0041791000011', true, :now), "
                    "('email', 'John@Example.com', true, :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO opt_out_audit (channel, contact, action, source, at) VALUES "
                    "('sms', '0041791000011', 'opt_out', 'api', :now)"
                ),
                {"now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO masking_sessions (id, party_a, party_b, masking_number, "
                    "expires_at, created_at) VALUES ('s1', '41793026727', '41793026999', "
                    "'41793026731', :now, :now)"
                ),
                {"now": now},
            )
        upgrade(empty_db)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT channel, contact, opted_out FROM opt_outs ORDER BY channel")
            ).all()
            audit = conn.execute(text("SELECT contact FROM opt_out_audit")).scalars().all()
            parties = conn.execute(
                text("SELECT party_a, party_b, masking_number FROM masking_sessions")
            ).one()
        assert [(c, k, bool(o)) for c, k, o in rows] == [
            ("email", "john@example.com", True),
            ("sms", "+41791000011", True),
        ]
        assert audit == ["+41791000011"]
        assert tuple(parties) == ("+41793026727", "+41793026999", "+41793026731")
    finally:
        engine.dispose()
