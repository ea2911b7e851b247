"""Concurrent relays and writers: disjoint claims on PostgreSQL, no lock errors on SQLite."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import Session

from hub.db import (
    ContactUpsert,
    DeliveryRecord,
    EventRecord,
    Receipt,
    claim_due_deliveries,
    claim_receipts,
    create_engine_from_url,
    fetch_due_deliveries,
    get_contact,
    list_events,
    session_scope,
    upgrade,
    utcnow,
    write_batch,
)

R = TypeVar("R")


def run_together(n: int, fn: Callable[[int], R]) -> list[R]:
    """Run ``fn(0..n-1)`` on n threads released at the same moment by a barrier."""
    barrier = threading.Barrier(n)

    def start(i: int) -> R:
        barrier.wait(timeout=30)
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(start, range(n)))


def add_deliveries(engine: Engine, count: int) -> list[int]:
    """Write ``count`` due deliveries."""
    records = [DeliveryRecord(plugin="p", hook="h", idempotency_key=f"k{i}") for i in range(count)]
    with session_scope(engine) as session:
        return write_batch(session, deliveries=records).delivery_ids


@pytest.fixture
def pg_engine(migrated_postgres_url: URL) -> Engine:
    """An engine on an emptied, migrated PostgreSQL database."""
    engine = create_engine_from_url(migrated_postgres_url)
    with engine.begin() as connection:
        connection.execute(sa.text("TRUNCATE deliveries, dead_letters, ingest_receipts RESTART IDENTITY CASCADE"))
    return engine


@pytest.mark.services
def test_two_open_transactions_fetch_disjoint_due_deliveries(pg_engine: Engine) -> None:
    ids = add_deliveries(pg_engine, 10)
    with Session(pg_engine) as first, first.begin(), Session(pg_engine) as second, second.begin():
        second.execute(sa.text("SET LOCAL lock_timeout = '5s'"))  # a regression fails instead of hanging
        taken_first = [d.id for d in fetch_due_deliveries(first, 4)]
        taken_second = [d.id for d in fetch_due_deliveries(second, 4)]
        rest = [d.id for d in fetch_due_deliveries(second, 100)]
    assert taken_first == ids[:4]
    assert taken_second == ids[4:8]
    assert rest == ids[4:]  # locked rows are skipped, not waited for
    pg_engine.dispose()


@pytest.mark.services
def test_concurrent_relays_claim_every_delivery_exactly_once(pg_engine: Engine) -> None:
    ids = add_deliveries(pg_engine, 300)

    def relay(_: int) -> list[int]:
        claimed: list[int] = []
        while True:
            with session_scope(pg_engine) as session:
                batch = [d.id for d in claim_due_deliveries(session, 7)]
            if not batch:
                return claimed
            claimed += batch

    claims = run_together(6, relay)
    everything = [i for batch in claims for i in batch]
    assert Counter(everything).most_common(1)[0][1] == 1
    assert sorted(everything) == ids
    pg_engine.dispose()


@pytest.mark.services
def test_concurrent_claims_of_one_receipt_have_exactly_one_winner(pg_engine: Engine) -> None:
    def claim(_: int) -> bool:
        with session_scope(pg_engine) as session:
            return bool(claim_receipts(session, [Receipt("firehose", "request-1")]))

    assert sorted(run_together(8, claim)) == [False] * 7 + [True]
    pg_engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> URL:
    """A migrated SQLite database file."""
    url = make_url(f"sqlite:///{tmp_path / 'hub.db'}")
    upgrade(url)
    return url


def test_sqlite_connections_get_the_pragmas(sqlite_url: URL) -> None:
    engine = create_engine_from_url(sqlite_url)
    with engine.connect() as connection:

        def pragma(name: str) -> object:
            return connection.exec_driver_sql(f"PRAGMA {name}").scalar()

        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 30_000
        assert pragma("synchronous") == 1  # NORMAL
        assert pragma("wal_autocheckpoint") == 10_000
    engine.dispose()


def test_sqlite_write_scope_takes_the_write_lock_up_front(sqlite_url: URL) -> None:
    engine = create_engine_from_url(sqlite_url)
    assert sqlite_url.database is not None
    other = sqlite3.connect(sqlite_url.database, timeout=0, isolation_level=None)
    try:
        with session_scope(engine, write=False) as session:
            session.execute(sa.text("SELECT 1"))  # deferred BEGIN: a reader holds no write lock
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        with session_scope(engine) as session:
            session.execute(sa.text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is ours already
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
        engine.dispose()


def test_sqlite_foreign_keys_are_enforced(sqlite_url: URL) -> None:
    engine = create_engine_from_url(sqlite_url)
    with pytest.raises(sa.exc.IntegrityError), session_scope(engine) as session:
        session.execute(
            sa.text(
                "INSERT INTO agent_state_history (agent_key, new_state, occurred_at) "
                "VALUES ('nobody', 'Available', '2026-01-01 00:00:00.000000')"
            )
        )
    engine.dispose()


def test_sqlite_concurrent_writers_never_hit_database_is_locked(sqlite_url: URL) -> None:
    engine = create_engine_from_url(sqlite_url)

    def writer(worker: int) -> int:
        for batch in range(10):
            events = [
                EventRecord(name="agent::state_change", occurred_at=utcnow(), source="t", agent_key=f"a{worker}", seq=s)
                for s in range(batch * 20, batch * 20 + 20)
            ]
            with session_scope(engine) as session:
                # Read, then write, in one transaction: with a deferred BEGIN a writer whose read
                # snapshot is outdated by another commit fails at once with SQLITE_BUSY (busy_timeout
                # does not help); with BEGIN IMMEDIATE writers queue on the lock.
                claim_due_deliveries(session, 10)
                write_batch(session, events=events)
        return worker

    assert run_together(6, writer) == list(range(6))
    with session_scope(engine, write=False) as session:
        assert len(list_events(session, limit=10_000)) == 6 * 200
    engine.dispose()


def test_concurrent_upserts_of_the_same_contacts_keep_the_newest(engine: Engine) -> None:
    """Writers race on the same rows in opposite orders: no deadlock, the newest input wins per contact."""
    base = utcnow()

    def writer(worker: int) -> None:
        for round_ in range(5):
            order = range(30) if worker % 2 else reversed(range(30))
            version = base + dt.timedelta(seconds=round_ * 4 + worker)  # worker 3, round 4 is the newest
            upserts = [ContactUpsert(contact_id=f"c{c}", source_ts=version, state=f"w{worker}r{round_}") for c in order]
            with session_scope(engine) as session:
                write_batch(session, contacts=upserts)

    run_together(4, writer)
    with session_scope(engine, write=False) as session:
        rows = [get_contact(session, f"c{c}") for c in range(30)]
    assert {(row.state, row.source_ts) for row in rows if row is not None} == {
        ("w3r4", base + dt.timedelta(seconds=19))
    }
