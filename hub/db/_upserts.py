"""Batched writes: one multi-row statement per table, newer-only upserts, source dedupe.

Upserts are ``INSERT ... ON CONFLICT ... DO UPDATE ... WHERE``: a duplicate or stale input (older
version key) changes nothing, and a newer one keeps stored values it does not carry (``COALESCE``).
Rows for the same key inside one batch are folded in Python first, exactly as successive upserts would
apply, because PostgreSQL refuses to update one row twice in one statement; rows are written in key
order so concurrent writers lock them in the same order (no deadlocks).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ._bulk import PreparedRows, bulk_insert, insert_prepared, insert_prepared_many, prepare_rows, quote
from ._models import AGENTS, CONTACTS, DELIVERIES, EVENTS, RECEIPTS, STATE_HISTORY
from ._policy import base_event_name
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

__all__ = [
    "PreparedBatch",
    "claim_receipts",
    "dialect_insert",
    "group_deliveries",
    "prepare_batch",
    "stored_receipts",
    "write_batch",
    "write_prepared",
]

_AGENT_IDENTITY = ("arn", "username", "name", "routing_profile_arn", "routing_profile_name")
_AGENT_STATE = ("state_name", "state_type", "state_started_at", "next_state_name", "agent_data")
_AGENT_COLUMNS = ("key", "snapshot_at", "last_seq", *_AGENT_IDENTITY, *_AGENT_STATE, "created_at", "updated_at")
_CONTACT_DATA = tuple(f for f in ContactUpsert.__struct_fields__ if f not in ("contact_id", "source_ts", "source"))
_CONTACT_COLUMNS = ("contact_id", "source_ts", "source", *_CONTACT_DATA, "created_at", "updated_at")
_EVENT_COLUMNS = ("agent_key", "contact_id", "seq", "name", "occurred_at", "payload", "source", "recorded_at")
_DELIVERY_COLUMNS = (
    "plugin",
    "hook",
    "event_id",
    "contact_id",
    "ordering_key",
    "idempotency_key",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "queued_at",
)
_HISTORY_COLUMNS = ("agent_key", "old_state", "new_state", "new_state_type", "occurred_at")
_RECEIPT_COLUMNS = ("source", "key", "received_at")


def _set(table: str, column: str, expression: str) -> str:
    return f"{quote(column)} = {expression.format(new=f'excluded.{quote(column)}', old=f'{table}.{quote(column)}')}"


def _agents_conflict() -> str:
    newer = "(agents.snapshot_at IS NULL OR excluded.snapshot_at >= agents.snapshot_at)"
    higher_seq = "excluded.last_seq > agents.last_seq"
    sets = [
        _set("agents", c, f"CASE WHEN {newer} THEN COALESCE({{new}}, {{old}}) ELSE {{old}} END")
        for c in _AGENT_IDENTITY
    ]
    sets += [
        _set("agents", c, f"CASE WHEN {newer} THEN {{new}} ELSE {{old}} END") for c in (*_AGENT_STATE, "snapshot_at")
    ]
    # last_seq only grows, even from an input too old to change the state: numbering must never repeat.
    sets.append(_set("agents", "last_seq", f"CASE WHEN {higher_seq} THEN {{new}} ELSE {{old}} END"))
    sets.append(_set("agents", "updated_at", "{new}"))
    return f'ON CONFLICT ("key") DO UPDATE SET {", ".join(sets)} WHERE {newer} OR {higher_seq}'


#: The contact state that is final (Streams ``ContactStateType.ENDED``): never replaced once stored.
TERMINAL_CONTACT_STATE = "ended"
#: The source of contact records: authoritative over the live feeds whatever the timestamps.
CONTACT_RECORD_SOURCE = "ctr"


def _contacts_conflict() -> str:
    """The contact merge rules (see :class:`~hub.db.ContactUpsert`), as one ``ON CONFLICT`` clause.

    * an input *applies* when its ``source_ts`` is not older than the stored one, or when it is a
      contact record (``source='ctr'``) and the row was last written by a live feed;
    * an applying input replaces the columns it carries (``COALESCE``); a non-applying one changes nothing,
    * except the state: ``ended`` is terminal - once stored it stays (with its ``state_at``), and an
      input saying ``ended`` sets it whatever its version.
    """
    newer = "excluded.source_ts >= contacts.source_ts"
    live = "(contacts.source IS NULL OR contacts.source <> excluded.source)"
    ctr = f"(excluded.source = '{CONTACT_RECORD_SOURCE}' AND {live})"
    applies = f"({newer} OR {ctr})"
    ended_old = f"contacts.state = '{TERMINAL_CONTACT_STATE}'"
    ended_new = f"excluded.state = '{TERMINAL_CONTACT_STATE}'"
    data = [c for c in _CONTACT_DATA if c not in ("state", "state_at")]
    sets = [_set("contacts", c, f"CASE WHEN {applies} THEN COALESCE({{new}}, {{old}}) ELSE {{old}} END") for c in data]
    sets.append(_set("contacts", "source", f"CASE WHEN {applies} THEN COALESCE({{new}}, {{old}}) ELSE {{old}} END"))
    sets.append(
        _set(
            "contacts",
            "state",
            f"CASE WHEN {ended_old} THEN {{old}} WHEN {applies} OR {ended_new} THEN COALESCE({{new}}, {{old}}) "
            "ELSE {old} END",
        )
    )
    sets.append(
        _set(
            "contacts",
            "state_at",
            f"CASE WHEN {ended_old} THEN COALESCE({{old}}, {{new}}) "
            f"WHEN {applies} OR {ended_new} THEN COALESCE({{new}}, {{old}}) ELSE {{old}} END",
        )
    )
    sets += [
        _set("contacts", "source_ts", f"CASE WHEN {newer} THEN {{new}} ELSE {{old}} END"),
        _set("contacts", "updated_at", "{new}"),
    ]
    ended_now = f"({ended_new} AND (contacts.state IS NULL OR NOT {ended_old}))"
    return f'ON CONFLICT ("contact_id") DO UPDATE SET {", ".join(sets)} WHERE {applies} OR {ended_now}'


_AGENTS_CONFLICT = _agents_conflict()
_CONTACTS_CONFLICT = _contacts_conflict()


def dialect_insert(session: Session, table: sa.Table) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` offering ``on_conflict_do_update`` / ``_do_nothing`` for the session's database.

    For low-volume upserts elsewhere in the hub; the batch path here uses :mod:`hub.db._bulk`.
    """
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
        for column in keep_known:
            if row[column] is None:
                row[column] = current[column]
        if merge is not None:
            merge(current, row)
        folded[row[key]] = row
    return [folded[k] for k in sorted(folded)]


