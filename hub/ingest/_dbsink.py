"""``DatabaseSink``: the default :class:`~hub.ingest.IngestSink`, built directly on :mod:`hub.db`.

Agent Event Stream records are applied to in-process :class:`hub.AgentSession` objects (the core
engine), so the events stored are the ones the agent's browser would raise; everything one call
causes is written in one transaction (:func:`hub.db.write_prepared`), which also claims the call's
dedupe keys (:func:`hub.db.claim_receipts`).

A call is *derived* under the sink's lock (which records are new, the sessions, the rows: the
sessions are not thread-safe) and *written* by the write queue's thread (:mod:`hub.ingest._writes`),
so the next call derives while this one's database work runs. The write checks what the derivation
assumed (keys not claimed meanwhile, each agent still at the version its session started from; on
PostgreSQL the agent rows are locked ``FOR UPDATE``), so two hub processes on one database stay
correct: a conflict fails the call with a status the source retries.

Sessions and the database never disagree: a session is reused only while the database (or a call
derived but not yet written) holds the snapshot it last applied (same ``snapshot_at`` and
``last_seq``); otherwise, and after any failed write, it is rebuilt from the stored ``agent_data``
(the events of that rebuild are discarded).

Rows are written in the runtime's format (see :mod:`hub.runtime`), so its workers run the deliveries:
an agent event's payload holds the wire snapshot (on the first event of each record; the record's
following events refer to it by ``snapshot_seq``, see :mod:`hub.runtime._snapshots`), the state
names of a state change, the removed contact of a removal event; deliveries use
:func:`hub.runtime.idempotency_key` and :func:`hub.runtime.ordering_key`, and the
``hub::contact_record`` / ``hub::contact_event`` events hold the record or event as received
(``data``), which the hooks receive.

Ordering: per agent, records are applied in ``EventTimestamp`` order, and a record older than the
stored snapshot is not applied (counted as stale), so a late or replayed record never moves an agent
backwards. Contact records older than the stored contact-record version raise no hook.

Contact rows: AES contacts carry their Streams state, a contact record sets ``ended``, a contact event
the state its type implies (:data:`hub.ingest._rows.CONTACT_EVENT_STATES`); the upsert keeps ``ended``
once stored and lets a contact record apply over the live feeds (:class:`hub.db.ContactUpsert`).

Contact rows of Streams agent data (the browser bridge) follow the same rules, from the snapshot's
contacts (:func:`hub.ingest._rows.streams_contact_upserts`, ``source="streams"``).

Speed (``bench/ingest.py``): a request's records are converted before the lock, straight into the
engine's typed agent data (:func:`hub.sources.agent_events.to_engine_snapshot`; each agent's
configuration once while it does not change); a conversion failure is raised only if its record is
applied. Sessions deliver only the events stored or hooked (no refresh dispatches). The cyclic garbage
collector is paused while a request is decoded and applied (:func:`hub.ingest._http.collector_paused`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub import AgentEvents, AgentSession, AgentStateChange, Contact, ContactEvents, ContactSnapshot, Hub, HubError
from hub._data import AgentConfiguration, AgentData, decode_agent_data, decode_configuration
from hub.db import (
    SQLITE_IDLE_CHECKPOINT_PAGES,
    BatchResult,
    ContactUpsert,
    DeliveryRecord,
    EventRecord,
    PreparedBatch,
    Receipt,
    StateChange,
    agent_versions,
    checkpoint_sqlite,
    claim_receipts,
    is_memory_sqlite,
    is_persisted_event,
    prepare_batch,
    session_scope,
    stored_receipts,
    utcnow,
    write_batch,
    write_prepared,
)
from hub.db._models import AGENTS, CONTACTS
from hub.hookspecs import CONTACT_EVENT, CONTACT_RECORD_EVENT
from hub.ingest._http import collector_paused
from hub.ingest._rows import (
    aes_contact_upserts,
    agent_row,
    check_row,
    contact_event_upsert,
    contact_record_upsert,
    digest,
    streams_contact_upserts,
)
from hub.ingest._sink import ContactRecordInput, IngestResult
from hub.ingest._writes import WriteConflictError, WriteQueue
from hub.runtime import idempotency_key, ordering_key
from hub.runtime._snapshots import InputSnapshot
from hub.sources import contact_events, contact_records
from hub.sources._util import parse_timestamp
from hub.sources.agent_events import AgentEvent, to_configuration, to_engine_snapshot
from hub.sources.contact_events import ContactEvent
from hub.sources.errors import MalformedRequestError, SourceError, SourceUnavailableError

__all__ = ["DatabaseSink", "HookRouter"]

_log = logging.getLogger(__name__)


class HookRouter(Protocol):
    """Which plugin hooks an event becomes (:class:`hub.plugins.HubPlugins` is one)."""

    def deliveries_for(self, event: str) -> list[tuple[str, str]]:
        """The ``(plugin, hook)`` pairs an event becomes, one delivery each."""
        ...


@dataclass(slots=True)
class _Captured:
    name: str
    payload: dict[str, Any]
    contact_id: str | None
    hooks: list[tuple[str, str]]


@dataclass(slots=True)
class _AgentState:
    snapshot_at: dt.datetime | None
    last_seq: int


@dataclass(slots=True)
class _AgentBatch:
    """What one call writes."""

    agents: list[Any] = field(default_factory=list)
    state_changes: list[StateChange] = field(default_factory=list)
    contacts: list[Any] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    deliveries: list[DeliveryRecord] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _AgentInput:
    """One agent data input, converted before the transaction (outside the lock).

    A conversion failure is kept, not raised: it is raised only when the input is applied, so a stale
    or duplicate input is skipped exactly as if it had not been converted.
    """

    at: dt.datetime | None  #: ``None``: the input's time is unusable (``failure`` says why)
    label: str
    source: str
    data: AgentData | None  #: what the session applies (``None``: see ``failure``)
    arn: str | None
    contacts: list[ContactUpsert]
    failure: SourceError | None = None

    def require(self) -> AgentData:
        """The converted data, or the conversion's error (400)."""
        if self.data is None:
            raise self.failure or MalformedRequestError(f"{self.label}: not convertible")
        return self.data


