"""Executing deliveries on a worker: order check, attempt bookkeeping, hook call with a timeout, retries.

A broker message carries *groups*: the ids of due deliveries of one (ordering key, plugin), in order.
For each id the executor

1. checks, in the claiming transaction, that no earlier delivery of the same ordering key and plugin
   is unfinished (:func:`hub.db.is_next_in_order`); if one is, this delivery and the rest of the group
   go back to ``pending`` without consuming an attempt (the relay or the worker finishing the earlier
   one picks them up);
2. claims it: ``queued``/``running`` → ``running`` with ``attempts + 1`` (``running`` is a redelivery
   after a worker died mid-hook: the attempt is counted again, the idempotency key is the same);
   anything else (already succeeded, dead, or made due again by the relay) means a duplicate message
   and is skipped;
3. rebuilds the hook arguments from the stored event (snapshot, removed contact, state change) and the
   agent's stored configuration, and calls ONLY that plugin's implementation, in a thread bounded by
   the plugin's hook timeout;
4. records success, or a retry at ``now + U(0, min(backoff_max, backoff_base · 2^(attempt-1)))``
   (exponential backoff, full jitter; kept in the database, not as a broker ETA), or - after the
   plugin's attempt limit - a dead letter with the reason.

After its groups, the worker *drains*: it runs the next deliveries of the same ordering key and plugin
that became ready meanwhile, so a contact's hook calls follow each other without a relay round trip.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from hub._agent import AgentStateChange
from hub._contact import ContactSnapshot
from hub._data import AgentConfiguration, AgentData, ContactData, decode_configuration, decode_snapshot
from hub._session import AgentSession
from hub.config import WorkersSettings
from hub.db import mark_failed, session_scope
from hub.db._engine import _BEGIN_OPTION as _SQLITE_BEGIN
from hub.db._models import AGENTS, DELIVERIES, EVENTS
from hub.plugins import HubPlugins
from hub.runtime._snapshots import stored_snapshot

__all__ = ["DeliveryOutcome", "Executor", "HookTimeoutError", "backoff_delay"]

_log = logging.getLogger("connect_hub.worker")
_d = DELIVERIES.c
_e = EVENTS.c
_a = AGENTS.c

#: At most this many deliveries are drained after a message's own groups (keeps a task bounded).
DRAIN_LIMIT = 200
#: Seconds a delivery deferred for ordering waits before the relay looks at it again.
DEFER_SECONDS = 1.0


# Statements built once (building aliases and column collections per call costs milliseconds).
_IS_NEXT = sa.text(
    "SELECT NOT EXISTS (SELECT 1 FROM deliveries AS earlier JOIN deliveries AS this"
    " ON earlier.ordering_key = this.ordering_key AND earlier.plugin = this.plugin"
    " WHERE this.id = :id AND earlier.id < this.id"
    " AND earlier.status IN ('pending', 'queued', 'running', 'retrying'))"
)
_CLAIM = (
    sa.update(DELIVERIES)
    .where(_d.id == sa.bindparam("did"), _d.status.in_(("queued", "running")))
    .values(status="running", attempts=_d.attempts + 1, started_at=sa.bindparam("now"))
    .returning(
        _d.id,
        _d.plugin,
        _d.hook,
        _d.attempts,
        _d.idempotency_key,
        _d.ordering_key,
        _d.event_id,
        _d.contact_id,
        _d.payload,
    )
)
#: The event holding the snapshot an event refers to (``payload["snapshot_seq"]``, see
#: :mod:`hub.runtime._snapshots`): one lookup on the unique ``(agent_key, seq)`` index.
_REF = EVENTS.alias("snapshot_event")
_EVENT = (
    sa.select(
        _e.name,
        _e.payload,
        _e.contact_id,
        _e.agent_key,
        _e.occurred_at,
        _a.agent_data,
        _REF.c.payload.label("snapshot_payload"),
    )
    .select_from(
        EVENTS.outerjoin(AGENTS, _a.key == _e.agent_key).outerjoin(
            _REF,
            sa.and_(_REF.c.agent_key == _e.agent_key, _REF.c.seq == _e.payload["snapshot_seq"].as_integer()),
        )
    )
    .where(_e.id == sa.bindparam("eid"))
)
_HEAD = (
    sa.select(_d.id, _d.status, _d.next_attempt_at)
    .where(
        _d.ordering_key == sa.bindparam("okey"),
        _d.plugin == sa.bindparam("plugin"),
        _d.status.in_(("pending", "queued", "running", "retrying")),
    )
    .order_by(_d.id)
    .limit(1)
)
_TAKE = (
    sa.update(DELIVERIES)
    .where(_d.id == sa.bindparam("did"), _d.status.in_(("pending", "retrying")))
    .values(status="queued", queued_at=sa.bindparam("now"))
)
_SUCCEEDED = (
    sa.update(DELIVERIES)
    .where(_d.id == sa.bindparam("did"), _d.status.not_in(("succeeded", "dead")))
    .values(status="succeeded", finished_at=sa.bindparam("now"), last_error=None, duration_ms=sa.bindparam("ms"))
)


class HookTimeoutError(Exception):
    """A hook ran longer than its plugin's ``hook_timeout``."""


