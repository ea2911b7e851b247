"""Databases for the persistence tests: a fresh SQLite file per test, a fresh PostgreSQL database per session.

PostgreSQL comes from ``HUB_TEST_POSTGRES_URL`` (default: the local server, database ``test``, used only
to create and drop a randomly named database). When it is unreachable the PostgreSQL tests skip with the
reason, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

from hub.db import Base, create_engine_from_url, upgrade

NewDatabase = Callable[[], AbstractContextManager[URL]]
TABLES = ", ".join(t.name for t in Base.metadata.sorted_tables)


@pytest.fixture
def fresh_postgres_url(fresh_postgres_database: NewDatabase) -> Iterator[URL]:
    """An empty, never-migrated PostgreSQL database for this test."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="session")
def migrated_postgres_url(fresh_postgres_database: NewDatabase) -> Iterator[URL]:
    """One migrated PostgreSQL database for the session (tables emptied before each test)."""
    with fresh_postgres_database() as url:
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