class _Configurations:
    """The engine configuration of each agent, converted once per distinct AES ``Configuration``.

    An agent's configuration rarely changes, while every AES record repeats it: comparing the decoded
    ``Configuration`` (a C-level struct comparison) replaces building and validating it again. Safe
    across threads (a race converts twice).
    """

    def __init__(self) -> None:
        self._by_agent: dict[str, tuple[Any, AgentConfiguration]] = {}

    def get(self, event: AgentEvent) -> AgentConfiguration:
        """``decode_configuration(to_configuration(event))``, cached per agent.

        :raises msgspec.ValidationError: the converted configuration does not fit the engine's model.
        """
        source = _aes_configuration(event)
        cached = self._by_agent.get(event.agent_arn)
        if cached is None or cached[0] != source:
            cached = (source, decode_configuration(to_configuration(event)))
            self._by_agent[event.agent_arn] = cached
        return cached[1]

    def forget(self, key: str) -> None:
        """Drop an agent's cached configuration."""
        self._by_agent.pop(key, None)


def _aes_configuration(event: AgentEvent) -> Any:
    """The ``Configuration`` ``to_configuration`` reads (current snapshot's, else the previous one's)."""
    for snapshot in (event.current_agent_snapshot, event.previous_agent_snapshot):
        if snapshot is not None and snapshot.configuration is not None:
            return snapshot.configuration
    return None


def _aes_input(event: AgentEvent, configurations: _Configurations) -> _AgentInput:
    """Convert one AES record into the engine's agent data and its contact upserts."""
    label = f"agent event {event.event_id}"
    try:
        at = _utc(event.event_timestamp)
    except MalformedRequestError as exc:
        return _AgentInput(None, label, "aes", None, event.agent_arn, [], exc)
    try:
        data = AgentData(snapshot=to_engine_snapshot(event), configuration=configurations.get(event))
        contacts = _checked(aes_contact_upserts(event, event.agent_arn, at))
    except SourceError as exc:
        return _AgentInput(at, label, "aes", None, event.agent_arn, [], exc)
    except (OverflowError, ValueError, msgspec.ValidationError) as exc:
        return _AgentInput(at, label, "aes", None, event.agent_arn, [], MalformedRequestError(f"{label}: {exc}"))
    return _AgentInput(at, label, "aes", data, event.agent_arn, contacts)


