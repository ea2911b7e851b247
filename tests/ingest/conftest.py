"""Fixtures for the ingest tests: a migrated database of each kind, the app on a real sink, row counts.

PostgreSQL comes from the shared fixtures in ``tests/conftest.py`` (a randomly named database, skipped
when the server is unreachable, a failure under ``CI=true``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL, Engine, make_url

from hub.config import IngestSettings, hub_settings, load_settings
from hub.db import Base, create_engine_from_url, upgrade
from hub.hookspecs import hookimpl
from hub.ingest import DatabaseSink, IngestLimits, create_app
from hub.plugins import HubPlugins

from .payloads import ACCESS_KEY, API_KEY, BASIC

TABLES = ", ".join(t.name for t in Base.metadata.sorted_tables)


class RecordingPlugin:
    """A real plugin implementing the feed hooks and one agent hook; records the calls it receives."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    @hookimpl
    def on_contact_record(self, record: Mapping[str, Any], ctx: Any) -> None:
        """Record the contact record."""
        self.calls.append(("on_contact_record", record))

    @hookimpl
    def on_contact_event(self, event: Mapping[str, Any], ctx: Any) -> None:
        """Record the contact event."""
        self.calls.append(("on_contact_event", event))

    @hookimpl
    def on_agent_state_change(self, agent: Any, change: Any, ctx: Any) -> None:
        """Record the transition and the agent's state as the hook sees it."""
        self.calls.append(("on_agent_state_change", (change.old_state, change.new_state, agent.get_state().name)))


@pytest.fixture(scope="session")
def postgres_url(fresh_postgres_database: Callable[[], AbstractContextManager[URL]]) -> Iterator[URL]:
    """One migrated PostgreSQL database for the session, dropped at the end."""
    with fresh_postgres_database() as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def db_url(request: pytest.FixtureRequest, tmp_path: Any) -> URL:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        url = make_url(f"sqlite:///{tmp_path / 'hub.db'}")
        upgrade(url)
        return url
    url: URL = request.getfixturevalue("postgres_url")
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


@pytest.fixture
def plugins() -> HubPlugins:
    """A plugin facade with :class:`RecordingPlugin` registered."""
    facade = HubPlugins()
    facade.register(RecordingPlugin(), "recorder")
    return facade


def make_settings(**ingest: str) -> Any:
    """The hub's settings with ingest credentials set (defaults: the test keys)."""
    base = hub_settings(load_settings([]))
    values = {
        "firehose_access_key": ACCESS_KEY,
        "eventbridge_api_key": API_KEY,
        "eventbridge_basic_username": BASIC[0],
        "eventbridge_basic_password": BASIC[1],
    } | ingest
    return dataclasses.replace(base, ingest=IngestSettings(**values))


#: Small limits so the oversize tests send little data.
TEST_LIMITS = IngestLimits(max_event_bytes=64 * 1024)


@pytest.fixture
def sink(engine: Engine, plugins: HubPlugins) -> DatabaseSink:
    """The default sink on the test database."""
    return DatabaseSink(engine, hooks=plugins)


@pytest.fixture
def client(sink: DatabaseSink) -> Iterator[TestClient]:
    """The app over the ASGI interface (httpx), on the test database."""
    with TestClient(create_app(make_settings(), sink, limits=TEST_LIMITS)) as test_client:
        yield test_client


def counts(engine: Engine) -> dict[str, int]:
    """Rows per table."""
    with engine.connect() as connection:
        return {
            table.name: int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
            for table in Base.metadata.sorted_tables
        }


def rows(engine: Engine, query: str, **params: Any) -> list[dict[str, Any]]:
    """The rows of a SQL query as dicts."""
    with engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(sa.text(query), params)]
