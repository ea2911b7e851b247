"""Storage failures: the endpoint answers a status the source retries, stores nothing, and the retry
succeeds without duplicates (Firehose retries the same request; EventBridge the same event)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine

from hub.db import create_engine_from_url
from hub.ingest import AGENT_EVENTS_PATH, CONTACT_EVENTS_PATH, CONTACT_RECORDS_PATH, DatabaseSink, create_app
from hub.plugins import HubPlugins
from hub.sources.firehose import firehose_outcome

from .conftest import counts, make_settings
from .payloads import API_KEY, call_records, contact_event, contact_record, firehose_body, firehose_request
from .test_firehose import state_changes

EXPECTED_CHANGES = [
    ("Init", "Available"),
    ("Available", "PendingBusy"),
    ("PendingBusy", "Busy"),
    ("Busy", "AfterCallWork"),
    ("AfterCallWork", "Available"),
]


@contextmanager
def failing_inserts(engine: Engine, table: str) -> Iterator[None]:
    """Make every INSERT into ``table`` fail (a trigger), as a full disk or a broken database would."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql(
                f"CREATE TRIGGER hub_test_fail BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        else:
            connection.exec_driver_sql(
                "CREATE FUNCTION hub_test_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ "
                "LANGUAGE plpgsql"
            )
            connection.exec_driver_sql(
                f"CREATE TRIGGER hub_test_fail BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION hub_test_fail()"
            )
    try:
        yield
    finally:
        with engine.begin() as connection:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("DROP TRIGGER hub_test_fail")
            else:
                connection.exec_driver_sql(f"DROP TRIGGER hub_test_fail ON {table}")
                connection.exec_driver_sql("DROP FUNCTION hub_test_fail()")


def post_firehose(client: TestClient, path: str, body: dict[str, Any]) -> Any:
    """POST a Firehose request."""
    content, headers = firehose_request(body)
    return client.post(path, content=content, headers=headers)


def test_failed_write_is_retried_and_the_retry_stores_once(client: TestClient, engine: Engine) -> None:
    body = firehose_body(call_records())
    with failing_inserts(engine, "events"):  # fails after receipts, agents and contacts were written
        response = post_firehose(client, AGENT_EVENTS_PATH, body)
        assert response.status_code == 503
        assert firehose_outcome(response.status_code) == "retried"
        assert response.json()["requestId"] == body["requestId"]
        assert response.json()["errorMessage"]
        assert all(n == 0 for n in counts(engine).values()), "nothing half-written"
    # Firehose retries the same request: everything is stored once, with the same events as a
    # first-time success (the in-memory sessions advanced by the failed attempt were discarded).
    assert post_firehose(client, AGENT_EVENTS_PATH, body).status_code == 200
    assert state_changes(engine) == EXPECTED_CHANGES
    stored = counts(engine)
    assert post_firehose(client, AGENT_EVENTS_PATH, body).status_code == 200
    assert counts(engine) == stored


def test_failed_contact_record_write_is_retried(client: TestClient, engine: Engine) -> None:
    body = firehose_body([contact_record()])
    with failing_inserts(engine, "deliveries"):
        assert post_firehose(client, CONTACT_RECORDS_PATH, body).status_code == 503
        assert all(n == 0 for n in counts(engine).values())
    assert post_firehose(client, CONTACT_RECORDS_PATH, body).status_code == 200
    assert post_firehose(client, CONTACT_RECORDS_PATH, body).status_code == 200
    assert counts(engine)["contacts"] == 1
    assert counts(engine)["deliveries"] == 1


def test_failed_contact_event_write_is_retried(client: TestClient, engine: Engine) -> None:
    payload = contact_event()
    headers = {"X-Api-Key": API_KEY}
    with failing_inserts(engine, "events"):
        response = client.post(CONTACT_EVENTS_PATH, json=payload, headers=headers)
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert all(n == 0 for n in counts(engine).values())
    assert client.post(CONTACT_EVENTS_PATH, json=payload, headers=headers).json()["status"] == "accepted"
    assert client.post(CONTACT_EVENTS_PATH, json=payload, headers=headers).json()["status"] == "duplicate"
    assert counts(engine)["events"] == 1


@pytest.fixture
def impatient_engine(db_url: URL) -> Iterator[Engine]:
    """An engine that gives up on a lock after 0.3 s (SQLite busy timeout, PostgreSQL lock_timeout)."""
    if db_url.get_backend_name() == "sqlite":
        engine = create_engine_from_url(db_url)

        @event.listens_for(engine, "connect")
        def _short_busy_timeout(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA busy_timeout=300")

    else:
        engine = create_engine_from_url(db_url, connect_args={"options": "-c lock_timeout=300"})
    yield engine
    engine.dispose()


@contextmanager
def locked_database(db_url: URL) -> Iterator[None]:
    """Another client holds an exclusive lock on the database (SQLite) or the receipts table (PostgreSQL)."""
    if db_url.get_backend_name() == "sqlite":
        assert db_url.database is not None
        raw = sqlite3.connect(db_url.database, isolation_level=None)
        raw.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            raw.rollback()
            raw.close()
        return
    locker = create_engine_from_url(db_url, poolclass=sa.NullPool)
    try:
        with locker.begin() as connection:
            connection.exec_driver_sql("LOCK TABLE ingest_receipts IN ACCESS EXCLUSIVE MODE")
            yield
            connection.rollback()
    finally:
        locker.dispose()


def test_locked_database_is_503_then_the_retry_succeeds(impatient_engine: Engine, db_url: URL) -> None:
    sink = DatabaseSink(impatient_engine, hooks=HubPlugins())
    body = firehose_body(call_records())
    with TestClient(create_app(make_settings(), sink)) as client:
        with locked_database(db_url):
            assert post_firehose(client, AGENT_EVENTS_PATH, body).status_code == 503
        assert post_firehose(client, AGENT_EVENTS_PATH, body).status_code == 200
        assert post_firehose(client, AGENT_EVENTS_PATH, body).status_code == 200
    assert state_changes(impatient_engine) == EXPECTED_CHANGES


def test_unreachable_database_is_503_everywhere() -> None:
    engine = create_engine_from_url(
        "postgresql+psycopg://postgres@127.0.0.1:9/hub", connect_args={"connect_timeout": 2}, poolclass=sa.NullPool
    )
    sink = DatabaseSink(engine)
    with TestClient(create_app(make_settings(), sink)) as client:
        assert client.get("/healthz").status_code == 503
        body = firehose_body(call_records())
        response = post_firehose(client, AGENT_EVENTS_PATH, body)
        assert response.status_code == 503
        assert response.json()["requestId"] == body["requestId"]
        assert post_firehose(client, CONTACT_RECORDS_PATH, firehose_body([contact_record()])).status_code == 503
        assert client.post(CONTACT_EVENTS_PATH, json=contact_event(), headers={"X-Api-Key": API_KEY}).status_code == 503


def test_concurrent_deliveries_of_the_same_request_store_once(client: TestClient, engine: Engine) -> None:
    body = firehose_body(call_records())
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        statuses.append(post_firehose(client, AGENT_EVENTS_PATH, body).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 4
    assert state_changes(engine) == EXPECTED_CHANGES
