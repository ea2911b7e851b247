"""The ingest pipeline: agent data in → core sessions → derived events → one outbox transaction.

One :meth:`Pipeline.ingest` call takes a batch of inputs (wire snapshots, configurations or normalised
agent data, each for one agent key), applies them in order to the agents' sessions, and writes in ONE
transaction:

* the events worth keeping (:func:`hub.db.is_persisted_event`) plus every event some plugin hooks;
* the contact rows (upserted, versioned by the snapshot time: stale input never overwrites newer);
* the agent rows (the latest agent data, so sessions are rebuilt after a restart) and state history;
* one delivery per (enabled plugin implementing the hook, event): the outbox, published right after the
  commit by :attr:`Pipeline.publisher` when one is set (else claimed by the relay). Its idempotency key is
  ``<agent token>/<seq>/<plugin>`` (deterministic: the per-agent event ``seq`` continues from the stored
  ``agents.last_seq``), its ordering key the contact (``<agent token>|<contact id>``) or the agent token
  (:func:`agent_token`: 16 characters standing for the agent key, which is usually a 100-character ARN).

A stored event payload holds what a worker needs to rebuild the hook arguments: the snapshot (wire
form) on the input's first persisted event and a ``snapshot_seq`` reference to it on the input's
following events (:class:`hub.runtime._snapshots.InputSnapshot`), the removed contact's data for
removal events, the old/new state names of a state change, or the pushed data. The agent
configuration is read from the agent row at execution time (it rarely changes).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

import msgspec
from sqlalchemy.engine import Engine

from hub import AgentEvents, ContactEvents, Hub
from hub._agent import AgentStateChange
from hub._contact import Contact, ContactSnapshot
from hub._data import AgentData, AgentSnapshot, ContactData
from hub._errors import MalformedAgentDataError
from hub._structs import prepare_structs
from hub.db import (
    AgentRow,
    BatchResult,
    ContactUpsert,
    DeliveryRecord,
    EventRecord,
    PreparedBatch,
    StateChange,
    is_memory_sqlite,
    is_persisted_event,
    load_agents,
    prepare_batch,
    session_scope,
    write_prepared,
)
from hub.runtime._snapshots import InputSnapshot

if TYPE_CHECKING:
    from hub import AgentSession
    from hub.plugins import HubPlugins

__all__ = [
    "AgentInput",
    "IngestResult",
    "Pipeline",
    "PipelineResetError",
    "agent_token",
    "idempotency_key",
    "ordering_key",
]

_log = logging.getLogger("connect_hub.pipeline")

InputKind = Literal["snapshot", "configuration", "agent_data"]

#: Streams contact types → contact record channel names.
_CHANNELS: Mapping[str, str] = {
    "voice": "VOICE",
    "queue_callback": "VOICE",
    "chat": "CHAT",
    "task": "TASK",
    "email": "EMAIL",
}


class AgentInput(msgspec.Struct, frozen=True):
    """One input for one agent (an immutable struct: cheap to build by the thousand).

    :param key: the agent's key (ARN or username).
    :param kind: ``snapshot`` (a ``GetAgentSnapshot`` snapshot), ``configuration`` (an agent
        configuration) or ``agent_data`` (normalised ``{snapshot, configuration}``).
    :param data: JSON text/bytes or a decoded mapping (or the typed struct).
    :param received_at: when the hub received it (epoch seconds); defaults to the pipeline clock.
    :param source: where it came from (``streams``, ``aes``, ``simulator``...), stored with the events.
    """

    key: str
    kind: InputKind
    data: Any
    received_at: float | None = None
    source: str = "streams"


@dataclass(slots=True)
class IngestResult:
    """What one :meth:`Pipeline.ingest` call did, with per-stage timings (seconds)."""

    inputs: int = 0
    events_derived: int = 0
    events_written: int = 0
    contacts_upserted: int = 0
    deliveries: int = 0
    delivery_keys: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


@lru_cache(maxsize=65_536)
def agent_token(agent_key: str) -> str:
    """A short, stable stand-in for ``agent_key`` in delivery keys: its 80-bit BLAKE2b digest in base32.

    Agent keys are ARNs of about 100 characters; the ordering and idempotency keys of every delivery
    carry the agent, and their indexes are written with every batch. 16 characters keep those index
    entries small; 80 bits make two agents sharing a token practically impossible (below 10^-14 for
    100,000 agents).
    """
    digest = hashlib.blake2b(agent_key.encode(), digest_size=10).digest()
    return base64.b32encode(digest).decode("ascii").lower()


def ordering_key(agent_key: str, contact_id: str | None) -> str:
    """The ordering key of a delivery: per contact (``<agent token>|<contact id>``) or per agent."""
    token = agent_token(agent_key)
    return f"{token}|{contact_id}" if contact_id else token


def idempotency_key(agent_key: str, seq: int, plugin: str) -> str:
    """The deterministic idempotency key of the delivery of event ``seq`` of ``agent_key`` to ``plugin``."""
    return f"{agent_token(agent_key)}/{seq}/{plugin}"


@dataclass(slots=True)
class _Agent:
    session: AgentSession
    seq: int
    contacts: dict[str, ContactData] = field(default_factory=dict)


@dataclass(slots=True)
class _Batch:
    agents: dict[str, tuple[AgentData, dt.datetime, int]] = field(default_factory=dict)
    """Latest (agent data, time, seq) per key; encoded once per key when the batch is written."""
    state_changes: list[StateChange] = field(default_factory=list)
    contacts: list[ContactUpsert] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    deliveries: list[DeliveryRecord] = field(default_factory=list)


class PipelineResetError(RuntimeError):
    """A batch was derived from sessions that an earlier batch's failed write had advanced.

    Raised by the batch's future after an earlier in-flight batch failed to be written: the sessions
    were rebuilt from the database, so this batch (and every later in-flight one) must be submitted
    again, in order, starting with the one that failed.
    """


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


class Pipeline:
    """Applies agent inputs to the core sessions and writes events, contacts, agents and the outbox.

    :param engine: the hub database (migrated).
    :param plugins: the loaded plugins; decides which events become deliveries.
    :param clock: epoch seconds (``received_at`` default, session clock).

    Batches are pipelined: :meth:`submit` decodes and derives a batch in the caller's thread and hands
    its records to one writer thread, which writes and commits it, hands its deliveries to the
    :attr:`publisher` and resolves the returned future; the caller derives the next batch meanwhile
    (the database's work runs outside the GIL). At most ``max_in_flight`` batches wait for the writer;
    batches are committed in submission order. :meth:`ingest` is ``submit(...).result()``. One pipeline
    per hub process; feed it from one thread at a time (calls are serialised by a lock).

    :param max_in_flight: batches submitted but not yet committed before :meth:`submit` waits.
    """

    def __init__(
        self,
        engine: Engine,
        plugins: HubPlugins,
        *,
        clock: Callable[[], float] = time.time,
        max_in_flight: int = 2,
    ) -> None:
        self.engine = engine
        self.plugins = plugins
        self.clock = clock
        self.hub = Hub(clock=clock)
        self._agents: dict[str, _Agent] = {}
        self._lock = threading.RLock()  # the sessions, their sequence numbers and the generation
        self._generation = 0
        self._slots = threading.BoundedSemaphore(max(1, max_in_flight))
        # An in-memory SQLite database is one per connection, so its writes stay in the caller's thread.
        self._writer = None if is_memory_sqlite(engine) else ThreadPoolExecutor(1, "connect-hub-writer")
        self._captured: list[tuple[str, Any]] = []
        self._routes: dict[str, tuple[bool, list[tuple[str, str]]]] = {}
        self._names: tuple[str, ...] | None = None
        self.after_commit: list[Callable[[IngestResult], object]] = []
        """Called (on the writer thread) with the result after each committed batch that created deliveries."""
        self.publisher: Callable[[list[list[int]]], object] | None = None
        """Hands a committed batch's deliveries to the broker (:meth:`hub.runtime.Relay.publish_committed`).

        When set, deliveries are written ``queued`` and handed to it after the commit, grouped per
        (ordering key, plugin): no relay round between the commit and the broker. When ``None`` they are
        written ``pending`` for the relay to claim."""

    # ------------------------------------------------------------------ sessions
    def _route(self, name: str) -> tuple[bool, list[tuple[str, str]]]:
        route = self._routes.get(name)
        if route is None:
            if name.count("::") >= 2:  # per-contact twin: the base event already reaches plugins
                route = (False, [])
            else:
                route = (is_persisted_event(name), self.plugins.deliveries_for(name))
            self._routes[name] = route
        return route

    def _restore(self, keys: Iterable[str]) -> None:
        """Create sessions for unknown keys, rebuilt from their stored agent data (no events kept)."""
        missing = sorted({k for k in keys if k not in self._agents})
        if not missing:
            return
        with session_scope(self.engine, write=False) as db:
            stored = {a.key: (a.agent_data, a.last_seq) for a in load_agents(db, missing)}
        for key in missing:
            session = self.hub.session(key)
            data, seq = stored.get(key, (None, 0))
            state = _Agent(session=session, seq=int(seq or 0))
            if data:
                try:
                    session.apply_agent_data(data)
                    snapshot = session.require_data().snapshot
                    state.contacts = {c.contact_id: c for c in snapshot.contacts}
                except MalformedAgentDataError:
                    _log.warning("stored agent data of %s is unreadable; starting fresh", key)
            for name in self._captured_names():
                session.bus.subscribe(name, self._capture)
            self._agents[key] = state

    def _captured_names(self) -> tuple[str, ...]:
        """The engine's events worth capturing: kept in the event log or hooked by an enabled plugin.

        Subscribing to these only (not to every event) spares the engine the per-update refresh
        dispatches nobody stores or hooks; the captured events and their order are the same.
        """
        if self._names is None:
            names = {e.value for e in AgentEvents} | {e.value for e in ContactEvents}
            self._names = tuple(sorted(n for n in names if any(self._route(n))))
        return self._names

    def _capture(self, data: Any, name: str) -> None:
        self._captured.append((name, data))

    # ------------------------------------------------------------------ ingest
    def ingest(self, inputs: Sequence[AgentInput]) -> IngestResult:
        """Apply ``inputs`` in order and write everything they caused in one transaction; wait for it.

        Malformed inputs are skipped and reported in :attr:`IngestResult.errors` (their index and
        message); the others are written. Raises only for database errors: nothing is written then,
        and the in-memory sessions are reset (rebuilt from the database on next use), so sending the
        same inputs again writes the same events.
        """
        return self.submit(inputs).result()

    def submit(self, inputs: Sequence[AgentInput]) -> Future[IngestResult]:
        """Derive ``inputs`` now and queue their write; the future resolves after the commit.

        Waits while ``max_in_flight`` batches are queued. A failed write fails its future with the
        database error, resets the sessions, and fails every later batch still in flight with
        :class:`PipelineResetError`: submit them again, in order, from the one that failed.
        """
        self._slots.acquire()
        try:
            with self._lock:
                generation = self._generation
                try:
                    result, batch = self._derive(inputs)
                except BaseException:
                    self._invalidate()  # the sessions may be part way through the batch
                    raise
            if self._writer is None:
                future: Future[IngestResult] = Future()
                try:
                    future.set_result(self._commit(batch, result, generation))
                except BaseException as exc:
                    future.set_exception(exc)
            else:
                try:
                    future = self._writer.submit(self._commit, batch, result, generation)
                except RuntimeError:  # closed: the derived batch will never be written
                    self._invalidate()
                    raise
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def close(self) -> None:
        """Wait for the batches in flight and stop the writer thread."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)

    def _derive(self, inputs: Sequence[AgentInput]) -> tuple[IngestResult, PreparedBatch]:
        result = IngestResult(inputs=len(inputs))
        t0 = time.perf_counter()
        self._restore(i.key for i in inputs)
        t1 = time.perf_counter()
        batch = _Batch()
        derive = 0.0
        for index, item in enumerate(inputs):
            ta = time.perf_counter()
            agent = self._agents[item.key]
            received = item.received_at if item.received_at is not None else self.clock()
            self._captured.clear()
            try:
                self._apply(agent.session, item, received)
            except MalformedAgentDataError as err:
                result.errors.append((index, str(err)))
                continue
            finally:
                derive += time.perf_counter() - ta
            self._record(item, agent, received, batch, result)  # also without events: contacts, agent row
        # Rows are converted here, in the caller's thread, so the writer thread only runs the statements.
        prepared = prepare_batch(
            self.engine.dialect.name,
            agents=[_agent_row(key, *latest) for key, latest in batch.agents.items()],
            state_changes=batch.state_changes,
            contacts=batch.contacts,
            events=batch.events,
            deliveries=batch.deliveries,
            deliveries_queued=self.publisher is not None,
        )
        result.contacts_upserted = len(batch.contacts)
        t2 = time.perf_counter()
        result.timings = {"restore": t1 - t0, "decode_derive": derive, "build_records": (t2 - t1) - derive}
        return result, prepared

    def _commit(self, batch: PreparedBatch, result: IngestResult, generation: int) -> IngestResult:
        """Write, commit and publish one derived batch (on the writer thread)."""
        if generation != self._generation:
            raise PipelineResetError("an earlier batch failed to be written; submit this batch again")
        t2 = time.perf_counter()
        try:
            written = self._write(batch)
        except Exception:
            # The sessions are ahead of the database now: rebuild them from it on next use, so the
            # caller's retry of the same inputs derives (and writes) the same events again.
            self._invalidate()
            raise
        t3 = time.perf_counter()
        result.events_written = written.events_inserted
        result.deliveries = len(written.delivery_ids)
        if result.deliveries and self.publisher is not None:
            self.publisher(written.delivery_groups)
        t4 = time.perf_counter()
        if result.deliveries:
            for callback in self.after_commit:
                callback(result)
        result.timings |= {"persist": t3 - t2, "publish": t4 - t3}
        return result

    def _invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._reset_sessions()

    def _write(self, batch: PreparedBatch) -> BatchResult:
        with session_scope(self.engine) as db:
            return write_prepared(db, batch)

    def reset(self) -> None:
        """Forget every in-memory session; they are rebuilt from the database on next use.

        Batches still in flight fail with :class:`PipelineResetError`.
        """
        self._invalidate()

    def _reset_sessions(self) -> None:
        self.hub.terminate()
        self.hub = Hub(clock=self.clock)
        self._agents.clear()

    @staticmethod
    def _apply(session: AgentSession, item: AgentInput, received: float) -> None:
        if item.kind == "snapshot":
            session.apply_snapshot(item.data, received_at=received)
        elif item.kind == "configuration":
            session.apply_configuration(item.data)
        elif item.kind == "agent_data":
            session.apply_agent_data(item.data)
        else:
            raise MalformedAgentDataError(f"unknown input kind {item.kind!r}")

    def _record(self, item: AgentInput, agent: _Agent, received: float, batch: _Batch, result: IngestResult) -> None:
        session = agent.session
        data = session.data
        if data is None:
            return
        snapshot = data.snapshot
        key = item.key
        occurred = snapshot.snapshot_timestamp or _utc(received)
        snapshot_fields = InputSnapshot(snapshot)
        for name, payload in self._captured:
            result.events_derived += 1
            persist, hooks = self._route(name)
            if not (persist or hooks):
                continue
            contact_id = payload.contact_id if isinstance(payload, Contact) else None
            agent.seq += 1
            seq = agent.seq
            stored: dict[str, Any] = snapshot_fields.fields(seq)
            stored["received_at"] = received
            if isinstance(payload, ContactSnapshot):
                stored["contact"] = msgspec.Raw(msgspec.json.encode(payload._get_data()))
            elif isinstance(payload, AgentStateChange):
                stored["old_state"], stored["new_state"] = payload.old_state, payload.new_state
                batch.state_changes.append(
                    StateChange(
                        agent_key=key,
                        old_state=payload.old_state,
                        new_state=payload.new_state,
                        new_state_type=snapshot.state.type,
                        occurred_at=snapshot.state.start_timestamp or occurred,
                    )
                )
            elif isinstance(payload, Mapping):
                stored["data"] = dict(payload)
            batch.events.append(
                EventRecord(
                    name=name,
                    occurred_at=occurred,
                    source=item.source,
                    agent_key=key,
                    seq=seq,
                    contact_id=contact_id,
                    payload=stored,
                )
            )
            order = ordering_key(key, contact_id)
            for plugin, hook in hooks:
                ikey = idempotency_key(key, seq, plugin)
                result.delivery_keys.append(ikey)
                batch.deliveries.append(
                    DeliveryRecord(
                        plugin=plugin,
                        hook=hook,
                        idempotency_key=ikey,
                        event_ref=(key, seq),
                        contact_id=contact_id,
                        ordering_key=order,
                    )
                )
        self._contacts(item, agent, snapshot, occurred, batch)
        batch.agents[key] = (data, occurred, agent.seq)

    @staticmethod
    def _contacts(
        item: AgentInput, agent: _Agent, snapshot: AgentSnapshot, occurred: dt.datetime, batch: _Batch
    ) -> None:
        current = {c.contact_id: c for c in snapshot.contacts}
        previous = agent.contacts
        for contact_id, contact in current.items():
            if previous.get(contact_id) == contact:
                continue
            batch.contacts.append(_contact_upsert(item.key, contact, occurred, item.source))
        agent.contacts = current


def _agent_row(key: str, data: AgentData, occurred: dt.datetime, seq: int) -> AgentRow:
    snapshot, cfg = data.snapshot, data.configuration
    profile = cfg.routing_profile
    wire: Any = msgspec.Raw(msgspec.json.encode(data))
    return AgentRow(
        key=key,
        snapshot_at=occurred,
        arn=cfg.agent_arn,
        username=cfg.username,
        name=cfg.name,
        routing_profile_arn=profile.routing_profile_arn,
        routing_profile_name=profile.name,
        state_name=snapshot.state.name,
        state_type=snapshot.state.type,
        state_started_at=snapshot.state.start_timestamp,
        next_state_name=snapshot.next_state.name if snapshot.next_state else None,
        last_seq=seq,
        agent_data=wire,
    )


def _contact_upsert(agent_key: str, c: ContactData, occurred: dt.datetime, source: str) -> ContactUpsert:
    state = c.state.type
    ts = c.state.timestamp
    return ContactUpsert(
        contact_id=c.contact_id,
        source_ts=occurred,
        source=source,
        channel=_CHANNELS.get(c.type),
        contact_type=c.type,
        initiation_method=c.initiation_method,
        queue_arn=c.queue.queue_arn if c.queue else None,
        queue_name=c.queue.name if c.queue else None,
        agent_key=agent_key,
        initial_contact_id=c.initial_contact_id,
        related_contact_id=c.related_contact_id,
        state=state,
        state_at=ts,
        enqueued_at=c.queue_timestamp,
        connected_to_agent_at=ts if state == "connected" else None,
        disconnected_at=ts if state == "ended" else None,
        attributes={name: a.value for name, a in c.attributes.items()} if c.attributes else None,
    )


prepare_structs(globals())
