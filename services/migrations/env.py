"""Alembic environment: the database URL comes from our settings, never from alembic.ini."""

from alembic import context
from sqlalchemy import engine_from_config, pool

import services.models  # noqa: F401 - registers the tables on Base.metadata
from services.config import get_settings
from services.db import Base

config = context.config
url = config.attributes.get("database_url") or get_settings().database_url


def run_migrations_online() -> None:
    connectable = engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
