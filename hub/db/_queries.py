"""Reads the runtime needs besides the outbox: rebuilding sessions, contacts, event replay, pruning."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ._models import DELIVERIES, EVENTS, STATE_HISTORY, Agent, Contact, Event, IngestReceipt

__all__ = ["agent_versions", "get_contact", "list_events", "load_agents", "prune_history", "prune_receipts"]

_SQLITE_KEYS_PER_QUERY = 500


def agent_versions(
    session: Session, keys: Sequence[str], *, lock: bool = False
) -> dict[str, tuple[dt.datetime | None, int]]:
    """``(snapshot_at, last_seq)`` of the stored agents among ``keys``: the version a session applied.

    On the ingest's hot path (twice per request: when it is derived and when it is written), so it is
    one plain statement read through the driver: SQLAlchemy's rendering of a 200-key ``IN`` list and
    its per-row result processing were ~8 % of an AES request's CPU. ``lock`` takes the rows
    ``FOR UPDATE`` on PostgreSQL (in key order, so concurrent writers do not deadlock).
    """
    if not keys:
        return {}
    ordered = sorted(set(keys))
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        sql = 'SELECT "key", snapshot_at, last_seq FROM agents WHERE "key" = ANY(%s) ORDER BY "key"'
        rows = connection.exec_driver_sql(sql + (" FOR UPDATE" if lock else ""), (ordered,)).fetchall()
        return {key: (_aware(at), int(seq)) for key, at, seq in rows}
    found: dict[str, tuple[dt.datetime | None, int]] = {}
    for start in range(0, len(ordered), _SQLITE_KEYS_PER_QUERY):
        chunk = tuple(ordered[start : start + _SQLITE_KEYS_PER_QUERY])
        sql = f'SELECT "key", snapshot_at, last_seq FROM agents WHERE "key" IN ({", ".join("?" * len(chunk))})'
        for key, at, seq in connection.exec_driver_sql(sql, chunk).fetchall():
            # SQLAlchemy's SQLite storage of UTC timestamps: 'YYYY-MM-DD HH:MM:SS.ffffff' (hub.db._types)
            found[key] = (None if at is None else dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC), int(seq))
    return found


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC)


def load_agents(session: Session, keys: Sequence[str] | None = None) -> list[Agent]:
    """Stored agents (all, or those in ``keys``), to rebuild sessions after a restart.

    Each carries its last accepted ``agent_data`` and ``last_seq``, the number to continue from.
    """
    query = sa.select(Agent).order_by(Agent.key)
    if keys is not None:
        query = query.where(Agent.key.in_(keys))
    return list(session.scalars(query))


def get_contact(session: Session, contact_id: str) -> Contact | None:
    """One contact row by id."""
    return session.get(Contact, contact_id)


def list_events(
    session: Session,
    *,
    contact_id: str | None = None,
    agent_key: str | None = None,
    names: Sequence[str] | None = None,
    after_id: int | None = None,
    limit: int = 1000,
) -> list[Event]:
    """Stored events in write order (per agent that is ``seq`` order): replay one contact or agent."""
    query = sa.select(Event).order_by(Event.id).limit(limit)
    if contact_id is not None:
        query = query.where(Event.contact_id == contact_id)
    if agent_key is not None:
        query = query.where(Event.agent_key == agent_key)
    if names is not None:
        query = query.where(Event.name.in_(names))
    if after_id is not None:
        query = query.where(Event.id > after_id)
    return list(session.scalars(query))


def prune_receipts(session: Session, older_than: dt.datetime) -> int:
    """Delete dedupe receipts received before ``older_than`` (past every source's retry window)."""
    result = session.execute(sa.delete(IngestReceipt).where(IngestReceipt.received_at < older_than))
    return int(result.rowcount)  # type: ignore[attr-defined]


def prune_history(session: Session, before: dt.datetime) -> dict[str, int]:
    """Delete history older than ``before``; returns the number of rows deleted per table.

    Removes succeeded deliveries finished before ``before``, then events that occurred before it and no
    remaining delivery refers to (events of unfinished or dead deliveries stay, so those can still
    run or be retried; so does the event holding the snapshot such an event refers to with
    ``snapshot_seq``, see :mod:`hub.runtime._snapshots`), agent state history, and dedupe receipts.
    Agents and contacts are kept. Run it often (say hourly) so each run deletes a modest number of rows.
    """
    d, e, ref = DELIVERIES.c, EVENTS.c, EVENTS.alias("referring").c
    counts = {
        "deliveries": session.execute(
            sa.delete(DELIVERIES).where(d.status == "succeeded", d.finished_at < before)
        ).rowcount,  # type: ignore[attr-defined]
        "events": session.execute(
            sa.delete(EVENTS).where(
                e.occurred_at < before,
                ~sa.exists().where(d.event_id == e.id),
                ~sa.exists().where(
                    # A kept event of the same input whose payload refers to this one's snapshot.
                    ref.agent_key == e.agent_key,
                    ref.occurred_at == e.occurred_at,
                    ref.seq > e.seq,
                    ref.payload["snapshot_seq"].as_integer() == e.seq,
                    sa.exists().where(d.event_id == ref.id),
                ),
            )
        ).rowcount,  # type: ignore[attr-defined]
        "agent_state_history": session.execute(
            sa.delete(STATE_HISTORY).where(STATE_HISTORY.c.occurred_at < before)
        ).rowcount,  # type: ignore[attr-defined]
        "ingest_receipts": prune_receipts(session, before),
    }
    return {table: int(count) for table, count in counts.items()}
