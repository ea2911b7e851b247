"""Databases for the persistence tests: a fresh SQLite file per test, a fresh PostgreSQL database per session.

PostgreSQL comes from ``HUB_TEST_POSTGRES_URL`` (default: the local server, database ``test``, used only
to create and drop a randomly named database). When it is unreachable the PostgreSQL tests skip with the
reason, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from hub.db import Base, create_engine_from_url, upgrade

ADMIN_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TABLES = ", ".join(t.name for t in Base.metadata.sorted_tables)


def _admin_engine() -> Engine:
    return sa.create_engine(
        ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool, connect_args={"connect_timeout": 3}
    )


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    """The admin URL of a reachable PostgreSQL server (skip, or fail under CI=true, otherwise)."""
    engine = _admin_engine()
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        reason = f"PostgreSQL unreachable at {make_url(ADMIN_URL).render_as_string()}: {exc.orig}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: services are required)")
        pytest.skip(reason)
    finally:
        engine.dispose()
    return ADMIN_URL


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[URL]:
    """Create a randomly named database, yield its URL, drop it (even with connections left open)."""
    name = f"hub_test_{uuid.uuid4().hex[:12]}"
    engine = _admin_engine()
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name)
        finally:
            with engine.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


@pytest.fixture
def fresh_postgres_url(postgres_admin: str) -> Iterator[URL]:
    """An empty, never-migrated PostgreSQL database for this test."""
    with fresh_postgres_database(postgres_admin) as url:
        yield url


@pytest.fixture(scope="session")
def migrated_postgres_url(postgres_admin: str) -> Iterator[URL]:
    """One migrated PostgreSQL database for the session (tables emptied before each test)."""
    with fresh_postgres_database(postgres_admin) as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> URL:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        url = make_url(f"sqlite:///{tmp_path_factory.mktemp('db') / 'hub.db'}")
        upgrade(url)
        return url
    url = request.getfixturevalue("migrated_postgres_url")
    engine = create_engine_from_url(url, poolclass=sa.NullPool)
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def engine(db_url: URL) -> Iterator[Engine]:
    """An engine on :func:`db_url`."""
    engine = create_engine_from_url(db_url)
    yield engine
    engine.dispose()