def _keep_highest_seq(current: dict[str, Any], merged: dict[str, Any]) -> None:
    merged["last_seq"] = max(current["last_seq"], merged["last_seq"])


def _keep_terminal_state(current: dict[str, Any], merged: dict[str, Any]) -> None:
    """In-batch twin of the SQL rule: an ``ended`` state stays, with its own ``state_at``.

    Rows are folded oldest first, so every later row applies (its other columns already merged).
    """
    if current["state"] == TERMINAL_CONTACT_STATE:
        merged["state"] = TERMINAL_CONTACT_STATE
        if current["state_at"] is not None:
            merged["state_at"] = current["state_at"]


def _agent_rows(agents: Sequence[AgentRow], now: dt.datetime) -> list[tuple[Any, ...]]:
    rows = [{c: getattr(a, c) for c in _AGENT_COLUMNS[:-2]} | {"created_at": now, "updated_at": now} for a in agents]
    folded = _fold(rows, "key", "snapshot_at", _AGENT_IDENTITY, _keep_highest_seq)
    return [tuple(r[c] for c in _AGENT_COLUMNS) for r in folded]


def _contact_rows(contacts: Sequence[ContactUpsert], now: dt.datetime) -> list[tuple[Any, ...]]:
    rows = [
        {c: getattr(u, c) for c in _CONTACT_COLUMNS[:-2]} | {"created_at": now, "updated_at": now} for u in contacts
    ]
    folded = _fold(rows, "contact_id", "source_ts", (*_CONTACT_DATA, "source"), _keep_terminal_state)
    return [tuple(r[c] for c in _CONTACT_COLUMNS) for r in folded]