def _streams_input(agent_key: str, data: Mapping[str, Any], received: dt.datetime) -> _AgentInput:
    """Validate Streams agent data (``{"snapshot", "configuration"}``) and convert it for the engine."""
    snapshot = data.get("snapshot") if isinstance(data, Mapping) else None
    configuration = data.get("configuration") if isinstance(data, Mapping) else None
    label = f"agent data of {agent_key[:80]}"
    if not isinstance(snapshot, Mapping) or not isinstance(configuration, Mapping):
        raise MalformedRequestError(f"{label}: snapshot and configuration are required")
    stamp = snapshot.get("snapshotTimestamp")
    try:
        at = parse_timestamp(stamp) if isinstance(stamp, str) else received
    except ValueError:
        raise MalformedRequestError(f"{label}: invalid snapshotTimestamp") from None
    arn = configuration.get("agentARN")
    arn = arn if isinstance(arn, str) else None
    try:
        decoded = decode_agent_data(dict(data))
        contacts = _checked(streams_contact_upserts(decoded.snapshot, agent_key, at))
    except SourceError as exc:
        return _AgentInput(at, label, "streams", None, arn, [], exc)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        failure = MalformedRequestError(f"{label}: malformed agent data: {exc}")
        return _AgentInput(at, label, "streams", None, arn, [], failure)
    except (OverflowError, ValueError) as exc:
        return _AgentInput(at, label, "streams", None, arn, [], MalformedRequestError(f"{label}: {exc}"))
    return _AgentInput(at, label, "streams", decoded, arn, contacts)


def _checked(contacts: list[ContactUpsert]) -> list[ContactUpsert]:
    """``contacts``, each checked against its columns (:func:`check_row`, 400 when a value does not fit)."""
    for contact in contacts:
        check_row(contact, f"contact {contact.contact_id[:80]}")
    return contacts


def _input_order(item: _AgentInput) -> tuple[dt.datetime, str]:
    assert item.at is not None
    return item.at, item.label


def _utc(value: dt.datetime) -> dt.datetime:
    try:
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    except OverflowError:
        raise MalformedRequestError(f"timestamp out of range: {value.isoformat()}") from None


