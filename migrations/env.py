"""Alembic environment for Connect Hub: one stream of migrations for SQLite and PostgreSQL.

SQLite runs in batch mode (``render_as_batch``): its ``ALTER TABLE`` is limited, so Alembic recreates
tables instead; foreign keys are off during migrations so a recreated table does not cascade.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from hub.db._engine import create_engine_from_url
from hub.db._models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    url = url or os.environ.get("HUB_DATABASE__URL")
    if not url:
        raise RuntimeError("no database URL: pass -x url=..., set sqlalchemy.url or HUB_DATABASE__URL")
    return url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        # hub.db's engines emit BEGIN themselves on SQLite too, so DDL is transactional on both.
        transactional_ddl=True,
        transaction_per_migration=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the SQL instead of running it (``alembic upgrade head --sql``)."""
    url = _url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against a connection handed over by ``hub.db.upgrade`` or one opened here (CLI)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    engine = create_engine_from_url(_url(), sqlite_foreign_keys=False, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            _configure(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