_HISTORY_CONFLICT = 'ON CONFLICT ("agent_key", "occurred_at", "new_state") DO NOTHING'
_EVENTS_CONFLICT = 'ON CONFLICT ("agent_key", "seq") DO NOTHING'
_DELIVERIES_CONFLICT = 'ON CONFLICT ("idempotency_key") DO NOTHING'


def _event_row(e: EventRecord, now: dt.datetime) -> tuple[Any, ...]:
    name = base_event_name(e.name)
    return (e.agent_key, e.contact_id, e.seq, name, e.occurred_at, e.payload, e.source, now)


def _event_ids(
    session: Session, returned: list[tuple[Any, ...]], refs: list[tuple[str, int]]
) -> dict[tuple[str, int], int]:
    """The ids of the newly inserted keyed events, by ``(agent_key, seq)``."""
    # Ids are allocated in input order (one statement per chunk, chunks in order; INSERT never runs
    # in parallel), so sorting them restores the input order; only the ids come back (no long keys).
    inserted = sorted(r[0] for r in returned)
    if len(inserted) == len(refs):  # nothing skipped: the i-th id is the i-th row's
        return dict(zip(refs, inserted, strict=True))
    if inserted:  # some were stored already: read which (agent, seq) each new id is
        new_ids = set(inserted)
        stored = _lookup_events(session, set(refs))
        return {ref: id_ for ref, id_ in stored.items() if id_ in new_ids}
    return {}


def _lookup_events(session: Session, refs: set[tuple[str, int]]) -> dict[tuple[str, int], int]:
    found: dict[tuple[str, int], int] = {}
    by_agent: dict[str, list[int]] = {}
    for agent, seq in refs:
        by_agent.setdefault(agent, []).append(seq)
    c = EVENTS.c
    for agent, seqs in by_agent.items():
        query = sa.select(c.id, c.seq).where(c.agent_key == agent, c.seq.in_(seqs))
        found |= {(agent, seq): id_ for id_, seq in session.execute(query)}
    return found


_EVENT_ID = _DELIVERY_COLUMNS.index("event_id")


def _delivery_rows(
    deliveries: Sequence[DeliveryRecord], now: dt.datetime, queued_at: dt.datetime | None
) -> list[tuple[Any, ...]]:
    """Delivery rows with ``event_id`` as given (``None`` where it is resolved from ``event_ref`` at write time)."""
    status = "pending" if queued_at is None else "queued"
    return [
        (
            d.plugin,
            d.hook,
            d.event_id,
            d.contact_id,
            d.ordering_key,
            d.idempotency_key,
            d.payload,
            status,
            0,
            d.next_attempt_at or now,
            now,
            queued_at,
        )
        for d in deliveries
    ]


def _insert_deliveries(
    session: Session,
    prepared: PreparedRows,
    deliveries: Sequence[DeliveryRecord],
    event_ids: dict[tuple[str, int], int],
) -> list[tuple[int, str | None, str]]:
    missing = {d.event_ref for d in deliveries if d.event_ref is not None and d.event_ref not in event_ids}
    if missing:
        event_ids |= _lookup_events(session, missing)
        unknown = missing - event_ids.keys()
        if unknown:
            raise LookupError(f"deliveries refer to events that do not exist: {sorted(unknown)[:5]}")
    given = prepared.values[_EVENT_ID]
    prepared.values[_EVENT_ID] = [
        event_ids[d.event_ref] if d.event_ref is not None else event_id
        for d, event_id in zip(deliveries, given, strict=True)
    ]
    try:
        returned = insert_prepared(session, prepared, on_conflict=_DELIVERIES_CONFLICT, returning=("id",))
    finally:
        prepared.values[_EVENT_ID] = given  # a retried write resolves the ids again
    ids = sorted(int(r[0]) for r in returned)
    if len(ids) == prepared.count:  # nothing skipped: ids follow the input order, as for events
        return [(id_, d.ordering_key, d.plugin) for id_, d in zip(ids, deliveries, strict=True)]
    if not ids:
        return []
    c = DELIVERIES.c  # a primary-key range read, keeping the new ids
    new_ids = set(ids)
    query = sa.select(c.id, c.ordering_key, c.plugin).where(c.id.between(ids[0], ids[-1])).order_by(c.id)
    return [(int(i), okey, plugin) for i, okey, plugin in session.execute(query) if i in new_ids]


