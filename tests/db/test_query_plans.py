"""PostgreSQL plans of the statements that select deliveries by id, with statistics behind the data.

The planner's statistics are gathered now and then (autovacuum's ANALYZE). Gathered while few
deliveries were ``queued``, they meet a backlog of queued deliveries after workers were down or a
broker outage ended; a claim filtering ``status IN (...)`` was then driven from the status index and
scanned the whole backlog for every message. :func:`hub.db.status_among` keeps the status a filter.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, Engine

from hub.db import (
    DELIVERIES,
    DeliveryRecord,
    EventRecord,
    create_engine_from_url,
    list_deliveries,
    session_scope,
    status_among,
    upgrade,
    write_batch,
)
from hub.db._outbox import _contact_delivery_ids

pytestmark = pytest.mark.services

STATUS_INDEX = "ix_deliveries__status_next_attempt_at"
T = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def backlog(fresh_postgres_url: URL) -> Iterator[tuple[Engine, list[int]]]:
    """20,000 deliveries, analysed while all had succeeded, then 15,000 of them queued again."""
    upgrade(fresh_postgres_url)
    engine = create_engine_from_url(fresh_postgres_url)
    records = [
        DeliveryRecord(plugin="p", hook="on_event", idempotency_key=f"k{i}", ordering_key=f"c{i % 500}")
        for i in range(20_000)
    ]
    with session_scope(engine) as db:
        ids = write_batch(db, deliveries=records).delivery_ids
    with engine.begin() as c:
        c.execute(sa.update(DELIVERIES).values(status="succeeded"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.exec_driver_sql("ANALYZE deliveries")
    with engine.begin() as c:
        c.execute(sa.update(DELIVERIES).where(DELIVERIES.c.id <= ids[14_999]).values(status="queued"))
    yield engine, ids
    engine.dispose()


def indexes_used(engine: Engine, statement: sa.Executable) -> set[str]:
    """The index names in the statement's plan."""
    sql = str(statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))  # type: ignore[no-untyped-call]
    with engine.connect() as c:
        (plan,) = c.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql).scalar_one()
        c.rollback()

    def walk(node: dict[str, Any]) -> Iterator[str]:
        if "Index Name" in node:
            yield node["Index Name"]
        for child in node.get("Plans", []):
            yield from walk(child)

    return set(walk(plan["Plan"] if isinstance(plan, dict) else json.loads(plan)["Plan"]))


def test_a_claim_by_id_reads_by_primary_key_even_when_the_statistics_predate_a_backlog(
    backlog: tuple[Engine, list[int]],
) -> None:
    engine, ids = backlog
    message = ids[10_000:10_040]  # one message's deliveries, inside the backlog
    d = DELIVERIES.c
    claim = sa.update(DELIVERIES).where(d.id.in_(message), status_among("queued", "running")).values(status="running")
    assert STATUS_INDEX not in indexes_used(engine, claim)
    assert "pk_deliveries" in indexes_used(engine, claim)
    # what the claim used to be: driven from the status index, reading the 15,000 queued rows
    plain = sa.update(DELIVERIES).where(d.id.in_(message), d.status.in_(("queued", "running"))).values(status="running")
    assert STATUS_INDEX in indexes_used(engine, plain)


def test_a_contacts_deliveries_are_listed_through_indexes(fresh_postgres_url: URL) -> None:
    """``deliveries.contact_id`` has no index: the listing goes through the contact's events."""
    upgrade(fresh_postgres_url)
    engine = create_engine_from_url(fresh_postgres_url)
    try:
        events = [
            EventRecord(name="contact::connected", occurred_at=T, source="test", contact_id=f"c{i}")
            for i in range(2_000)
        ]
        with session_scope(engine) as db:
            event_ids = write_batch(db, events=events).agentless_event_ids
            records = [
                DeliveryRecord(
                    plugin="p",
                    hook="on_event",
                    idempotency_key=f"k{i}",
                    event_id=e,
                    contact_id=f"c{i}",
                    ordering_key=f"c{i}",
                )
                for i, e in enumerate(event_ids)
            ]
            write_batch(db, deliveries=records)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("ANALYZE deliveries")
            c.exec_driver_sql("ANALYZE events")
        query = sa.select(DELIVERIES.c.id).where(DELIVERIES.c.id.in_(_contact_delivery_ids("c7")))
        assert {"ix_events__contact_id_id", "ix_deliveries__event_id"} <= indexes_used(engine, query)
        with session_scope(engine, write=False) as db:
            (listed,) = list_deliveries(db, contact_id="c7")
        assert (listed.contact_id, listed.event_id) == ("c7", event_ids[7])
    finally:
        engine.dispose()
