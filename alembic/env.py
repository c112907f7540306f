"""Alembic environment: works on SQLite (batch mode) and PostgreSQL.

The URL comes from the Config that storage.db builds, or, when alembic is run by hand from the
repository, from INFOBIP_EVENTS_DATABASE_URL through the service's own settings.
"""

from __future__ import annotations

from alembic import context
from storage.db import make_engine
from storage.models import metadata

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from events.config import load_settings  # only when run by hand: read the environment

    return load_settings().database_url


def run_migrations_offline() -> None:
    url = _url()
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
