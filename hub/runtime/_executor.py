"""Executing deliveries on a worker: order check, batched claim, hook call with a timeout, retries, drain.

A broker message carries *groups*: the ids of deliveries of one (ordering key, plugin), in order. The
executor handles the whole message as one batch, in two write transactions whatever its size (the rules
apply per (ordering key, plugin)):

1. **claim** (one transaction): the message's rows and the unfinished deliveries of its keys up to its
   last id are read (two queries); per group, the leading run of ``queued``/``running`` rows that no
   unfinished delivery outside the group precedes becomes ``running`` with ``attempts + 1`` in ONE
   ``UPDATE ... RETURNING``, and their events (with the agent row and the referenced snapshot) are read
   in ONE query. Group rows behind an earlier unfinished delivery go back to ``pending`` without
   consuming an attempt (the worker finishing the earlier one drains them, or the relay republishes
   them); rows already finished (a duplicate message) are skipped. A ``running`` row is a redelivery
   after a worker died: such a group is claimed one ``running`` row at a time, and a delivery claimed
   past its attempt limit that way becomes a dead letter without running. The ``UPDATE`` re-checks each
   row's status; a row that changed since the reads gives back the rows behind it (no row locks needed);
2. **run** the hooks in id order, each bounded by its plugin's ``hook_timeout`` (``SIGALRM`` on the main
   thread of a prefork pool process, a helper thread elsewhere), none after the time budget;
3. **record** (one transaction): the successes in one statement; a failure stops the rest of its
   (ordering key, plugin): the failed delivery is retried at ``now + U(0, min(backoff_max, backoff_base ·
   2^(attempt-1)))`` (exponential backoff, full jitter, kept in the database) or, at the plugin's attempt
   limit, becomes a dead letter (which does not block what follows); the claimed deliveries behind a
   retry go back to ``pending`` with their ``attempts`` restored (they were counted at the claim but did
   not run). The same transaction claims the next ready deliveries of the keys that completed (the
   *drain*, run after the message's own deliveries), so a contact's hook calls follow each other without
   a relay round trip.

On PostgreSQL these transactions commit with ``synchronous_commit = off`` (see ``Executor``).

At-least-once: a worker killed after running hook *k* of a claimed batch but before recording it leaves
the whole batch ``running``; the redelivered message (or the relay's stale requeue) runs every one of
them again, with the same idempotency keys, each attempt counted again (also for the hooks that had not
run yet). A long batch records its progress every :data:`FLUSH_SECONDS`, which bounds that window.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from hub._agent import AgentStateChange
from hub._contact import ContactSnapshot
from hub._data import AgentConfiguration, AgentData, ContactData, decode_configuration, decode_snapshot
from hub._session import AgentSession
from hub.config import WorkersSettings
from hub.db import mark_failed, session_scope, status_among
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
#: Agent sessions kept per message for the deliveries of the same input (see ``Executor._sessions``).
SESSION_CACHE_LIMIT = 256
#: Deliveries claimed per drain transaction.
DRAIN_BATCH = 50
#: Seconds a delivery deferred for ordering waits before the relay looks at it again. The worker that
#: finishes the earlier delivery drains it, or the deferring worker's re-check takes it; the relay is
#: the backstop when neither can (a worker lost between the two, a message out of time). It keeps a
#: delivery whose key is still blocked in the outbox (``hold_blocked``), so a short wait costs only its
#: poll (was 1 s: the bench's per-contact-order worst case then showed single 1-second tails).
DEFER_SECONDS = 0.2
#: A batch running longer than this records its progress (and refreshes its claimed rows) between hooks.
FLUSH_SECONDS = 2.0

_LIVE = ("pending", "queued", "running", "retrying")
_CLAIMABLE = ("queued", "running")
_READY = ("pending", "retrying")
_DONE = ("succeeded", "dead")

Pair = tuple[str, str]
"""(ordering key, plugin)."""

#: PostgreSQL: the worker's transactions do not wait for the WAL flush (see ``Executor.async_commit``).
_ASYNC_COMMIT = sa.text("SET LOCAL synchronous_commit TO OFF")


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

    @property
    def pair(self) -> Pair | None:
        return None if self.ordering_key is None else (self.ordering_key, self.plugin)


@dataclass(slots=True)
class _Batch:
    """Claimed deliveries (id order) and their event rows by event id."""

    rows: list[_Claimed] = field(default_factory=list)
    events: dict[int, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Result:
    claimed: _Claimed
    started: dt.datetime
    ms: float
    error: str | None = None
    retry_at: dt.datetime | None = None

    @property
    def dead(self) -> bool:
        return self.error is not None and self.retry_at is None


@dataclass(slots=True)
class _Progress:
    """What a run of a batch produced, waiting to be recorded."""

    results: list[_Result] = field(default_factory=list)
    unclaim: list[tuple[int, dt.datetime]] = field(default_factory=list)
    stopped: set[Pair] = field(default_factory=set)
    """Keys whose run stopped on a retry: their later deliveries went back to the outbox."""
    cut: bool = False
    """The time budget ran out: nothing more runs or drains."""


# Statements built once (building aliases and column collections per call costs milliseconds), in two
# variants (see ``_Statements``).
_RETURNED = (
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
#: The events of a batch, each joined with its agent row and with the event holding its snapshot when
#: it refers to one (``payload["snapshot_seq"]``, see :mod:`hub.runtime._snapshots`): one lookup on
#: the unique ``(agent_key, seq)`` index.
_REF = EVENTS.alias("snapshot_event")
_EVENT_COLUMNS = (
    _e.id,
    _e.seq,
    _e.name,
    _e.payload,
    _e.contact_id,
    _e.agent_key,
    _e.occurred_at,
    _a.agent_data,
    _REF.c.payload.label("snapshot_payload"),
)
_EVENT_FROM = EVENTS.outerjoin(AGENTS, _a.key == _e.agent_key).outerjoin(
    _REF,
    sa.and_(_REF.c.agent_key == _e.agent_key, _REF.c.seq == _e.payload["snapshot_seq"].as_integer()),
)
_EVENT = sa.select(*_EVENT_COLUMNS).select_from(_EVENT_FROM).where(_e.id == sa.bindparam("eid"))
_SUCCEEDED_VALUES: dict[str, Any] = {"status": "succeeded", "finished_at": sa.bindparam("now"), "last_error": None}
#: Claimed but not run: back to the outbox, the attempt counted at the claim given back.
_UNCLAIM = (
    sa.update(DELIVERIES)
    .where(_d.id == sa.bindparam("did"), _d.status == "running")
    .values(
        status="pending",
        attempts=sa.case((_d.attempts > 0, _d.attempts - 1), else_=0),
        next_attempt_at=sa.bindparam("due"),
    )
)


def _utc_text(value: dt.datetime) -> str:
    if value.tzinfo is None:  # as hub.db's UTCDateTime
        raise ValueError(f"naive datetime {value!r}: the hub stores aware UTC timestamps only")
    return value.astimezone(dt.UTC).isoformat()


class _ArrayText(sa.types.TypeDecorator[Sequence[Any]]):
    """PostgreSQL: a list bound as the text of an array literal (``{1,2,3}``), cast to the array in SQL.

    psycopg dumps a list element by element, choosing a dumper per element (~0.7 µs an id, ~2.5 µs a
    timestamp, with its C implementation); joining the text costs a fraction of that. Only for elements
    whose text never needs quoting in an array literal: integers, floats and (aware, ISO 8601) timestamps.
    """

    impl = sa.Text
    cache_ok = True

    def __init__(self, element: str) -> None:
        super().__init__()
        self.element = element
        self._format: Callable[[Any], str] = _utc_text if element == "timestamptz" else repr

    def process_bind_param(self, value: Sequence[Any] | None, dialect: sa.Dialect) -> str | None:
        """``{e1,e2,...}``."""
        return None if value is None else "{" + ",".join(map(self._format, value)) + "}"


def _array(name: str, element: str, type_: Any) -> sa.ColumnElement[Any]:
    """The PostgreSQL array parameter ``name`` of ``element`` (``bigint``, ``float8``, ``timestamptz``)."""
    return sa.cast(sa.bindparam(name, type_=_ArrayText(element)), postgresql.ARRAY(type_))


@dataclass(frozen=True, slots=True)
class _Statements:
    """The executor's statements that take lists, for one dialect.

    SQLite has no arrays: a list is an expanding ``IN``, which SQLAlchemy re-renders for every call
    (and whose SQL differs with the list's length). PostgreSQL gets each list of ids as ONE array
    parameter (``id = ANY(:ids)``, read by primary key whatever the plan): constant SQL text, no
    per-call rendering, and psycopg reuses its prepared statements; the successes of a batch are one
    ``UPDATE ... FROM unnest(...)`` instead of an executemany of one statement per delivery. The
    status filters are :func:`hub.db.status_among`'s, rendered into the SQL once.
    """

    postgres: bool
    members: sa.Select[Any]
    live_upto: sa.Select[Any]
    """The unfinished deliveries of some ordering keys up to an id, oldest first (the order check)."""
    live_head: sa.Select[Any]
    """The first unfinished deliveries of some ordering keys, oldest first (the drain)."""
    live_head_settled: sa.Select[Any]
    """:attr:`live_head` waiting for transactions that changed those rows (``FOR UPDATE`` on PostgreSQL)."""
    claim: sa.UpdateBase
    claim_ready: sa.UpdateBase
    events: sa.Select[Any]
    succeeded: sa.UpdateBase
    defer: sa.UpdateBase
    """Sent but never claimed (behind an earlier unfinished delivery): back to the outbox, no attempt."""
    orphans: sa.UpdateBase
    """Left ``running`` by a lost worker, not claimed again here: back to the outbox (attempts as counted)."""
    touch: sa.UpdateBase

    def succeeded_params(self, now: dt.datetime, results: Sequence[_Result]) -> Any:
        """The parameters of :attr:`succeeded` for ``results`` (all successes)."""
        if self.postgres:
            return {
                "now": now,
                "ids": [r.claimed.id for r in results],
                "started": [r.started for r in results],
                "ms": [r.ms for r in results],
            }
        return [{"did": r.claimed.id, "started": r.started, "now": now, "ms": r.ms} for r in results]


def _statements(*, postgres: bool) -> _Statements:
    def among(column: sa.ColumnElement[int], name: str) -> sa.ColumnElement[bool]:
        if postgres:
            return column == sa.any_(_array(name, "bigint", sa.BigInteger))
        return column.in_(sa.bindparam(name, expanding=True))

    dialect = postgresql.psycopg.dialect() if postgres else sqlite.dialect()  # type: ignore[no-untyped-call]

    def status_is(*statuses: str) -> sa.ColumnElement[bool]:
        # status_among's filter with its IN list rendered into the SQL once: as a parameter, SQLAlchemy
        # would expand it at every call.
        sql = status_among(*statuses).compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        return sa.literal_column(f"({sql})", sa.Boolean())

    # The caller keeps the rows of the (key, plugin) pairs it asked about. The keys stay an expanding IN on
    # PostgreSQL too: once psycopg prepares the statement, PostgreSQL may switch to a generic plan, and for
    # ``ordering_key = ANY($1) ... ORDER BY id LIMIT $2`` (an array of unknown length) that plan walks the
    # primary key through the whole table; with an IN list of known length it keeps the key index.
    live_of_keys = (
        sa.select(_d.id, _d.status, _d.ordering_key, _d.plugin, _d.next_attempt_at)
        .where(
            _d.ordering_key.in_(sa.bindparam("okeys", expanding=True)),
            _d.plugin.in_(sa.bindparam("plugins", expanding=True)),
            status_is(*_LIVE),
        )
        .order_by(_d.id)
    )

    def claim_from(statuses: tuple[str, ...]) -> sa.UpdateBase:
        return (
            sa.update(DELIVERIES)
            .where(among(_d.id, "ids"), status_is(*statuses))
            .values(status="running", attempts=_d.attempts + 1, started_at=sa.bindparam("now"))
            .returning(*_RETURNED)
        )

    def back_to_outbox(status: str) -> sa.UpdateBase:
        return (
            sa.update(DELIVERIES)
            .where(among(_d.id, "ids"), status_is(status))
            .values(status="pending", next_attempt_at=sa.bindparam("due"))
        )

    not_finished = (_d.status != "succeeded", _d.status != "dead")
    if postgres:
        rows = (
            sa.func.unnest(
                _array("ids", "bigint", sa.BigInteger),
                _array("started", "timestamptz", sa.DateTime(timezone=True)),
                _array("ms", "float8", sa.Float),
            )
            .table_valued("id", "started", "ms")
            .render_derived("v")
        )
        succeeded = (
            sa.update(DELIVERIES)
            .where(_d.id == rows.c.id, *not_finished)
            .values(**_SUCCEEDED_VALUES, started_at=rows.c.started, duration_ms=rows.c.ms)
        )
    else:
        succeeded = (
            sa.update(DELIVERIES)
            .where(_d.id == sa.bindparam("did"), *not_finished)  # executemany: no IN
            .values(**_SUCCEEDED_VALUES, started_at=sa.bindparam("started"), duration_ms=sa.bindparam("ms"))
        )
    live_head = live_of_keys.limit(sa.bindparam("n"))
    return _Statements(
        postgres=postgres,
        members=sa.select(_d.id, _d.status, _d.ordering_key, _d.plugin).where(among(_d.id, "ids")),
        live_upto=live_of_keys.where(_d.id <= sa.bindparam("last")),
        live_head=live_head,
        # SQLite runs one write transaction at a time: nothing to wait for there.
        live_head_settled=live_head.with_for_update() if postgres else live_head,
        claim=claim_from(_CLAIMABLE),
        claim_ready=claim_from(_READY),
        events=sa.select(*_EVENT_COLUMNS).select_from(_EVENT_FROM).where(among(_e.id, "eids")),
        succeeded=succeeded,
        defer=back_to_outbox("queued"),
        orphans=back_to_outbox("running"),
        touch=(
            sa.update(DELIVERIES)
            .where(among(_d.id, "ids"), status_is("running"))
            .values(started_at=sa.bindparam("now"))
        ),
    )


_SQLITE_STATEMENTS = _statements(postgres=False)
_POSTGRES_STATEMENTS = _statements(postgres=True)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _call_in_thread(fn: Callable[[], object], timeout: float, label: str) -> None:
    """Run ``fn`` in a daemon thread; raise its exception, or :class:`HookTimeoutError` after ``timeout``.

    For executors not on the main thread (threads/solo pools, test harnesses): a hook that never returns
    is abandoned (its thread keeps running in the background, daemonic).
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


def _call_with_alarm(fn: Callable[[], object], timeout: float) -> None:
    """Run ``fn`` on this (main) thread; ``SIGALRM`` raises :class:`HookTimeoutError` in it after ``timeout``.

    The exception interrupts Python code and blocking calls (sleeps, socket reads: PEP 475 retries a
    call only when the handler returns). It fires again every second until ``fn`` returns, so a hook
    swallowing it does not run on for long, and a hook that swallowed it and returned still counts as
    timed out. The previous ``SIGALRM`` handler and timer (e.g. pytest-timeout's) are restored after.
    """
    state = {"armed": True, "fired": False}
    message = f"hook did not return within {timeout:g}s"

    def on_alarm(_signum: int, _frame: FrameType | None) -> None:
        if state["armed"]:
            state["fired"] = True
            raise HookTimeoutError(message)

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, max(timeout, 1e-3), 1.0)
    started = time.monotonic()
    try:
        try:
            fn()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            state["armed"] = False
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler if previous_handler is not None else signal.SIG_DFL)
        if previous_delay > 0:
            remaining = previous_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-3), previous_interval)
    if state["fired"]:
        raise HookTimeoutError(message)


