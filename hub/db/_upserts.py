"""Batched writes: one ``executemany`` per table, dialect-aware upserts, source dedupe.

Every statement is a Core ``INSERT`` on the table (no per-row ORM work); SQLAlchemy's
"insertmanyvalues" turns each call into a few multi-row statements on SQLite and PostgreSQL alike.
Upserts use ``sqlite.insert`` / ``postgresql.insert`` and ``ON CONFLICT ... DO UPDATE ... WHERE``, so a
duplicate or stale input (older version key) changes nothing. Rows for the same key inside one batch are
folded in Python first, because PostgreSQL refuses to update one row twice in one statement.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ._models import AGENTS, CONTACTS, DELIVERIES, EVENTS, RECEIPTS, STATE_HISTORY
from ._records import (
    AgentRow,
    BatchResult,
    ContactUpsert,
    DeliveryRecord,
    EventRecord,
    Receipt,
    StateChange,
)
from ._types import utcnow

__all__ = ["claim_receipts", "dialect_insert", "write_batch"]

_agents, _history, _contacts = AGENTS, STATE_HISTORY, CONTACTS
_events, _deliveries, _receipts = EVENTS, DELIVERIES, RECEIPTS

_AGENT_IDENTITY = ("arn", "username", "name", "routing_profile_arn", "routing_profile_name")
_AGENT_STATE = ("state_name", "state_type", "state_started_at", "next_state_name", "agent_data")
_CONTACT_DATA = tuple(
    f for f in ContactUpsert.__dataclass_fields__ if f not in ("contact_id", "source_ts", "source")
)


def dialect_insert(session: Session, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` offering ``on_conflict_do_update`` / ``_do_nothing`` for the session's database."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {name!r} (SQLite and PostgreSQL only)")


def _fold(
    rows: Iterable[dict[str, Any]],
    key: str,
    version: str,
    keep_known: Sequence[str],
    merge: Callable[[dict[str, Any], dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Fold rows sharing a key exactly as successive upserts would, sorted by key (stable lock order)."""
    folded: dict[Any, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r[version]):
        current = folded.get(row[key])
        if current is None:
            folded[row[key]] = row
            continue
        merged = dict(row)
        for column in keep_known:
            if merged[column] is None:
                merged[column] = current[column]
        if merge is not None:
            merge(current, merged)
        folded[row[key]] = merged
    return [folded[k] for k in sorted(folded)]


def _keep_highest_seq(current: dict[str, Any], merged: dict[str, Any]) -> None:
    merged["last_seq"] = max(current["last_seq"], merged["last_seq"])


def _upsert_agents(session: Session, agents: Sequence[AgentRow], now: dt.datetime) -> None:
    rows = [
        {
            "key": a.key,
            "snapshot_at": a.snapshot_at,
            "last_seq": a.last_seq,
            **{c: getattr(a, c) for c in _AGENT_IDENTITY + _AGENT_STATE},
            "created_at": now,
            "updated_at": now,
        }
        for a in agents
    ]
    rows = _fold(rows, "key", "snapshot_at", _AGENT_IDENTITY, _keep_highest_seq)
    stmt = dialect_insert(session, _agents)
    new, old = stmt.excluded, _agents.c
    newer = sa.or_(old.snapshot_at.is_(None), new.snapshot_at >= old.snapshot_at)
    higher_seq = new.last_seq > old.last_seq
    set_: dict[str, Any] = {
        c: sa.case((newer, sa.func.coalesce(new[c], old[c])), else_=old[c]) for c in _AGENT_IDENTITY
    }
    set_ |= {c: sa.case((newer, new[c]), else_=old[c]) for c in (*_AGENT_STATE, "snapshot_at")}
    # last_seq only grows, even from an input too old to change the state: numbering must never repeat.
    set_["last_seq"] = sa.case((higher_seq, new.last_seq), else_=old.last_seq)
    set_["updated_at"] = new.updated_at
    session.execute(
        stmt.on_conflict_do_update(index_elements=[old.key], set_=set_, where=sa.or_(newer, higher_seq)),
        rows,
    )


def _upsert_contacts(session: Session, contacts: Sequence[ContactUpsert], now: dt.datetime) -> None:
    rows = [
        {
            "contact_id": c.contact_id,
            "source_ts": c.source_ts,
            "source": c.source,
            **{f: getattr(c, f) for f in _CONTACT_DATA},
            "created_at": now,
            "updated_at": now,
        }
        for c in contacts
    ]
    rows = _fold(rows, "contact_id", "source_ts", (*_CONTACT_DATA, "source"))
    stmt = dialect_insert(session, _contacts)
    new, old = stmt.excluded, _contacts.c
    set_: dict[str, Any] = {c: sa.func.coalesce(new[c], old[c]) for c in (*_CONTACT_DATA, "source")}
    set_ |= {"source_ts": new.source_ts, "updated_at": new.updated_at}
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[old.contact_id], set_=set_, where=new.source_ts >= old.source_ts
        ),
        rows,
    )


def _insert_state_changes(session: Session, changes: Sequence[StateChange]) -> None:
    rows = [
        {
            "agent_key": s.agent_key,
            "old_state": s.old_state,
            "new_state": s.new_state,
            "new_state_type": s.new_state_type,
            "occurred_at": s.occurred_at,
        }
        for s in changes
    ]
    stmt = dialect_insert(session, _history).on_conflict_do_nothing(
        index_elements=["agent_key", "occurred_at", "new_state"]
    )
    session.execute(stmt, rows)


def _event_row(e: EventRecord, now: dt.datetime) -> dict[str, Any]:
    return {
        "agent_key": e.agent_key,
        "contact_id": e.contact_id,
        "seq": e.seq,
        "name": e.name,
        "occurred_at": e.occurred_at,
        "payload": e.payload,
        "source": e.source,
        "recorded_at": now,
    }


