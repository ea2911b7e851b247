"""Throughput of the persistence write path (``hub.db.write_batch``) on SQLite and PostgreSQL.

Each batch is what the hub writes for a burst of agent data: one agent upsert per agent, one contact
upsert per agent's contact, the events, and one outbox delivery per (event, plugin), in one transaction.
Prints events/s and rows/s (every inserted or upserted row counted) per database.

    .venv/bin/python bench/db_write.py                       # SQLite file + local PostgreSQL
    .venv/bin/python bench/db_write.py --events 200000 --batch 2000 --plugins 4
    .venv/bin/python bench/db_write.py --url postgresql+psycopg://user@host/db   # an existing, migrated DB
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from hub.db import (
    AgentRow,
    ContactUpsert,
    DeliveryRecord,
    EventRecord,
    create_engine_from_url,
    session_scope,
    upgrade,
    write_batch,
)

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def make_batch(
    start: int, size: int, agents: int, plugins: int
) -> tuple[list[AgentRow], list[ContactUpsert], list[EventRecord], list[DeliveryRecord]]:
    """Events ``start .. start+size`` spread round-robin over ``agents`` agents."""
    events, deliveries = [], []
    last: dict[int, int] = {}
    for n in range(start, start + size):
        agent, seq = n % agents, n // agents + 1
        key, contact = f"agent-{agent}", f"contact-{agent}-{seq // 20}"
        at = T0 + dt.timedelta(milliseconds=n)
        events.append(
            EventRecord(
                name="contact::connected" if seq % 2 else "agent::state_change",
                occurred_at=at,
                source="bench",
                agent_key=key,
                seq=seq,
                contact_id=contact,
                payload={"oldState": "Available", "newState": "Busy", "contactId": contact, "n": n},
            )
        )
        deliveries += [
            DeliveryRecord(
                plugin=f"plugin-{p}",
                hook="on_contact_connected",
                idempotency_key=f"{key}:{seq}:plugin-{p}",
                event_ref=(key, seq),
                contact_id=contact,
                ordering_key=contact,
            )
            for p in range(plugins)
        ]
        last[agent] = seq
    now = T0 + dt.timedelta(milliseconds=start + size)
    agent_rows = [
        AgentRow(
            key=f"agent-{a}",
            snapshot_at=now,
            username=f"user{a}",
            state_name="Busy",
            state_type="not_routable",
            last_seq=seq,
            agent_data={"snapshot": {"state": {"name": "Busy"}, "contacts": [{"contactId": f"c{seq}"}]}},
        )
        for a, seq in last.items()
    ]
    contacts = [
        ContactUpsert(
            contact_id=f"contact-{a}-{seq // 20}",
            source_ts=now,
            source="bench",
            state="connected",
            agent_key=f"agent-{a}",
            queue_name="Sales",
            channel="VOICE",
        )
        for a, seq in last.items()
    ]
    return agent_rows, contacts, events, deliveries


def _schedstat(pid: int | str) -> tuple[float, float] | None:
    """(seconds on a CPU, seconds runnable but waiting for a CPU) of a process, all its threads."""
    try:
        run = wait = 0.0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as stat:
                on_cpu, waiting, _ = stat.read().split()
            run, wait = run + int(on_cpu) / 1e9, wait + int(waiting) / 1e9
    except (OSError, ValueError):
        return None
    return run, wait


def _share(before: tuple[float, float] | None, after: tuple[float, float] | None, elapsed: float) -> str:
    if before is None or after is None:
        return "n/a"
    return f"CPU {(after[0] - before[0]) / elapsed:4.0%}, waiting for a CPU {(after[1] - before[1]) / elapsed:4.0%}"


def run(url: str | sa.URL, label: str, *, total: int, batch: int, agents: int, plugins: int) -> None:
    """Write ``total`` events in batches and print the rates."""
    engine = create_engine_from_url(url, pool_size=1, max_overflow=0) if "postgres" in str(url) else None
    engine = engine or create_engine_from_url(url)
    batches = [make_batch(start, batch, agents, plugins) for start in range(0, total, batch)]
    rows = sum(len(a) + len(c) + len(e) + len(d) for a, c, e, d in batches)
    backend = None
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            backend = connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    hub_before = _schedstat("self")
    server_before = _schedstat(backend) if backend is not None else None
    began = time.perf_counter()
    for agent_rows, contacts, events, deliveries in batches:
        with session_scope(engine) as session:
            write_batch(session, agents=agent_rows, contacts=contacts, events=events, deliveries=deliveries)
    elapsed = time.perf_counter() - began
    hub_after = _schedstat("self")
    server = ""
    if backend is not None:
        server = f"; PostgreSQL backend {_share(server_before, _schedstat(backend), elapsed)}"
    cpu = hub_after[0] - hub_before[0] if hub_after and hub_before else float("nan")
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT count(*) FROM events")).scalar_one()
    engine.dispose()
    assert stored == total, (stored, total)
    print(
        f"{label:<11} {total:>8} events in {elapsed:6.2f} s: {total / elapsed:>9,.0f} events/s, "
        f"{rows / elapsed:>9,.0f} rows/s (batch {batch}, {agents} agents, {plugins} deliveries/event)\n"
        f"{'':<11} share of wall time: hub process {_share(hub_before, hub_after, elapsed)}{server}\n"
        f"{'':<11} {total / cpu:,.0f} events per hub CPU-second; load average {os.getloadavg()[0]:.1f}"
    )


@contextmanager
def fresh_postgres() -> Iterator[sa.URL | None]:
    """A throw-away PostgreSQL database, or None when the server is unreachable."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = f"hub_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        print(f"postgresql  skipped: {exc.orig}")
        yield None
        return
    try:
        yield sa.make_url(PG_ADMIN).set(database=name)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    """Parse arguments and run the benchmark on each database."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--plugins", type=int, default=1, help="deliveries per event")
    parser.add_argument("--url", help="benchmark this (migrated, empty) database only")
    args = parser.parse_args()
    params = {"total": args.events, "batch": args.batch, "agents": args.agents, "plugins": args.plugins}
    if args.url:
        run(args.url, "given", **params)
        return
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        run(url, "sqlite", **params)
    with fresh_postgres() as pg_url:
        if pg_url is not None:
            upgrade(pg_url)
            run(pg_url, "postgresql", **params)


if __name__ == "__main__":
    main()