def _receipt_rows(receipts: Iterable[Receipt], now: dt.datetime) -> list[tuple[str, str, dt.datetime]]:
    return [(r.source, r.key, now) for r in dict.fromkeys(receipts)]


_RECEIPTS_CONFLICT = 'ON CONFLICT ("source", "key") DO NOTHING'


def claim_receipts(session: Session, receipts: Iterable[Receipt], *, now: dt.datetime | None = None) -> set[Receipt]:
    """Record source dedupe keys; return those not seen before.

    ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: call it first in the ingest transaction and process
    only the returned keys. A concurrent transaction claiming the same key waits for this one, then
    sees it as taken; if this transaction rolls back, the keys are free again (the source's retry is
    processed).
    """
    rows = _receipt_rows(receipts, now or utcnow())
    returned = bulk_insert(
        session, RECEIPTS, _RECEIPT_COLUMNS, rows, on_conflict=_RECEIPTS_CONFLICT, returning=("source", "key")
    )
    return {Receipt(source, key) for source, key in returned}


def stored_receipts(session: Session, receipts: Iterable[Receipt]) -> set[Receipt]:
    """Which of ``receipts`` are stored already (a read: :func:`claim_receipts` is what claims them).

    One plain statement per source (and per 500 keys on SQLite), read through the driver: it runs for
    every ingest request, before the request is derived.
    """
    by_source: dict[str, list[str]] = {}
    for receipt in dict.fromkeys(receipts):
        by_source.setdefault(receipt.source, []).append(receipt.key)
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    found: set[Receipt] = set()
    for source, keys in by_source.items():
        if postgres:
            sql = 'SELECT "key" FROM ingest_receipts WHERE source = %s AND "key" = ANY(%s)'
            found |= {Receipt(source, k) for (k,) in connection.exec_driver_sql(sql, (source, keys)).fetchall()}
            continue
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            sql = f'SELECT "key" FROM ingest_receipts WHERE source = ? AND "key" IN ({", ".join("?" * len(chunk))})'
            found |= {Receipt(source, k) for (k,) in connection.exec_driver_sql(sql, (source, *chunk)).fetchall()}
    return found


class PreparedBatch:
    """A batch converted for one database by :func:`prepare_batch`, written by :func:`write_prepared`.

    Preparing needs no connection, so a caller can prepare the next batch in its own thread while the
    database writes the last one (the pipeline does).
    """

    __slots__ = ("agents", "contacts", "deliveries", "delivery_rows", "events", "history", "plain", "receipts", "refs")
    agents: PreparedRows
    contacts: PreparedRows
    deliveries: list[DeliveryRecord]
    delivery_rows: PreparedRows
    events: PreparedRows
    history: PreparedRows
    plain: PreparedRows
    receipts: PreparedRows
    refs: list[tuple[str, int]]

    def __init__(self, **parts: Any) -> None:
        """Hold the converted parts (built by :func:`prepare_batch` only)."""
        for name in self.__slots__:
            setattr(self, name, parts[name])


