"""Fixtures every test folder shares: the real PostgreSQL, RabbitMQ and Redis on 127.0.0.1.

A service that is unreachable makes its tests skip with the reason on a developer's machine; under
``CI=true`` that is a failure, never a skip. PostgreSQL tests get randomly named databases that are
dropped afterwards (``HUB_TEST_POSTGRES_URL`` names the server and a database to connect to for that).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url

POSTGRES_ADMIN_URL = os.environ.get("HUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
RABBITMQ_URL = os.environ.get("HUB_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")


def unavailable(reason: str) -> None:
    """Skip the test, or fail it under ``CI=true`` where every service must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: services are required)")
    pytest.skip(reason)


def require_service(host: str, port: int, what: str) -> None:
    """Skip (or fail under ``CI=true``) when nothing listens on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        unavailable(f"{what} unreachable at {host}:{port}: {exc}")


def _admin_engine() -> Engine:
    return sa.create_engine(
        POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool, connect_args={"connect_timeout": 3}
    )


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    """The admin URL of a reachable PostgreSQL server."""
    engine = _admin_engine()
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        unavailable(f"PostgreSQL unreachable at {make_url(POSTGRES_ADMIN_URL).render_as_string()}: {exc.orig}")
    finally:
        engine.dispose()
    return POSTGRES_ADMIN_URL


@contextmanager
def _fresh_database(admin_url: str) -> Iterator[URL]:
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


@pytest.fixture(scope="session")
def fresh_postgres_database(postgres_admin: str) -> Callable[[], AbstractContextManager[URL]]:
    """``with fresh_postgres_database() as url:`` — a randomly named, empty database, dropped afterwards."""
    return lambda: _fresh_database(postgres_admin)


@pytest.fixture
def rabbitmq_url() -> str:
    """RabbitMQ on 127.0.0.1."""
    require_service("127.0.0.1", 5672, "RabbitMQ")
    return RABBITMQ_URL


@pytest.fixture
def redis_url() -> str:
    """Redis on 127.0.0.1."""
    require_service("127.0.0.1", 6379, "Redis")
    return REDIS_URL