def _on_main_thread() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


class Executor:
    """Runs deliveries for one worker process (see the module docstring).

    :param engine: the hub database (created after fork).
    :param plugins: this process's loaded plugins.
    :param workers: attempt limits, backoff and hook timeouts (per plugin overrides included).
    :param time_budget: seconds a message may start hooks for (``None``: no limit). Past it, the
        message's remaining deliveries go back to the outbox (no attempt consumed) and nothing more is
        drained, which bounds a task by ``time_budget`` + one hook timeout (the Celery hard time limit
        is derived from it, see :func:`hub.runtime._celery.task_time_limits`).
    :param async_commit: on PostgreSQL, commit the worker's transactions with ``synchronous_commit =
        off`` (no wait for the WAL flush, ~2-3 ms per commit here). A database crash may then lose the
        last fraction of a second of worker writes; those only move deliveries forward (claimed,
        succeeded, retrying, dead), so losing them makes the deliveries run again with the same
        idempotency keys (at least once), never lost: the deliveries themselves were committed by the
        ingest, durably.
    """

    def __init__(
        self,
        engine: Engine,
        plugins: HubPlugins,
        workers: WorkersSettings,
        *,
        rng: Callable[[], float] = random.random,
        time_budget: float | None = None,
        async_commit: bool = True,
    ) -> None:
        self.engine = engine
        self.plugins = plugins
        self.workers = workers
        self.rng = rng
        self.time_budget = time_budget
        self.async_commit = async_commit
        self._configs: dict[str, tuple[Any, AgentConfiguration]] = {}
        self._conn: Connection | None = None
        self._writer = engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        self._postgres = engine.dialect.name == "postgresql"
        self._sql = _POSTGRES_STATEMENTS if self._postgres else _SQLITE_STATEMENTS
        self._deadline: float | None = None
        self._inflight: dict[int, bool] = {}
        self._deferred_pairs: set[Pair] = set()
        # The agent sessions rebuilt for the current message, per (agent, snapshot, configuration): the
        # deliveries of one input's events to several plugins share one rebuild.
        self._sessions: dict[tuple[str, Any, int], AgentSession] = {}
        """Deliveries claimed by the current message and not recorded yet: id → whether its hook ran."""

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        """A write transaction on the connection held for the current message (one checkout, no per-use ping).

        On SQLite it starts with ``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes
        fails at once with ``database is locked`` when another process writes meanwhile.
        """
        if self._conn is None:
            with self._writer.begin() as conn:
                if self._postgres and self.async_commit:
                    conn.execute(_ASYNC_COMMIT)
                yield conn
            return
        with self._conn.begin():
            if self._postgres and self.async_commit:
                self._conn.execute(_ASYNC_COMMIT)
            yield self._conn

    # ------------------------------------------------------------------ messages
    def run_message(self, groups: Sequence[Sequence[int]]) -> DeliveryOutcome:
        """Run every group of a broker message in order, then drain what became ready."""
        self._deadline = None if self.time_budget is None else time.monotonic() + self.time_budget
        self._inflight.clear()
        self._deferred_pairs.clear()
        self._sessions.clear()
        with self._writer.connect() as conn:
            self._conn = conn
            try:
                return self._run_message([list(g) for g in groups])
            finally:
                self._conn = None

    def release(self, ids: Sequence[int]) -> int:
        """Best effort after an unexpected error: hand the message's unfinished deliveries back to the outbox.

        ``queued`` ones become ``pending``; the ones this executor claimed and did not record become
        ``pending`` too, with the attempt given back when their hook did not run.
        """
        now = _utcnow()
        try:
            with self._writer.begin() as conn:
                changed = 0
                if ids:
                    changed += int(conn.execute(self._sql.defer, {"ids": list(ids), "due": now}).rowcount)
                for did, ran in self._inflight.items():
                    if ran:
                        stmt = (
                            sa.update(DELIVERIES)
                            .where(_d.id == did, _d.status == "running")
                            .values(status="pending", next_attempt_at=now)
                        )
                        changed += int(conn.execute(stmt).rowcount)
                    else:
                        changed += int(conn.execute(_UNCLAIM, {"did": did, "due": now}).rowcount)
                self._inflight.clear()
                return changed
        except sa.exc.SQLAlchemyError:
            _log.exception("could not release deliveries %s; the relay requeues them after relay.stale_after", ids)
            return 0

    def _out_of_time(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _run_message(self, groups: list[list[int]]) -> DeliveryOutcome:
        outcome = DeliveryOutcome()
        drains: list[_Batch] = []
        # The whole message is one batch: its groups are claimed, run and recorded together (per key).
        todo = [i for group in groups for i in group]
        while todo:
            finished = False
            if not self._out_of_time():
                with self._tx() as db:
                    batch, complete, todo = self._claim_group(db, todo, outcome)
                if batch.rows:
                    drain, finished = self._run_batch(batch, outcome, drain=set() if todo else complete)
                    drains.append(drain)
            if todo and not finished:  # out of time, or stopped on a retry: the rest waits, no attempt
                due = _utcnow() + dt.timedelta(seconds=0 if self._out_of_time() else DEFER_SECONDS)
                with self._tx() as db:
                    outcome.deferred += int(db.execute(self._sql.defer, {"ids": todo, "due": due}).rowcount)
                    db.execute(self._sql.orphans, {"ids": todo, "due": due})
                break
        if self._deferred_pairs and not self._out_of_time():
            # Deferred behind an earlier delivery: if that one finished while this message deferred (its
            # worker's drain read these rows before the deferral committed), nobody else will run them
            # before the relay's next look; take them now. Exactly one claim wins (the claim re-checks).
            # The read waits for a transaction still recording the earlier delivery (it holds that row):
            # that transaction's drain read ran before the deferral committed, and this one must not read
            # the earlier delivery as running just before it commits as finished.
            with self._tx() as db:
                drains.append(self._claim_ready(db, set(self._deferred_pairs), DRAIN_BATCH, settled=True))
        budget = DRAIN_LIMIT
        for first in drains:
            batch = first
            while batch.rows and budget > 0:
                budget -= len(batch.rows)
                batch, _finished = self._run_batch(batch, outcome, drain=None if budget > 0 else set())
            if batch.rows:  # claimed for the drain, but the drain budget is spent: back to the outbox
                with self._tx() as db:
                    self._unclaim(db, [(c.id, _utcnow()) for c in batch.rows])
        return outcome

    # ------------------------------------------------------------------ claiming
    def _claim_group(
        self, db: Connection, ids: list[int], outcome: DeliveryOutcome
    ) -> tuple[_Batch, set[Pair], list[int]]:
        """Claim the runnable deliveries of a message group.

        Returns them, the keys that may be drained after them, and the group's ids left for a next
        claim: a redelivered group (rows still ``running``: the previous worker was lost mid-batch) is
        claimed one ``running`` row at a time, so a hook that kills its worker does not get the
        attempts of the deliveries behind it counted too.
        """
        if not ids:
            return _Batch(), set(), []
        now = _utcnow()
        members = sorted(db.execute(self._sql.members, {"ids": ids}).all(), key=lambda r: r.id)
        outcome.skipped += len(set(ids)) - len(members)
        by_pair: dict[Pair | None, list[Any]] = {}
        for row in members:
            by_pair.setdefault(None if row.ordering_key is None else (row.ordering_key, row.plugin), []).append(row)
        wanted: list[int] = []
        deferred: list[int] = []
        later: list[int] = []
        complete: set[Pair] = set()
        keyed = [pair for pair in by_pair if pair is not None]
        live: dict[Pair, list[Any]] = {pair: [] for pair in keyed}
        if keyed:
            params = {
                "okeys": sorted({k for k, _p in keyed}),
                "plugins": sorted({p for _k, p in keyed}),
                "last": members[-1].id,
            }
            for other in db.execute(self._sql.live_upto, params).all():
                rows_of_pair = live.get((other.ordering_key, other.plugin))
                if rows_of_pair is not None:
                    rows_of_pair.append(other)
        for pair, rows in by_pair.items():
            if pair is None:
                for row in rows:
                    if row.status in _CLAIMABLE:
                        wanted.append(row.id)
                    elif row.status in _DONE:
                        outcome.skipped += 1
                continue
            status = {row.id: row.status for row in rows}
            outcome.skipped += sum(1 for s in status.values() if s in _DONE)
            runnable = True
            careful = False
            for other in live[pair]:
                if other.id > rows[-1].id:
                    break
                if careful:
                    if other.id in status:
                        later.append(other.id)
                    continue
                # A row this message already claimed (for a drain) runs there, and so does what follows it.
                if runnable and other.id in status and other.status in _CLAIMABLE and other.id not in self._inflight:
                    wanted.append(other.id)
                    careful = other.status == "running"
                    continue
                runnable = False
                if status.get(other.id) == "queued":
                    deferred.append(other.id)
                    self._deferred_pairs.add(pair)
            if runnable and not careful:
                complete.add(pair)
        if deferred:
            due = now + dt.timedelta(seconds=DEFER_SECONDS)
            outcome.deferred += int(db.execute(self._sql.defer, {"ids": deferred, "due": due}).rowcount)
        return self._claim(db, self._sql.claim, wanted, now), complete, later

    def _claim_ready(self, db: Connection, pairs: set[Pair], limit: int, *, settled: bool = False) -> _Batch:
        """Claim the next ready deliveries of ``pairs``: per pair the leading ``pending`` or due ``retrying`` ones.

        ``settled``: read the keys' deliveries once the transactions changing them have ended
        (:attr:`_Statements.live_head_settled`).
        """
        if not pairs:
            return _Batch()
        now = _utcnow()
        params = {
            "okeys": sorted({k for k, _p in pairs}),
            "plugins": sorted({p for _k, p in pairs}),
            "n": limit * len(pairs),
        }
        wanted: list[int] = []
        taking = dict.fromkeys(pairs, 0)
        head = self._sql.live_head_settled if settled else self._sql.live_head
        for row in db.execute(head, params).all():
            pair = (row.ordering_key, row.plugin)
            count = taking.get(pair)
            if count is None or count < 0 or count >= limit:
                continue
            if row.status == "pending" or (row.status == "retrying" and row.next_attempt_at <= now):
                wanted.append(row.id)
                taking[pair] = count + 1
            else:
                taking[pair] = -1  # the key's next delivery is not ready (in flight, or a retry not due)
        return self._claim(db, self._sql.claim_ready, wanted, now)

    def _claim(self, db: Connection, statement: sa.UpdateBase, wanted: list[int], now: dt.datetime) -> _Batch:
        """Claim ``wanted`` (in id order per key) and read their events; a key stops at a row not claimed."""
        if not wanted:
            return _Batch()
        got = {row.id: row for row in db.execute(statement, {"ids": wanted, "now": now}).all()}
        # A row that changed between the order check and the claim (another transaction on PostgreSQL):
        # nothing after it may run before it, so the rows behind it are given back.
        missing = min((did for did in wanted if did not in got), default=None)
        batch = _Batch()
        giveback: list[tuple[int, dt.datetime]] = []
        for did in sorted(got):
            row = got[did]
            if missing is not None and did > missing and row.ordering_key is not None:
                giveback.append((did, now))
                continue
            batch.rows.append(
                _Claimed(
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
            )
        self._unclaim(db, giveback)
        for claimed in batch.rows:
            self._inflight[claimed.id] = False
        event_ids = sorted({c.event_id for c in batch.rows if c.event_id is not None})
        if event_ids:
            batch.events = {row.id: row for row in db.execute(self._sql.events, {"eids": event_ids}).all()}
        return batch

    # ------------------------------------------------------------------ running and recording
    def _run_batch(self, batch: _Batch, outcome: DeliveryOutcome, *, drain: set[Pair] | None) -> tuple[_Batch, bool]:
        """Run a claimed batch in order and record it.

        Returns the next ready deliveries claimed with the record, and whether every delivery of the
        batch ran (no retry stopped a key, the time budget did not cut it).

        ``drain`` names the keys whose next ready deliveries are claimed (``None``: every key of the
        batch); a key whose run stopped on a retry, or a batch cut by the time budget, drains nothing.
        """
        progress = _Progress()
        last_flush = time.monotonic()
        rows = batch.rows
        for index, claimed in enumerate(rows):
            pair = claimed.pair
            if pair is not None and pair in progress.stopped:
                continue
            if self._out_of_time():
                now = _utcnow()
                progress.unclaim.extend((c.id, now) for c in rows[index:] if c.pair not in progress.stopped)
                progress.cut = True
                break
            result = self._execute(claimed, batch.events.get(claimed.event_id) if claimed.event_id else None)
            progress.results.append(result)
            self._inflight[claimed.id] = True
            outcome.ran.append(claimed.id)
            if result.error is None:
                outcome.succeeded += 1
            elif result.dead:
                outcome.dead += 1
            else:
                outcome.retrying += 1
                if pair is not None:  # the rest of the key waits for the retry
                    progress.stopped.add(pair)
                    due = result.retry_at or _utcnow()
                    progress.unclaim.extend((c.id, due) for c in rows[index + 1 :] if c.pair == pair)
            if time.monotonic() - last_flush >= FLUSH_SECONDS and index + 1 < len(rows):
                # A long batch: record what ran, and show the claimed rows are alive (relay.stale_after).
                touch = [c.id for c in rows[index + 1 :] if c.pair is None or c.pair not in progress.stopped]
                with self._tx() as db:
                    self._record(db, progress, touch=touch)
                progress = _Progress(stopped=progress.stopped)
                last_flush = time.monotonic()
        pairs = {c.pair for c in rows if c.pair is not None} if drain is None else set(drain)
        pairs = set() if progress.cut else pairs - progress.stopped
        with self._tx() as db:
            self._record(db, progress)
            next_batch = self._claim_ready(db, pairs, DRAIN_BATCH)
        return next_batch, not progress.cut and not progress.stopped

    def _execute(self, claimed: _Claimed, event_row: Any) -> _Result:
        started = _utcnow()
        limit = self.workers.max_attempts_for(claimed.plugin)
        if claimed.attempt > limit:  # redelivered after the worker running its last attempt was lost
            reason = (
                f"attempts exhausted ({claimed.attempt - 1}/{limit}); the worker process running the last attempt"
                " was lost (killed, or stopped at the task's hard time limit)"
            )
            _log.warning("delivery %s to %s is a dead letter: %s", claimed.id, claimed.plugin, reason)
            return _Result(claimed, started, 0.0, error=reason)
        t0 = time.perf_counter()
        try:
            self._call(claimed, event_row)
        except Exception as exc:
            ms = (time.perf_counter() - t0) * 1000
            return self._failed(claimed, exc, started, ms)
        ms = (time.perf_counter() - t0) * 1000
        _log.debug("delivery %s succeeded in %.1f ms", claimed.id, ms)
        return _Result(claimed, started, ms)

    def _failed(self, claimed: _Claimed, exc: Exception, started: dt.datetime, ms: float) -> _Result:
        error = f"{type(exc).__name__}: {exc}"
        limit = self.workers.max_attempts_for(claimed.plugin)
        if claimed.attempt >= limit:
            reason = f"attempts exhausted ({claimed.attempt}/{limit}); last error: {error}"
            _log.warning("delivery %s to %s is a dead letter: %s", claimed.id, claimed.plugin, reason)
            return _Result(claimed, started, ms, error=reason)
        delay = backoff_delay(claimed.attempt, self.workers.backoff_base, self.workers.backoff_max, self.rng)
        _log.info("delivery %s attempt %s failed (%s); retry in %.2fs", claimed.id, claimed.attempt, error, delay)
        return _Result(claimed, started, ms, error=error, retry_at=_utcnow() + dt.timedelta(seconds=delay))

    def _record(self, db: Connection, progress: _Progress, *, touch: Sequence[int] = ()) -> None:
        """Write a batch's results: successes in one statement, failures, the claimed rows not run."""
        now = _utcnow()
        succeeded = [r for r in progress.results if r.error is None]
        if succeeded:
            db.execute(self._sql.succeeded, self._sql.succeeded_params(now, succeeded))
        for r in progress.results:
            if r.error is not None:
                mark_failed(
                    db, r.claimed.id, r.error, r.retry_at, dead=r.dead, now=now, started_at=r.started, duration_ms=r.ms
                )
        self._unclaim(db, progress.unclaim)
        if touch:
            db.execute(self._sql.touch, {"ids": list(touch), "now": now})
        for r in progress.results:
            self._inflight.pop(r.claimed.id, None)

    def _unclaim(self, db: Connection, rows: Sequence[tuple[int, dt.datetime]]) -> None:
        if rows:
            db.execute(_UNCLAIM, [{"did": did, "due": due} for did, due in rows])
            for did, _due in rows:
                self._inflight.pop(did, None)

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
        kwargs: dict[str, Any] = {
            "record": stored.get("data"),
            "event": stored.get("data"),
            "entry": stored.get("data"),
        }
        wire = stored_snapshot(stored, row.snapshot_payload)
        if wire is not None:
            configuration = self._configuration(agent_key, row.agent_data)
            key = (agent_key, stored.get("snapshot_seq", row.seq), id(configuration))
            session = self._sessions.get(key) if row.seq is not None else None
            if session is None:
                session = AgentSession(agent_key)
                session.apply_agent_data(AgentData(snapshot=decode_snapshot(wire), configuration=configuration))
                if row.seq is not None and len(self._sessions) < SESSION_CACHE_LIMIT:
                    self._sessions[key] = session
            kwargs["agent"] = session.agent
        else:
            session = AgentSession(agent_key)
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

        def call() -> None:
            self.plugins.call(claimed.plugin, claimed.hook, **kwargs)

        if _on_main_thread():
            _call_with_alarm(call, timeout)
        else:
            _call_in_thread(call, timeout, f"{claimed.plugin}.{claimed.hook}")