def _insert_events(
    session: Session, events: Sequence[EventRecord], now: dt.datetime
) -> tuple[dict[tuple[str, int], int], list[int], int]:
    keyed = [_event_row(e, now) for e in events if e.agent_key is not None and e.seq is not None]
    plain = [_event_row(e, now) for e in events if e.agent_key is None or e.seq is None]
    ids: dict[tuple[str, int], int] = {}
    plain_ids: list[int] = []
    if keyed:
        stmt = (
            dialect_insert(session, _events)
            .on_conflict_do_nothing(index_elements=["agent_key", "seq"])
            .returning(_events.c.id, _events.c.agent_key, _events.c.seq)
        )
        ids = {(agent, seq): id_ for id_, agent, seq in session.execute(stmt, keyed)}
    inserted = len(ids)
    if plain:
        stmt = sa.insert(_events).returning(_events.c.id, sort_by_parameter_order=True)
        plain_ids = list(session.scalars(stmt, plain))
    return ids, plain_ids, inserted + len(plain_ids)


def _lookup_events(session: Session, refs: set[tuple[str, int]]) -> dict[tuple[str, int], int]:
    found: dict[tuple[str, int], int] = {}
    by_agent: dict[str, list[int]] = {}
    for agent, seq in refs:
        by_agent.setdefault(agent, []).append(seq)
    for agent, seqs in by_agent.items():
        query = sa.select(_events.c.id, _events.c.seq).where(
            _events.c.agent_key == agent, _events.c.seq.in_(seqs)
        )
        found |= {(agent, seq): id_ for id_, seq in session.execute(query)}
    return found


def _insert_deliveries(
    session: Session,
    deliveries: Sequence[DeliveryRecord],
    event_ids: dict[tuple[str, int], int],
    now: dt.datetime,
) -> list[int]:
    missing = {d.event_ref for d in deliveries if d.event_ref is not None and d.event_ref not in event_ids}
    if missing:
        event_ids |= _lookup_events(session, missing)
        unknown = missing - event_ids.keys()
        if unknown:
            raise LookupError(f"deliveries refer to events that do not exist: {sorted(unknown)[:5]}")
    rows = [
        {
            "plugin": d.plugin,
            "hook": d.hook,
            "event_id": event_ids[d.event_ref] if d.event_ref is not None else d.event_id,
            "contact_id": d.contact_id,
            "ordering_key": d.ordering_key,
            "idempotency_key": d.idempotency_key,
            "payload": d.payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": d.next_attempt_at or now,
            "created_at": now,
        }
        for d in deliveries
    ]
    stmt = (
        dialect_insert(session, _deliveries)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(_deliveries.c.id)
    )
    return sorted(session.scalars(stmt, rows))


def _insert_receipts(session: Session, receipts: Iterable[Receipt], now: dt.datetime) -> list[dict[str, Any]]:
    return [{"source": r.source, "key": r.key, "received_at": now} for r in dict.fromkeys(receipts)]


def claim_receipts(
    session: Session, receipts: Iterable[Receipt], *, now: dt.datetime | None = None
) -> set[Receipt]:
    """Record source dedupe keys; return those not seen before.

    ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: call it first in the ingest transaction and process
    only the returned keys. A concurrent transaction claiming the same key waits for this one, then
    sees it as taken; if this transaction rolls back, the keys are free again (the source's retry is
    processed).
    """
    rows = _insert_receipts(session, receipts, now or utcnow())
    if not rows:
        return set()
    stmt = (
        dialect_insert(session, _receipts)
        .on_conflict_do_nothing(index_elements=["source", "key"])
        .returning(_receipts.c.source, _receipts.c.key)
    )
    return {Receipt(source, key) for source, key in session.execute(stmt, rows)}


def write_batch(
    session: Session,
    *,
    agents: Sequence[AgentRow] = (),
    state_changes: Sequence[StateChange] = (),
    contacts: Sequence[ContactUpsert] = (),
    events: Sequence[EventRecord] = (),
    deliveries: Sequence[DeliveryRecord] = (),
    receipts: Iterable[Receipt] = (),
    now: dt.datetime | None = None,
) -> BatchResult:
    """Write one batch in the session's transaction (the transactional outbox): one statement per table.

    Order: receipts, agents, state history, contacts, events, deliveries, so deliveries can refer to
    the batch's events by ``(agent_key, seq)``. Idempotent: rewriting a batch inserts nothing new and
    changes no newer data. Raises :class:`LookupError` when a delivery refers to an unknown event.
    """
    now = now or utcnow()
    receipt_rows = _insert_receipts(session, receipts, now)
    if receipt_rows:
        stmt = dialect_insert(session, _receipts).on_conflict_do_nothing(index_elements=["source", "key"])
        session.execute(stmt, receipt_rows)
    if agents:
        _upsert_agents(session, agents, now)
    if state_changes:
        _insert_state_changes(session, state_changes)
    if contacts:
        _upsert_contacts(session, contacts, now)
    event_ids: dict[tuple[str, int], int] = {}
    plain_ids: list[int] = []
    inserted = 0
    if events:
        event_ids, plain_ids, inserted = _insert_events(session, events, now)
        wanted = {(e.agent_key, e.seq) for e in events if e.agent_key is not None and e.seq is not None}
        if len(event_ids) < len(wanted):
            event_ids |= _lookup_events(session, wanted - event_ids.keys())
    delivery_ids = _insert_deliveries(session, deliveries, event_ids, now) if deliveries else []
    return BatchResult(
        event_ids=event_ids,
        agentless_event_ids=plain_ids,
        delivery_ids=delivery_ids,
        events_inserted=inserted,
    )