def prepare_batch(
    dialect: str,
    *,
    agents: Sequence[AgentRow] = (),
    state_changes: Sequence[StateChange] = (),
    contacts: Sequence[ContactUpsert] = (),
    events: Sequence[EventRecord] = (),
    deliveries: Sequence[DeliveryRecord] = (),
    receipts: Iterable[Receipt] = (),
    now: dt.datetime | None = None,
    deliveries_queued: bool = False,
) -> PreparedBatch:
    """Convert a batch for ``dialect`` (``sqlite`` or ``postgresql``) without touching the database.

    Same arguments as :func:`write_batch`; raises :class:`ValueError` for a naive datetime.
    """
    now = now or utcnow()
    history = [(c.agent_key, c.old_state, c.new_state, c.new_state_type, c.occurred_at) for c in state_changes]
    keyed = [_event_row(e, now) for e in events if e.agent_key is not None and e.seq is not None]
    plain = [_event_row(e, now) for e in events if e.agent_key is None or e.seq is None]
    deliveries = list(deliveries)
    delivery_rows = _delivery_rows(deliveries, now, now if deliveries_queued else None)
    return PreparedBatch(
        receipts=prepare_rows(dialect, RECEIPTS, _RECEIPT_COLUMNS, _receipt_rows(receipts, now)),
        agents=prepare_rows(dialect, AGENTS, _AGENT_COLUMNS, _agent_rows(agents, now)),
        history=prepare_rows(dialect, STATE_HISTORY, _HISTORY_COLUMNS, history),
        contacts=prepare_rows(dialect, CONTACTS, _CONTACT_COLUMNS, _contact_rows(contacts, now)),
        refs=[(row[0], row[2]) for row in keyed],  # (agent_key, seq)
        events=prepare_rows(dialect, EVENTS, _EVENT_COLUMNS, keyed),
        plain=prepare_rows(dialect, EVENTS, _EVENT_COLUMNS, plain),
        deliveries=deliveries,
        delivery_rows=prepare_rows(dialect, DELIVERIES, _DELIVERY_COLUMNS, delivery_rows),
    )


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
    deliveries_queued: bool = False,
) -> BatchResult:
    """Write one batch in the session's transaction (the transactional outbox): one statement per table.

    Order: receipts, agents, state history, contacts, events, deliveries, so deliveries can refer to
    the batch's events by ``(agent_key, seq)``. Idempotent: rewriting a batch inserts nothing new and
    changes no newer data. Events are stored as given (filter with :func:`is_persisted_event` first),
    their names without a contact id suffix. ``deliveries_queued=True`` inserts the deliveries as
    ``queued`` (the caller publishes them right after the commit, see :mod:`hub.runtime._pipeline`;
    if it cannot, the relay's stale requeue recovers them), otherwise as ``pending`` for the relay.
    Raises :class:`LookupError` when a delivery refers to an unknown event, and
    :class:`ValueError` for a naive datetime; either way the caller's transaction must be rolled back.
    It is :func:`prepare_batch` then :func:`write_prepared`.
    """
    prepared = prepare_batch(
        session.get_bind().dialect.name,
        agents=agents,
        state_changes=state_changes,
        contacts=contacts,
        events=events,
        deliveries=deliveries,
        receipts=receipts,
        now=now,
        deliveries_queued=deliveries_queued,
    )
    return write_prepared(session, prepared)


def write_prepared(session: Session, batch: PreparedBatch) -> BatchResult:
    """Write a :func:`prepare_batch` batch in the session's transaction (see :func:`write_batch`)."""
    *_, keyed, plain = insert_prepared_many(
        session,
        [
            (batch.receipts, _RECEIPTS_CONFLICT, ()),
            (batch.agents, _AGENTS_CONFLICT, ()),
            (batch.history, _HISTORY_CONFLICT, ()),
            (batch.contacts, _CONTACTS_CONFLICT, ()),
            (batch.events, _EVENTS_CONFLICT, ("id",)),
            (batch.plain, "", ("id",)),
        ],
    )
    event_ids = _event_ids(session, keyed, batch.refs)
    plain_ids = sorted(r[0] for r in plain)
    inserted = len(event_ids) + len(plain_ids)
    if len(event_ids) < len(batch.refs):
        wanted = set(batch.refs)
        if len(event_ids) < len(wanted):
            event_ids |= _lookup_events(session, wanted - event_ids.keys())
    inserted_deliveries = (
        _insert_deliveries(session, batch.delivery_rows, batch.deliveries, event_ids) if batch.deliveries else []
    )
    return BatchResult(
        event_ids=event_ids,
        agentless_event_ids=plain_ids,
        delivery_ids=[d[0] for d in inserted_deliveries],
        delivery_groups=group_deliveries(inserted_deliveries),
        events_inserted=inserted,
    )


def group_deliveries(rows: Iterable[tuple[int, str | None, str]]) -> list[list[int]]:
    """Delivery ids grouped per (ordering key, plugin), each group ascending, groups by first id.

    ``rows`` are ``(id, ordering_key, plugin)`` in ascending id order; a delivery without an ordering key
    is a group of its own. This is the unit a broker message never splits (one worker runs a group in order).
    """
    groups: dict[tuple[str | None, str, int], list[int]] = {}
    for delivery_id, okey, plugin in rows:
        groups.setdefault((okey, plugin, 0 if okey is not None else delivery_id), []).append(delivery_id)
    return list(groups.values())