def backoff_delay(attempt: int, base: float, ceiling: float, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retrying after failed attempt ``attempt`` (1-based): full jitter."""
    return float(rng() * min(ceiling, base * (2 ** max(0, attempt - 1))))


@dataclass(slots=True)
class DeliveryOutcome:
    """Counts of what a message (or drain) did."""

    succeeded: int = 0
    retrying: int = 0
    dead: int = 0
    skipped: int = 0
    deferred: int = 0
    ran: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    plugin: str
    hook: str
    attempt: int
    idempotency_key: str
    ordering_key: str | None
    event_id: int | None
    contact_id: str | None
    payload: dict[str, Any] | None


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _call_with_timeout(fn: Callable[[], object], timeout: float, label: str) -> None:
    """Run ``fn`` in a daemon thread; raise its exception, or :class:`HookTimeoutError` after ``timeout``.

    A hook that never returns is abandoned (its thread keeps running in the background, daemonic);
    the worker goes on with the next delivery.
    """
    box: list[BaseException] = []

    def target() -> None:
        try:
            fn()
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=target, name=f"hook:{label}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise HookTimeoutError(f"hook did not return within {timeout:g}s")
    if box:
        raise box[0]


class Executor:
    """Runs deliveries for one worker process (see the module docstring).

    :param engine: the hub database (created after fork).
    :param plugins: this process's loaded plugins.
    :param workers: attempt limits, backoff and hook timeouts (per plugin overrides included).
    """

    def __init__(
        self,
        engine: Engine,
        plugins: HubPlugins,
        workers: WorkersSettings,
        *,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.engine = engine
        self.plugins = plugins
        self.workers = workers
        self.rng = rng
        self._configs: dict[str, tuple[Any, AgentConfiguration]] = {}
        self._conn: Connection | None = None
        self._writer = engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A write transaction on the connection held for the current message (one checkout, no per-use ping).

        On SQLite it starts with ``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes
        fails at once with ``database is locked`` when another process writes meanwhile.
        """
        if self._conn is None:
            with self._writer_engine().begin() as conn:
                yield conn
            return
        with self._conn.begin():
            yield self._conn

    def _writer_engine(self) -> Engine:
        return self._writer

    # ------------------------------------------------------------------ messages
    def run_message(self, groups: Sequence[Sequence[int]]) -> DeliveryOutcome:
        """Run every group of a broker message in order, then drain what became ready."""
        with self._writer_engine().connect() as conn:
            self._conn = conn
            try:
                return self._run_message(groups)
            finally:
                self._conn = None

    def release(self, ids: Sequence[int]) -> int:
        """Best effort after an unexpected error: make still-``queued`` deliveries ``pending`` again."""
        try:
            with self._writer.begin() as conn:
                result = conn.execute(
                    sa.update(DELIVERIES)
                    .where(_d.id.in_(list(ids)), _d.status == "queued")
                    .values(status="pending", next_attempt_at=_utcnow())
                )
                return int(result.rowcount)
        except sa.exc.SQLAlchemyError:
            _log.exception("could not release deliveries %s; the relay requeues them after relay.stale_after", ids)
            return 0

    def _run_message(self, groups: Sequence[Sequence[int]]) -> DeliveryOutcome:
        outcome = DeliveryOutcome()
        heads: list[tuple[str, str]] = []
        for group in groups:
            last = self._run_group(list(group), outcome)
            if last is not None:
                heads.append(last)
        budget = DRAIN_LIMIT
        for order_key, plugin in heads:
            budget -= self.drain(order_key, plugin, outcome, limit=budget)
            if budget <= 0:
                break
        return outcome

    def _run_group(self, ids: list[int], outcome: DeliveryOutcome) -> tuple[str, str] | None:
        """Run ``ids`` in order; returns (ordering key, plugin) when the group completed (for draining)."""
        key: tuple[str, str] | None = None
        for index, delivery_id in enumerate(ids):
            status, claimed, retry_at = self.execute(delivery_id, outcome)
            if claimed is not None and claimed.ordering_key is not None:
                key = (claimed.ordering_key, claimed.plugin)
            if status in ("blocked", "retrying"):
                rest = ids[index + (0 if status == "blocked" else 1) :]
                self._defer(rest, retry_at, outcome)
                return None
        return key

    def drain(self, order_key: str, plugin: str, outcome: DeliveryOutcome, *, limit: int = DRAIN_LIMIT) -> int:
        """Run the next ready deliveries of ``(order_key, plugin)`` (at most ``limit``); returns how many."""
        count = 0
        while count < limit:
            delivery_id = self._take_next(order_key, plugin)
            if delivery_id is None:
                break
            count += 1
            status, _claimed, _retry_at = self.execute(delivery_id, outcome)
            if status in ("blocked", "retrying", "skipped"):
                break
        return count

    # ------------------------------------------------------------------ one delivery
    def execute(self, delivery_id: int, outcome: DeliveryOutcome) -> tuple[str, _Claimed | None, dt.datetime | None]:
        """Run one delivery; returns (``succeeded``/``retrying``/``dead``/``skipped``/``blocked``, row, retry time)."""
        event_row: Any = None
        with self._tx() as db:
            if not db.execute(_IS_NEXT, {"id": delivery_id}).scalar():
                return "blocked", None, None
            claimed = self._claim(db, delivery_id)
            if claimed is not None and claimed.event_id is not None:
                event_row = db.execute(_EVENT, {"eid": claimed.event_id}).one_or_none()
        if claimed is None:
            outcome.skipped += 1
            return "skipped", None, None
        outcome.ran.append(delivery_id)
        started = time.perf_counter()
        try:
            self._call(claimed, event_row)
        except Exception as exc:
            return self._failed(claimed, exc, outcome)
        elapsed_ms = (time.perf_counter() - started) * 1000
        with self._tx() as db:
            db.execute(_SUCCEEDED, {"did": delivery_id, "now": _utcnow(), "ms": elapsed_ms})
        outcome.succeeded += 1
        _log.debug("delivery %s succeeded in %.1f ms", delivery_id, (time.perf_counter() - started) * 1000)
        return "succeeded", claimed, None

    def _failed(
        self, claimed: _Claimed, exc: Exception, outcome: DeliveryOutcome
    ) -> tuple[str, _Claimed, dt.datetime | None]:
        error = f"{type(exc).__name__}: {exc}"
        limit = self.workers.max_attempts_for(claimed.plugin)
        now = _utcnow()
        if claimed.attempt >= limit:
            reason = f"attempts exhausted ({claimed.attempt}/{limit}); last error: {error}"
            with session_scope(self.engine) as db:
                mark_failed(db, claimed.id, reason, dead=True, now=now)
            outcome.dead += 1
            _log.warning("delivery %s to %s is a dead letter: %s", claimed.id, claimed.plugin, reason)
            return "dead", claimed, None
        delay = backoff_delay(claimed.attempt, self.workers.backoff_base, self.workers.backoff_max, self.rng)
        retry_at = now + dt.timedelta(seconds=delay)
        with session_scope(self.engine) as db:
            mark_failed(db, claimed.id, error, retry_at, now=now)
        outcome.retrying += 1
        _log.info("delivery %s attempt %s failed (%s); retry in %.2fs", claimed.id, claimed.attempt, error, delay)
        return "retrying", claimed, retry_at

    def _claim(self, db: Connection, delivery_id: int) -> _Claimed | None:
        row = db.execute(_CLAIM, {"did": delivery_id, "now": _utcnow()}).one_or_none()
        if row is None:
            return None
        return _Claimed(
            id=row.id,
            plugin=row.plugin,
            hook=row.hook,
            attempt=row.attempts,
            idempotency_key=row.idempotency_key,
            ordering_key=row.ordering_key,
            event_id=row.event_id,
            contact_id=row.contact_id,
            payload=row.payload,
        )

    def _take_next(self, order_key: str, plugin: str) -> int | None:
        """Claim (as ``queued``) the earliest unfinished delivery of the key if it is ready to run now."""
        with self._tx() as db:
            row = db.execute(_HEAD, {"okey": order_key, "plugin": plugin}).one_or_none()
            if row is None:
                return None
            ready = row.status == "pending" or (row.status == "retrying" and row.next_attempt_at <= _utcnow())
            if not ready:
                return None
            changed = db.execute(_TAKE, {"did": row.id, "now": _utcnow()}).rowcount
            return int(row.id) if changed else None

    def _defer(self, ids: Sequence[int], retry_at: dt.datetime | None, outcome: DeliveryOutcome) -> None:
        """Send not-yet-run deliveries of a group back to ``pending`` (no attempt consumed)."""
        if not ids:
            return
        due = retry_at or (_utcnow() + dt.timedelta(seconds=DEFER_SECONDS))
        with self._tx() as db:
            changed = db.execute(
                sa.update(DELIVERIES)
                .where(_d.id.in_(list(ids)), _d.status == "queued")
                .values(status="pending", next_attempt_at=due)
            ).rowcount
        outcome.deferred += int(changed)

    # ------------------------------------------------------------------ the hook call
    def _configuration(self, agent_key: str, raw: Any) -> AgentConfiguration:
        cfg = (raw or {}).get("configuration") if isinstance(raw, dict) else None
        cached = self._configs.get(agent_key)
        if cached is not None and cached[0] == cfg:
            return cached[1]
        parsed = decode_configuration(cfg) if cfg else AgentConfiguration()
        self._configs[agent_key] = (cfg, parsed)
        return parsed

    def build_arguments(self, claimed: _Claimed, row: Any = None) -> tuple[str, dt.datetime, dict[str, Any]]:
        """The event name, its time and the hook's keyword arguments, rebuilt from the stored event.

        ``row`` is the event joined with its agent and with the event holding its snapshot when it
        refers to one (read in the claiming transaction), or ``None`` to read it.
        """
        if claimed.event_id is None:
            payload = claimed.payload or {}
            event = str(payload.get("event", ""))
            return event, _utcnow(), {"record": payload.get("data"), "event": payload.get("data"), "entry": None}
        if row is None:
            with session_scope(self.engine, write=False) as db:
                row = db.execute(_EVENT, {"eid": claimed.event_id}).one()
        stored: dict[str, Any] = row.payload or {}
        agent_key = row.agent_key or "unknown"
        session = AgentSession(agent_key)
        kwargs: dict[str, Any] = {
            "record": stored.get("data"),
            "event": stored.get("data"),
            "entry": stored.get("data"),
        }
        wire = stored_snapshot(stored, row.snapshot_payload)
        if wire is not None:
            snapshot = decode_snapshot(wire)
            session.apply_agent_data(
                AgentData(snapshot=snapshot, configuration=self._configuration(agent_key, row.agent_data))
            )
            kwargs["agent"] = session.agent
        if "contact" in stored:
            kwargs["contact"] = ContactSnapshot(msgspec.convert(stored["contact"], ContactData, strict=False), session)
        elif row.contact_id is not None:
            kwargs["contact"] = session.contact(row.contact_id)
        if "new_state" in stored:
            kwargs["change"] = AgentStateChange(session.agent, stored.get("old_state", ""), stored["new_state"])
        return row.name, row.occurred_at, kwargs

    def _call(self, claimed: _Claimed, row: Any = None) -> None:
        event, occurred, kwargs = self.build_arguments(claimed, row)
        kwargs.setdefault("agent", None)
        kwargs.setdefault("contact", None)
        kwargs.setdefault("change", None)
        kwargs["ctx"] = self.plugins.context(
            claimed.plugin,
            event=event,
            idempotency_key=claimed.idempotency_key,
            attempt=claimed.attempt,
            occurred_at=occurred,
        )
        timeout = self.workers.hook_timeout_for(claimed.plugin)
        _call_with_timeout(
            lambda: self.plugins.call(claimed.plugin, claimed.hook, **kwargs),
            timeout,
            f"{claimed.plugin}.{claimed.hook}",
        )
