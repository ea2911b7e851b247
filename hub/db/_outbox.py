"""Outbox relay, worker bookkeeping and dead letters over the ``deliveries`` table.

Status flow: ``pending`` → (relay) ``queued`` → (worker) ``running`` → ``succeeded``, or ``retrying``
(due again at ``next_attempt_at``) or ``dead`` (a ``dead_letters`` row; retriable back to ``pending``).

The relay runs :func:`claim_due_deliveries` (or :func:`fetch_due_deliveries` then :func:`mark_queued`) in
a write transaction, publishes after commit, and calls :func:`requeue_stale` now and then to recover rows
whose message was lost (a publish that failed after commit, a broker that dropped it). On PostgreSQL due
rows are locked ``FOR UPDATE SKIP LOCKED``, so several relays take disjoint rows; on SQLite the write
transaction (``BEGIN IMMEDIATE``) serialises relays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ._models import DEAD_LETTERS, DELIVERIES, EVENTS
from ._records import DeadLetterView, DeliveryStatus, DeliveryView
from ._types import utcnow

__all__ = [
    "claim_due_deliveries",
    "fetch_due_deliveries",
    "get_delivery",
    "is_next_in_order",
    "list_dead_letters",
    "list_deliveries",
    "mark_deferred",
    "mark_failed",
    "mark_queued",
    "mark_running",
    "mark_succeeded",
    "next_in_order",
    "requeue_stale",
    "retry_dead_letters",
    "status_among",
]

_d = DELIVERIES.c
_dl = DEAD_LETTERS.c
_DUE = (DeliveryStatus.PENDING.value, DeliveryStatus.RETRYING.value)
_DONE = (DeliveryStatus.SUCCEEDED.value, DeliveryStatus.DEAD.value)
_LIVE = (
    DeliveryStatus.PENDING.value,
    DeliveryStatus.QUEUED.value,
    DeliveryStatus.RUNNING.value,
    DeliveryStatus.RETRYING.value,
)


def status_among(*statuses: str) -> sa.ColumnElement[bool]:
    """``deliveries.status IN (statuses)`` as a filter only, for statements that select rows by id or key.

    Written on an expression (``status || ''``), so the database cannot drive the statement from the
    ``(status, next_attempt_at)`` index. PostgreSQL did when its statistics, gathered while few
    deliveries were ``queued``, met a backlog of them (workers down, or a broker outage ending): each
    worker claim of ~40 ids then scanned every queued row (18,572 rows, ~4 ms, per message here)
    instead of reading 40 rows by primary key.
    """
    return (_d.status + "").in_(statuses)


def _view(row: sa.Row[Any]) -> DeliveryView:
    m = row._mapping
    return DeliveryView(
        id=m["id"],
        plugin=m["plugin"],
        hook=m["hook"],
        status=DeliveryStatus(m["status"]),
        idempotency_key=m["idempotency_key"],
        attempts=m["attempts"],
        event_id=m["event_id"],
        contact_id=m["contact_id"],
        ordering_key=m["ordering_key"],
        payload=m["payload"],
        last_error=m["last_error"],
        next_attempt_at=m["next_attempt_at"],
        created_at=m["created_at"],
        queued_at=m["queued_at"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        duration_ms=m["duration_ms"],
    )


def _earlier_live(outer: Any) -> sa.Exists:
    """An unfinished delivery of the same ordering key and plugin, created before ``outer``."""
    earlier = DELIVERIES.alias("earlier")
    return sa.exists().where(
        earlier.c.ordering_key == outer.ordering_key,
        earlier.c.plugin == outer.plugin,
        earlier.c.id < outer.id,
        earlier.c.status.in_(_LIVE),
    )


def fetch_due_deliveries(
    session: Session, limit: int, *, now: dt.datetime | None = None, heads_only: bool = False
) -> list[DeliveryView]:
    """Due deliveries (``pending``/``retrying`` with ``next_attempt_at <= now``), oldest first.

    PostgreSQL locks them ``FOR UPDATE SKIP LOCKED`` until the transaction ends: concurrent relays get
    disjoint rows. ``heads_only=True`` returns only deliveries with no unfinished earlier delivery of the
    same ordering key and plugin (publish-when-ready ordering).
    """
    query = (
        sa.select(DELIVERIES)
        .where(_d.status.in_(_DUE), _d.next_attempt_at <= (now or utcnow()))
        .order_by(_d.id)
        .limit(limit)
    )
    if heads_only:
        query = query.where(sa.or_(_d.ordering_key.is_(None), ~_earlier_live(_d)))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=DELIVERIES)
    return [_view(row) for row in session.execute(query)]


def mark_queued(session: Session, ids: Sequence[int], *, now: dt.datetime | None = None) -> int:
    """Record that the relay published these deliveries; returns how many changed."""
    if not ids:
        return 0
    result = session.execute(
        sa.update(DELIVERIES)
        .where(_d.id.in_(ids), status_among(*_DUE))
        .values(status=DeliveryStatus.QUEUED.value, queued_at=now or utcnow())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def claim_due_deliveries(
    session: Session, limit: int, *, now: dt.datetime | None = None, heads_only: bool = False
) -> list[DeliveryView]:
    """:func:`fetch_due_deliveries` + :func:`mark_queued` in one transaction; publish after commit."""
    now = now or utcnow()
    due = fetch_due_deliveries(session, limit, now=now, heads_only=heads_only)
    mark_queued(session, [d.id for d in due], now=now)
    return due


def mark_running(
    session: Session, delivery_id: int, attempt: int | None = None, *, now: dt.datetime | None = None
) -> int | None:
    """Start an attempt; returns its number, or ``None`` when the delivery must not run.

    ``None`` means the delivery finished already (``succeeded`` or ``dead``: a duplicate message) or
    does not exist. ``attempt`` defaults to the stored count plus one; with an explicit number the
    attempt count never decreases.
    """
    stored = sa.case((_d.attempts > attempt, _d.attempts), else_=attempt) if attempt is not None else None
    result = session.execute(
        sa.update(DELIVERIES)
        .where(_d.id == delivery_id, _d.status.not_in(_DONE))
        .values(
            status=DeliveryStatus.RUNNING.value,
            attempts=stored if stored is not None else _d.attempts + 1,
            started_at=now or utcnow(),
        )
        .returning(_d.attempts)
    )
    value = result.scalar_one_or_none()
    return None if value is None else int(value)


def _finish(
    session: Session | Connection,
    delivery_id: int,
    values: dict[str, Any],
    now: dt.datetime,
    duration_ms: float | None = None,
) -> sa.Row[Any] | None:
    duration = duration_ms
    if duration is None:
        started = session.execute(sa.select(_d.started_at).where(_d.id == delivery_id)).scalar_one_or_none()
        duration = (now - started).total_seconds() * 1000 if started is not None else None
    return session.execute(
        sa.update(DELIVERIES)
        .where(_d.id == delivery_id, _d.status.not_in(_DONE))
        .values(duration_ms=duration, **values)
        .returning(_d.plugin, _d.hook, _d.attempts, _d.payload, _d.event_id)
    ).one_or_none()


def mark_succeeded(session: Session, delivery_id: int, *, now: dt.datetime | None = None) -> bool:
    """Record a successful attempt; ``False`` if the delivery was already finished or is unknown."""
    now = now or utcnow()
    values = {"status": DeliveryStatus.SUCCEEDED.value, "finished_at": now, "last_error": None}
    return _finish(session, delivery_id, values, now) is not None


def mark_failed(
    session: Session | Connection,
    delivery_id: int,
    error: str,
    next_attempt_at: dt.datetime | None = None,
    *,
    dead: bool = False,
    now: dt.datetime | None = None,
    started_at: dt.datetime | None = None,
    duration_ms: float | None = None,
) -> bool:
    """Record a failed attempt: ``retrying`` at ``next_attempt_at`` (``None``: due now), or ``dead``.

    ``dead=True`` also writes a dead letter with ``error`` as its reason. Returns ``False`` if the
    delivery was already finished or is unknown (nothing written). A worker that recorded when the
    attempt started and how long it ran passes ``started_at`` and ``duration_ms`` (otherwise the duration
    is computed from the stored ``started_at``). Works on a session or a connection in a transaction.
    """
    now = now or utcnow()
    values: dict[str, Any] = {"last_error": error}
    if started_at is not None:
        values["started_at"] = started_at
    if dead:
        values |= {"status": DeliveryStatus.DEAD.value, "finished_at": now, "next_attempt_at": None}
    else:
        values |= {"status": DeliveryStatus.RETRYING.value, "next_attempt_at": next_attempt_at or now}
    row = _finish(session, delivery_id, values, now, duration_ms)
    if row is None:
        return False
    if dead:
        session.execute(
            sa.insert(DEAD_LETTERS).values(
                delivery_id=delivery_id,
                plugin=row.plugin,
                hook=row.hook,
                reason=error,
                attempts=row.attempts,
                payload={"event_id": row.event_id, "payload": row.payload},
                created_at=now,
            )
        )
    return True


def mark_deferred(
    session: Session, delivery_id: int, *, until: dt.datetime | None = None, now: dt.datetime | None = None
) -> bool:
    """Hand a queued delivery back to the outbox without an attempt: ``pending``, due at ``until``.

    For a worker that received a delivery which is not next in order for its key
    (:func:`is_next_in_order`); call it instead of :func:`mark_running`. Returns ``False`` if the
    delivery is not ``queued`` (already running, finished or unknown).
    """
    result = session.execute(
        sa.update(DELIVERIES)
        .where(_d.id == delivery_id, _d.status == DeliveryStatus.QUEUED.value)
        .values(status=DeliveryStatus.PENDING.value, next_attempt_at=until or now or utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def requeue_stale(session: Session, *, older_than: dt.timedelta, now: dt.datetime | None = None) -> list[int]:
    """Make ``queued``/``running`` deliveries untouched for ``older_than`` due again; returns their ids.

    For messages lost between the relay and a worker. Choose ``older_than`` well above the hook
    timeout plus the broker's redelivery delay, or a slow attempt runs twice (at-least-once, same
    idempotency key).
    """
    now = now or utcnow()
    cutoff = now - older_than
    touched = sa.func.coalesce(_d.started_at, _d.queued_at, _d.created_at)
    stale = ((_d.status == DeliveryStatus.QUEUED.value) & (sa.func.coalesce(_d.queued_at, _d.created_at) < cutoff)) | (
        (_d.status == DeliveryStatus.RUNNING.value) & (touched < cutoff)
    )
    result = session.execute(
        sa.update(DELIVERIES)
        .where(stale)
        .values(status=DeliveryStatus.RETRYING.value, next_attempt_at=now)
        .returning(_d.id)
    )
    return sorted(result.scalars())


def next_in_order(session: Session, ordering_key: str, plugin: str) -> int | None:
    """Id of the earliest unfinished delivery of ``ordering_key`` for ``plugin`` (``None``: none left)."""
    return session.execute(
        sa.select(sa.func.min(_d.id)).where(_d.ordering_key == ordering_key, _d.plugin == plugin, _d.status.in_(_LIVE))
    ).scalar_one_or_none()


def is_next_in_order(session: Session, delivery_id: int) -> bool:
    """Whether no earlier delivery of the same ordering key and plugin is unfinished.

    A worker checks this before running a delivery; when it is not next it leaves the delivery for
    later. Dead letters do not block the deliveries after them. Deliveries without an ordering key are
    always next.
    """
    this = DELIVERIES.alias("this")
    query = sa.select(sa.or_(this.c.ordering_key.is_(None), ~_earlier_live(this.c))).where(this.c.id == delivery_id)
    return bool(session.execute(query).scalar_one_or_none())


def get_delivery(session: Session, delivery_id: int) -> DeliveryView | None:
    """One delivery by id."""
    row = session.execute(sa.select(DELIVERIES).where(_d.id == delivery_id)).one_or_none()
    return None if row is None else _view(row)


def list_deliveries(
    session: Session,
    *,
    status: DeliveryStatus | str | Sequence[DeliveryStatus | str] | None = None,
    plugin: str | None = None,
    hook: str | None = None,
    contact_id: str | None = None,
    ordering_key: str | None = None,
    event_id: int | None = None,
    since: dt.datetime | None = None,
    after_id: int | None = None,
    limit: int = 100,
    newest_first: bool = False,
) -> list[DeliveryView]:
    """Deliveries matching every given filter, by id (``after_id`` pages forward, ``since`` on created_at).

    A contact's deliveries are found through the contact's events (see :func:`_contact_delivery_ids`).
    """
    query = sa.select(DELIVERIES)
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        query = query.where(_d.status.in_([str(s) for s in statuses]))
    if contact_id is not None:
        query = query.where(_d.id.in_(_contact_delivery_ids(contact_id)))
    filters = {"plugin": plugin, "hook": hook, "ordering_key": ordering_key}
    for column, value in filters.items():
        if value is not None:
            query = query.where(_d[column] == value)
    if event_id is not None:
        query = query.where(_d.event_id == event_id)
    if since is not None:
        query = query.where(_d.created_at >= since)
    if after_id is not None:
        query = query.where(_d.id < after_id if newest_first else _d.id > after_id)
    query = query.order_by(_d.id.desc() if newest_first else _d.id).limit(limit)
    return [_view(row) for row in session.execute(query)]


def _contact_delivery_ids(contact_id: str) -> sa.CompoundSelect[Any]:
    """Ids of the deliveries of ``contact_id``, each branch served by an index.

    ``deliveries.contact_id`` has no index (one fewer to update with every delivery written): the
    deliveries of the contact's events (``events (contact_id, id)``, then ``deliveries (event_id)``),
    plus the few not tied to any event (``deliveries (event_id)`` holds the ``NULL`` ones too).
    """
    contact_events = sa.select(EVENTS.c.id).where(EVENTS.c.contact_id == contact_id)
    return sa.union_all(
        sa.select(_d.id).where(_d.event_id.in_(contact_events), _d.contact_id == contact_id),
        sa.select(_d.id).where(_d.event_id.is_(None), _d.contact_id == contact_id),
    )


def _dead_filter(query: sa.Select[Any], plugin: str | None, hook: str | None, include_retried: bool) -> sa.Select[Any]:
    if plugin is not None:
        query = query.where(_dl.plugin == plugin)
    if hook is not None:
        query = query.where(_dl.hook == hook)
    if not include_retried:
        query = query.where(_dl.retried_at.is_(None))
    return query


def list_dead_letters(
    session: Session,
    *,
    plugin: str | None = None,
    hook: str | None = None,
    since: dt.datetime | None = None,
    include_retried: bool = False,
    limit: int = 100,
) -> list[DeadLetterView]:
    """Dead letters, oldest first; by default only those not retried yet."""
    query = _dead_filter(sa.select(DEAD_LETTERS), plugin, hook, include_retried)
    if since is not None:
        query = query.where(_dl.created_at >= since)
    rows = session.execute(query.order_by(_dl.id).limit(limit))
    return [DeadLetterView(**row._mapping) for row in rows]


def retry_dead_letters(
    session: Session,
    *,
    ids: Sequence[int] | None = None,
    plugin: str | None = None,
    hook: str | None = None,
    now: dt.datetime | None = None,
) -> list[int]:
    """Send dead letters back to the outbox; returns the ids of the deliveries made ``pending`` again.

    Selects open dead letters by id (``ids``) and/or plugin and hook; with no selector at all, every
    open dead letter. The delivery keeps its id and idempotency key, its attempt count restarts at 0.
    """
    now = now or utcnow()
    query = _dead_filter(sa.select(_dl.id, _dl.delivery_id), plugin, hook, include_retried=False)
    if ids is not None:
        query = query.where(_dl.id.in_(ids))
    selected = session.execute(query).all()
    if not selected:
        return []
    letter_ids = [row.id for row in selected]
    delivery_ids = sorted({row.delivery_id for row in selected})
    session.execute(sa.update(DEAD_LETTERS).where(_dl.id.in_(letter_ids)).values(retried_at=now))
    result = session.execute(
        sa.update(DELIVERIES)
        .where(_d.id.in_(delivery_ids), status_among(DeliveryStatus.DEAD.value))
        .values(
            status=DeliveryStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            queued_at=None,
            started_at=None,
            finished_at=None,
        )
        .returning(_d.id)
    )
    return sorted(result.scalars())