class DatabaseSink:
    """Stores ingest input with :mod:`hub.db` (see the module docstring).

    :param engine: the hub database (migrated).
    :param hooks: turns event names into plugin deliveries; ``None`` writes events without deliveries.
    :param clock: the sessions' clock (epoch seconds).
    :param checkpoint_pages: SQLite only: checkpoint the WAL after an answered write when no other write
        is queued and the WAL holds at least this many pages not yet copied into the database file.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        hooks: HookRouter | None = None,
        clock: Callable[[], float] | None = None,
        checkpoint_pages: int = SQLITE_IDLE_CHECKPOINT_PAGES,
    ) -> None:
        self._engine = engine
        self._checkpoint_pages = checkpoint_pages
        self._hooks = hooks
        self._hub = Hub(clock=clock) if clock is not None else Hub()
        self._known: dict[str, _AgentState] = {}
        self._lock = threading.Lock()
        self._capture: list[_Captured] | None = None
        self._kept: dict[str, tuple[bool, list[tuple[str, str]]]] = {}
        self._postgres = engine.dialect.name == "postgresql"
        self._configurations = _Configurations()
        self._names: tuple[str, ...] | None = None
        self._groups: list[list[int]] | None = None
        # SQLite: the WAL is checkpointed on the writer thread after an answered write, once it holds
        # enough pages, so the automatic checkpoint does not land inside a request's commit (see
        # docs/sources.md).
        self._writes = WriteQueue(inline=is_memory_sqlite(engine), after_write=self._checkpoint)
        self.publisher: Callable[[list[list[int]]], object] | None = None
        """Publishes a committed transaction's deliveries (:meth:`hub.runtime.Relay.publish_committed`).

        When set, deliveries are written ``queued`` and handed to it right after the commit (outside the
        sink's lock), grouped per (ordering key, plugin); when ``None`` the relay claims them."""

    # ------------------------------------------------------------------ protocol
    def is_healthy(self) -> bool:
        """Whether a trivial query succeeds."""
        try:
            with self._engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except SQLAlchemyError:
            return False
        return True

    def ingest_agent_events(self, request_key: str | None, events: Sequence[AgentEvent]) -> IngestResult:
        """Apply AES records (see :meth:`hub.ingest.IngestSink.ingest_agent_events`).

        The records are converted before the sink's lock, and written after it (:mod:`hub.ingest._writes`),
        so a concurrent request's conversion and derivation overlap this one's database work.
        """
        with collector_paused():
            inputs: dict[str, _AgentInput] = {}
            for event in events:
                if event.event_id not in inputs:
                    inputs[event.event_id] = _aes_input(event, self._configurations)
            request = [Receipt("firehose", request_key)] if request_key is not None else []
            records = [Receipt("aes", key) for key in inputs]
            return self._derive_and_write(request, records, inputs, len(events))

    def apply_agent_data(self, agent_key: str, data: Mapping[str, Any]) -> IngestResult:
        """Apply Streams agent data (``{"snapshot", "configuration"}``, e.g. from the browser bridge).

        Same path as AES records: the agent's session raises the events, everything is written in one
        transaction, and data older than the stored snapshot (``snapshotTimestamp``) is not applied.
        """
        item = _streams_input(agent_key, data, utcnow())
        return self._derive_and_write([], [], {agent_key: item}, 1, key_of=lambda _k, _i: agent_key)

    def _checkpoint(self) -> None:
        checkpoint_sqlite(self._engine, min_pages=self._checkpoint_pages)

    def close(self) -> None:
        """Finish the writes in progress and stop the writer thread."""
        self._writes.close()

    @property
    def engine(self) -> Engine:
        """The database engine (shared with the bridge's credential store)."""
        return self._engine

    def ingest_contact_records(self, request_key: str | None, records: Sequence[ContactRecordInput]) -> IngestResult:
        """Store contact records (see :meth:`hub.ingest.IngestSink.ingest_contact_records`)."""
        return self._contact_transaction(lambda db: self._contact_records(db, request_key, records))

    def ingest_contact_event(self, event: ContactEvent, raw: Mapping[str, Any]) -> IngestResult:
        """Store a contact event (see :meth:`hub.ingest.IngestSink.ingest_contact_event`)."""
        return self._contact_transaction(lambda db: self._contact_event(db, event, raw))

    # ------------------------------------------------------------------ transactions
    def _contact_transaction(self, work: Callable[[Session], IngestResult]) -> IngestResult:
        """Run ``work`` in one transaction on the writer thread (after the writes queued before it)."""

        def run() -> IngestResult:
            groups: list[list[int]] = []
            self._groups = groups
            try:
                with session_scope(self._engine) as db:
                    result = work(db)
            except SQLAlchemyError as exc:
                _log.warning("ingest transaction failed, the source will retry: %s", exc)
                raise SourceUnavailableError() from exc
            finally:
                self._groups = None
            self._publish(groups)
            return result

        with collector_paused():
            if self._writes.inline:  # one connection: not while a request is derived on it
                with self._lock:
                    return self._writes.run(run)
            return self._writes.run(run)

    def _derive_and_write(
        self,
        request: list[Receipt],
        records: list[Receipt],
        inputs: dict[str, _AgentInput],
        count: int,
        *,
        key_of: Callable[[str, _AgentInput], str] | None = None,
    ) -> IngestResult:
        """Derive agent input under the lock, then wait for its write (see :mod:`hub.ingest._writes`).

        A request repeating a dedupe key of a request still being written waits for that write, then
        is derived again (as a duplicate if it was stored, afresh if it failed).
        """
        while True:
            waiting = self._writes.pending_for([*request, *records])
            if waiting:
                for pending in waiting:
                    pending.exception()  # wait; its outcome is read from the database next
                continue
            with self._lock:
                if self._writes.pending_for([*request, *records]):
                    continue
                derived = self._derive(request, records, inputs, count, key_of)
            if isinstance(derived, IngestResult):
                return derived
            future, result = derived
            future.result()
            return result

    def _reset_if_a_write_failed(self) -> None:
        """After a failed write, every in-memory session may be ahead of the database: rebuild them all."""
        if self._writes.take_reset():
            self._forget(set(self._known))

    def _derive(
        self,
        request: list[Receipt],
        records: list[Receipt],
        inputs: dict[str, _AgentInput],
        count: int,
        key_of: Callable[[str, _AgentInput], str] | None,
    ) -> IngestResult | tuple[Future[BatchResult], IngestResult]:
        """Which records are new, their events and rows; queues the write (under the lock)."""
        generation = self._writes.generation  # before the reset check: a failure after it makes this stale
        self._reset_if_a_write_failed()
        unwritten = self._writes.agent_states()  # before the database read (see WriteQueue.agent_states)
        touched: set[str] = set()
        try:
            with session_scope(self._engine, write=False) as db:
                if request and stored_receipts(db, request):
                    return IngestResult(duplicate_request=True, duplicates=count)
                seen = stored_receipts(db, records) if records else set()
                fresh = [key for key in inputs if Receipt("aes", key) not in seen] if records else list(inputs)
                groups: dict[str, list[_AgentInput]] = {}
                for key in fresh:
                    item = inputs[key]
                    if item.at is None:
                        item.require()
                    agent = key_of(key, item) if key_of is not None else item.arn
                    assert agent is not None
                    groups.setdefault(agent, []).append(item)
                batch, stale, before = self._apply_groups(db, groups, touched, unwritten)
            prepared = prepare_batch(
                self._engine.dialect.name,
                agents=batch.agents,
                state_changes=batch.state_changes,
                contacts=batch.contacts,
                events=batch.events,
                deliveries=batch.deliveries,
                deliveries_queued=self.publisher is not None,
            )
        except SQLAlchemyError as exc:
            self._forget_after_writes(touched)
            _log.warning("ingest transaction failed, the source will retry: %s", exc)
            raise SourceUnavailableError() from exc
        except BaseException:
            self._forget_after_writes(touched)
            raise
        claims = [*request, *(Receipt("aes", key) for key in fresh)] if records else request
        after = {key: _AgentState(self._known[key].snapshot_at, self._known[key].last_seq) for key in before}
        future = self._writes.submit(
            lambda: self._write_derived(prepared, claims, before),
            generation=generation,
            receipts=claims,
            agents=after,
            on_stale=SourceUnavailableError,
        )
        result = IngestResult(
            accepted=len(fresh) - stale,
            duplicates=count - len(fresh) if records else 0,
            stale=stale,
            events=len(batch.events),
            deliveries=len(batch.deliveries),
        )
        return future, result

    def _write_derived(
        self, prepared: PreparedBatch, claims: list[Receipt], before: dict[str, _AgentState]
    ) -> BatchResult:
        """Write a derived request (on the writer thread), checking what its derivation assumed."""
        try:
            with session_scope(self._engine) as db:
                if claims and len(claim_receipts(db, claims)) != len(claims):
                    raise WriteConflictError("a dedupe key was claimed meanwhile (another hub process)")
                stored = agent_versions(db, list(before), lock=True)
                for key, state in before.items():
                    if _AgentState(*stored.get(key, (None, 0))) != state:
                        raise WriteConflictError(f"agent {key[:80]} was written since this request was derived")
                result = write_prepared(db, prepared)
                if result.events_inserted != prepared.events.count + prepared.plain.count:
                    # e.g. two hub processes deriving the same new agent: PostgreSQL has no row to lock
                    # yet, and the second one's events would be skipped as duplicates of the first's
                    raise WriteConflictError("events of this request were written meanwhile")
        except (SQLAlchemyError, WriteConflictError) as exc:
            _log.warning("ingest transaction failed, the source will retry: %s", exc)
            raise SourceUnavailableError() from exc
        self._publish(result.delivery_groups)
        return result

    def _publish(self, groups: list[list[int]]) -> None:
        """Hand committed deliveries to the publisher; a failure there is logged, never the request's.

        The deliveries are committed ``queued``: if they cannot be handed over, the relay's stale
        requeue publishes them later.
        """
        if not groups or self.publisher is None:
            return
        try:
            self.publisher(groups)
        except Exception:
            _log.exception("handing %d committed delivery groups to the publisher failed", len(groups))

    def _forget_after_writes(self, keys: set[str]) -> None:
        """Forget the sessions of ``keys`` once the queued writes are done (their state is then stored)."""
        if keys:
            self._writes.run(lambda: None)
            self._forget(keys)

    def _write(self, db: Session, **rows: Any) -> BatchResult:
        """:func:`hub.db.write_batch` in the current transaction; its deliveries are published after the commit."""
        result = write_batch(db, deliveries_queued=self.publisher is not None, **rows)
        if self._groups is not None:
            self._groups.extend(result.delivery_groups)
        return result

    def _forget(self, keys: set[str]) -> None:
        for key in keys:
            self._known.pop(key, None)
            self._hub.remove_session(key)
            self._configurations.forget(key)

    # ------------------------------------------------------------------ agent events
    def _on_event(self, data: Any, name: str | None = None) -> None:
        capture = self._capture
        # per-contact twins (``contact::connected::<id>``) repeat the plain event: not stored twice
        if capture is None or name is None or name.count("::") > 1:
            return
        route = self._kept.get(name)
        if route is None:
            route = self._kept[name] = (is_persisted_event(name), self._routes(name))
        if not (route[0] or route[1]):
            return
        # what a worker needs to rebuild the hook arguments (the runtime's stored-event format)
        extra: dict[str, Any] = {}
        if isinstance(data, ContactSnapshot):
            extra["contact"] = msgspec.Raw(msgspec.json.encode(data._get_data()))
        elif isinstance(data, AgentStateChange):
            extra["old_state"], extra["new_state"] = data.old_state, data.new_state
        elif isinstance(data, Mapping):
            extra["data"] = dict(data)
        contact_id = data.contact_id if isinstance(data, Contact) else None
        capture.append(_Captured(str(name), extra, contact_id, route[1]))

    def _captured_names(self) -> tuple[str, ...]:
        """The engine's events worth capturing: stored in the event log or hooked by a plugin.

        Subscribing to these only (not to every event) spares the engine the refresh dispatches that
        nobody stores or hooks; the captured events and their order are the same.
        """
        if self._names is None:
            names = {e.value for e in AgentEvents} | {e.value for e in ContactEvents}
            self._names = tuple(sorted(n for n in names if is_persisted_event(n) or self._routes(n)))
        return self._names

    def _session_for(self, db: Session, key: str, state: _AgentState) -> AgentSession:
        """The agent's session, rebuilt from the stored agent data unless it reflects exactly ``state``.

        ``state`` is the agent's stored version, or the one a request not yet written leaves it in (then
        the session, which applied that request, always matches).
        """
        known = self._known.get(key)
        session = self._hub.get_session(key)
        if session is not None and known == state:
            return session
        self._hub.remove_session(key)
        session = self._hub.session(key)
        stored = state.last_seq or state.snapshot_at is not None
        agent_data = db.scalar(sa.select(AGENTS.c.agent_data).where(AGENTS.c.key == key)) if stored else None
        if agent_data:
            try:
                session.apply_agent_data(agent_data)
            except HubError:
                _log.warning("stored agent data of %s could not be replayed; starting afresh", key)
                self._hub.remove_session(key)
                session = self._hub.session(key)
        for name in self._captured_names():
            session.bus.subscribe(name, self._on_event)
        self._known[key] = _AgentState(state.snapshot_at, state.last_seq)
        return session

    def _apply_groups(
        self,
        db: Session,
        groups: dict[str, list[_AgentInput]],
        touched: set[str],
        unwritten: dict[str, _AgentState],
    ) -> tuple[_AgentBatch, int, dict[str, _AgentState]]:
        """Apply each agent's inputs (in time order) to its session; returns the rows, the stale count
        and the version each agent started from (checked again when the rows are written).

        ``unwritten``: the versions requests derived but not yet written leave agents in.
        """
        stored = agent_versions(db, list(groups.keys() - unwritten.keys()))
        batch = _AgentBatch()
        stale = 0
        before: dict[str, _AgentState] = {}
        for key in sorted(groups):
            touched.add(key)
            # a request derived before this one and not yet written may have advanced it
            start = unwritten[key] if key in unwritten else _AgentState(*stored.get(key, (None, 0)))
            session = self._session_for(db, key, start)
            state = self._known[key]
            before[key] = _AgentState(state.snapshot_at, state.last_seq)
            ordered = sorted(groups[key], key=_input_order)
            stale += len(ordered) - self._apply_agent(key, session, ordered, state, batch)
        self._check(batch)
        return batch, stale, before

    def _apply_agent(
        self,
        key: str,
        session: AgentSession,
        inputs: list[_AgentInput],
        state: _AgentState,
        batch: _AgentBatch,
    ) -> int:
        """Apply one agent's fresh inputs in order; returns how many were applied (not stale)."""
        applied = 0
        last: tuple[AgentData, str | None, dt.datetime] | None = None
        for item in inputs:
            at = item.at
            assert at is not None  # inputs without a time are refused before
            if state.snapshot_at is not None and at < state.snapshot_at:
                continue
            data = item.require()
            captured: list[_Captured] = []
            self._capture = captured
            try:
                session.apply_agent_data(data)
            except HubError as exc:
                raise MalformedRequestError(f"{item.label}: {exc}") from None
            finally:
                self._capture = None
            self._record_events(
                key, at=at, captured=captured, state=state, batch=batch, session=session, source=item.source
            )
            batch.contacts.extend(item.contacts)
            state.snapshot_at = at
            applied += 1
            last = (data, item.arn, at)
        if last is not None:
            batch.agents.append(agent_row(key, last[1], last[0], last[2], state.last_seq))
        return applied

    def _record_events(
        self,
        key: str,
        *,
        at: dt.datetime,
        captured: list[_Captured],
        state: _AgentState,
        batch: _AgentBatch,
        session: AgentSession,
        source: str,
    ) -> None:
        if not captured:
            return
        current = session.require_data().snapshot
        snapshot = InputSnapshot(current)
        received = at.timestamp()
        for item in captured:
            state.last_seq += 1
            seq = state.last_seq
            batch.events.append(
                EventRecord(
                    name=item.name,
                    occurred_at=at,
                    source=source,
                    agent_key=key,
                    seq=seq,
                    contact_id=item.contact_id,
                    payload={**snapshot.fields(seq), "received_at": received, **item.payload},
                )
            )
            if "new_state" in item.payload:
                batch.state_changes.append(
                    StateChange(
                        agent_key=key,
                        old_state=item.payload["old_state"],
                        new_state=str(item.payload["new_state"]),
                        new_state_type=current.state.type,
                        occurred_at=at,
                    )
                )
            order = ordering_key(key, item.contact_id)
            for plugin, hook in item.hooks:
                batch.deliveries.append(
                    DeliveryRecord(
                        plugin=plugin,
                        hook=hook,
                        idempotency_key=idempotency_key(key, seq, plugin),
                        event_ref=(key, seq),
                        contact_id=item.contact_id,
                        ordering_key=order,
                    )
                )

    def _routes(self, name: str) -> list[tuple[str, str]]:
        return self._hooks.deliveries_for(name) if self._hooks is not None else []

    @staticmethod
    def _check(batch: _AgentBatch) -> None:
        for agent in batch.agents:
            check_row(agent, f"agent {agent.key[:80]}")
        # the contacts are checked when their input is converted (before the transaction)
        # An event's checked columns are its name, agent and contact (seq, times and payload cannot
        # overflow); its agent is an agent row's key, checked above. So one check per distinct name or
        # contact is the same check, without 1,600 calls per 500 records.
        names: set[str] = set()
        contacts: set[str | None] = set()
        for event in batch.events:
            if event.name not in names or event.contact_id not in contacts:
                names.add(event.name)
                contacts.add(event.contact_id)
                check_row(event, "event")

    # ------------------------------------------------------------------ contact records / events
    def _stored_versions(self, db: Session, ids: list[str]) -> dict[str, tuple[str | None, dt.datetime]]:
        c = CONTACTS.c
        query = sa.select(c.contact_id, c.source, c.source_ts).where(c.contact_id.in_(ids)).order_by(c.contact_id)
        if self._postgres:
            query = query.with_for_update()
        return {row.contact_id: (row.source, row.source_ts) for row in db.execute(query)}

    def _contact_records(
        self, db: Session, request_key: str | None, records: Sequence[ContactRecordInput]
    ) -> IngestResult:
        if request_key is not None and not claim_receipts(db, [Receipt("firehose", request_key)]):
            return IngestResult(duplicate_request=True, duplicates=len(records))
        keyed: dict[str, tuple[dt.datetime, ContactRecordInput]] = {}
        for item in records:
            contact_id, at = contact_records.dedupe_key(item.record)
            keyed.setdefault(f"{contact_id}:{at.isoformat()}", (at, item))
        fresh = sorted(
            ((keyed[r.key][0], r.key, keyed[r.key][1]) for r in claim_receipts(db, [Receipt("ctr", k) for k in keyed])),
            key=lambda t: (t[0], t[1]),
        )
        stored = self._stored_versions(db, sorted({item.record.contact_id for _, _, item in fresh}))
        contacts, events, chosen = [], [], []
        for at, key, item in fresh:
            previous = stored.get(item.record.contact_id)
            if previous is not None and previous[0] == "ctr" and previous[1] > at:
                continue
            fields = contact_records.to_contact_fields(item.record)
            contacts.append(contact_record_upsert(fields, at))
            events.append(
                EventRecord(
                    name=CONTACT_RECORD_EVENT,
                    occurred_at=at,
                    source="ctr",
                    contact_id=item.record.contact_id,
                    payload={"data": dict(item.raw)},  # the hook's ``record`` argument
                )
            )
            chosen.append((key, item))
        for contact in contacts:
            check_row(contact, f"contact record {contact.contact_id[:80]}")
        result = self._write(db, contacts=contacts, events=events)
        deliveries = [
            DeliveryRecord(
                plugin=plugin,
                hook=hook,
                idempotency_key=f"ctr:{digest(key)}:{plugin}:{hook}",
                event_id=event_id,
                contact_id=item.record.contact_id,
                ordering_key=item.record.contact_id,
            )
            for (key, item), event_id in zip(chosen, result.agentless_event_ids, strict=True)
            for plugin, hook in self._routes(CONTACT_RECORD_EVENT)
        ]
        if deliveries:
            self._write(db, deliveries=deliveries)
        return IngestResult(
            accepted=len(chosen),
            duplicates=len(records) - len(fresh),
            stale=len(fresh) - len(chosen),
            events=len(events),
            deliveries=len(deliveries),
        )

    def _contact_event(self, db: Session, event: ContactEvent, raw: Mapping[str, Any]) -> IngestResult:
        if not claim_receipts(db, [Receipt("eventbridge", contact_events.dedupe_key(event))]):
            return IngestResult(duplicate_request=True, duplicates=1)
        fields = contact_events.to_contact_fields(event)
        at = fields.get("source_timestamp") or utcnow()
        contact = contact_event_upsert(fields, at)
        check_row(contact, f"contact event {event.id[:80]}")
        record = EventRecord(
            name=CONTACT_EVENT,
            occurred_at=at,
            source="eventbridge",
            contact_id=event.detail.contact_id,
            payload={"data": dict(raw)},  # the hook's ``event`` argument
        )
        check_row(record, "contact event")
        result = self._write(db, contacts=[contact], events=[record])
        deliveries = [
            DeliveryRecord(
                plugin=plugin,
                hook=hook,
                idempotency_key=f"eventbridge:{digest(event.id)}:{plugin}:{hook}",
                event_id=result.agentless_event_ids[0],
                contact_id=event.detail.contact_id,
                ordering_key=event.detail.contact_id,
            )
            for plugin, hook in self._routes(CONTACT_EVENT)
        ]
        if deliveries:
            self._write(db, deliveries=deliveries)
        return IngestResult(accepted=1, events=1, deliveries=len(deliveries))
