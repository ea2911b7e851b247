"""An agent session: one agent's latest data, its event bus and its event engine.

A session plays both sides of the library for one agent: the SharedWorker side (wire snapshots and
configuration in, normalised agent data out: :meth:`AgentSession.apply_snapshot`,
:meth:`AgentSession.apply_configuration`) and the page side (an ``agent::update`` dispatch from which
the engine derives every event: :meth:`AgentSession.apply_agent_data`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import msgspec

from hub._actions import ActionBackend, BackendRequest, Callbacks, ScriptedBackend, invoke_backend
from hub._agent import Agent
from hub._bus import EventBus
from hub._constants import AgentEvents, EventType
from hub._contact import Contact
from hub._data import (
    AgentConfiguration,
    AgentData,
    AgentSnapshot,
    ContactData,
    decode_agent_data,
    decode_configuration,
    decode_snapshot,
)
from hub._engine import EventEngine
from hub._errors import ActionError, MalformedAgentDataError, StateError, UnsupportedActionError
from hub._validation import validate_request

if TYPE_CHECKING:
    from hub._data import ConnectionData

__all__ = ["AgentSession", "normalise_snapshot"]

_log = logging.getLogger("connect_hub.session")
_EMPTY: dict[str, ContactData] = {}


def _timestamp_ms(snapshot: AgentSnapshot) -> float | None:
    ts = snapshot.snapshot_timestamp
    return ts.timestamp() * 1000.0 if ts is not None else None


def _state_time(contact: ContactData) -> datetime:
    """The sort key of the worker's contact sort; several contacts must each have ``state.timestamp``."""
    if contact.state.timestamp is None:
        raise MalformedAgentDataError(
            f"contact {contact.contact_id!r} has no state.timestamp; a snapshot with several contacts "
            "needs one on each (the library drops such a snapshot)"
        )
    return contact.state.timestamp


def normalise_snapshot(snapshot: AgentSnapshot, received_at: float) -> AgentSnapshot:
    """Normalise a wire snapshot as the library's worker does before sending ``agent::update``.

    Sets ``localTimestamp`` (ms) and ``skew`` (``snapshotTimestamp - localTimestamp``, ms) and sorts
    contacts ascending by ``state.timestamp`` (stable) when there are several.

    :param received_at: when the snapshot was received, epoch seconds.
    :raises MalformedAgentDataError: when one of several contacts has no ``state.timestamp`` (the
        library's worker fails on such a snapshot and sends nothing).
    """
    local_ms = received_at * 1000.0
    snap_ms = _timestamp_ms(snapshot)
    skew = snap_ms - local_ms if snap_ms is not None else None
    contacts = snapshot.contacts
    if len(contacts) > 1:
        contacts = tuple(sorted(contacts, key=_state_time))
    return msgspec.structs.replace(snapshot, contacts=contacts, local_timestamp=local_ms, skew=skew)


class AgentSession:
    """One agent's session.

    :param key: the agent's key in the hub (agent ARN, username or any stable id).
    :param backend: carries out actions; a :class:`~hub.ScriptedBackend` when omitted.
    :param clock: returns the current time in epoch seconds (durations and skew use it).
    :param on_error: called with ``(event_name, exception)`` when a subscriber raises.
    """

    def __init__(
        self,
        key: str,
        *,
        backend: ActionBackend | None = None,
        clock: Callable[[], float] = time.time,
        on_error: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        self.key = key
        self.backend: ActionBackend = backend if backend is not None else ScriptedBackend()
        self.clock = clock
        self.bus = EventBus(on_error=on_error)
        self._data: AgentData | None = None
        self._index: dict[str, ContactData] = _EMPTY
        self._first: dict[str, ContactData] = _EMPTY
        self._pending_snapshot: AgentSnapshot | None = None
        self._configuration: AgentConfiguration | None = None
        self.request_listeners: list[Callable[[BackendRequest, ActionError], None]] = []
        """Called with requests rejected before reaching the backend (validation against the CTI model)."""
        self.engine = EventEngine(self)
        self.agent = Agent(self)
        """The live ``Agent`` view of this session."""

    # ------------------------------------------------------------------ data
    @property
    def data(self) -> AgentData | None:
        """The latest agent data the engine applied, or ``None`` before the first update."""
        return self._data

    @property
    def initialized(self) -> bool:
        """Whether ``agent::init`` has fired."""
        return self.engine.initialized

    def _store(self, data: AgentData) -> None:
        self._data = data
        contacts = data.snapshot.contacts
        if not contacts:
            self._index = self._first = _EMPTY
            return
        index = {c.contact_id: c for c in contacts}  # last entry wins, first position kept (JS)
        self._index = index
        self._first = index if len(index) == len(contacts) else {c.contact_id: c for c in reversed(contacts)}

    def require_data(self) -> AgentData:
        """The current agent data; :class:`~hub.StateError` before the first update."""
        if self._data is None:
            raise StateError(f"agent {self.key!r} has no agent data yet")
        return self._data

    def contact_data(self, contact_id: str) -> ContactData:
        """The current data of a contact (the first entry with that id); :class:`~hub.StateError` if gone."""
        data = self._first.get(contact_id)
        if data is None:
            raise StateError(f"Contact {contact_id} no longer exists.")
        return data

    def connection_data(self, contact_id: str, connection_id: str) -> ConnectionData:
        """The current data of a connection; :class:`~hub.StateError` if it is gone."""
        for conn in self.contact_data(contact_id).connections:
            if conn.connection_id == connection_id:
                return conn
        raise StateError(f"Connection {connection_id} for contact {contact_id} no longer exists.")

    def has_contact(self, contact_id: str) -> bool:
        """Whether the current data holds this contact."""
        return contact_id in self._first

    def contact(self, contact_id: str) -> Contact:
        """A live ``Contact`` view (it may refer to a contact that no longer exists)."""
        return Contact(contact_id, self)

    def now_ms(self) -> float:
        """The session clock in epoch milliseconds."""
        return self.clock() * 1000.0

    def duration_since(self, moment: datetime | None) -> float:
        """Milliseconds from ``moment`` to now, corrected for clock skew as the library does (NaN without one)."""
        if moment is None:
            return float("nan")
        return self.now_ms() - moment.timestamp() * 1000.0 + self.skew_ms()

    def skew_ms(self) -> float:
        """The clock skew of the latest snapshot (ms), 0 when unknown."""
        data = self._data
        skew = data.snapshot.skew if data is not None else None
        return skew if skew is not None else 0.0

    # ------------------------------------------------------------------ page side
    def apply_agent_data(self, data: AgentData | Mapping[str, Any] | bytes | str) -> None:
        """Dispatch ``agent::update`` with already-normalised agent data; the engine derives the events."""
        if not isinstance(data, AgentData):
            data = _decode_agent_data(data)
        self._configuration = data.configuration
        self.bus.trigger(AgentEvents.UPDATE, data)

    # ------------------------------------------------------------------ worker side
    def apply_snapshot(
        self,
        snapshot: AgentSnapshot | Mapping[str, Any] | bytes | str,
        *,
        received_at: float | None = None,
    ) -> bool:
        """Take a ``GetAgentSnapshot`` snapshot as the worker does; dispatch an update once configured.

        :returns: whether an ``agent::update`` was dispatched (not before a configuration is known).
        :raises MalformedAgentDataError: nothing is applied from malformed data.
        """
        parsed: AgentSnapshot = (
            snapshot if isinstance(snapshot, AgentSnapshot) else _decode(decode_snapshot, snapshot, "snapshot")
        )
        self._pending_snapshot = normalise_snapshot(parsed, self.clock() if received_at is None else received_at)
        return self._update_agent()

    def apply_configuration(self, configuration: AgentConfiguration | Mapping[str, Any] | bytes | str) -> bool:
        """Take a new agent configuration; re-sends the current snapshot with it, as the worker's poll does.

        :returns: whether an ``agent::update`` was dispatched.
        """
        if isinstance(configuration, AgentConfiguration):
            self._configuration = configuration
        else:
            self._configuration = _decode(decode_configuration, configuration, "configuration")
        return self._update_agent()

    @property
    def configuration(self) -> AgentConfiguration | None:
        """The latest configuration received (it may not have been dispatched yet)."""
        return self._configuration

    def _update_agent(self) -> bool:
        snapshot = self._pending_snapshot
        configuration = self._configuration
        if snapshot is None or configuration is None:
            return False
        self.bus.trigger(AgentEvents.UPDATE, AgentData(snapshot=snapshot, configuration=configuration))
        return True

    def inject(self, event_name: str, data: Any = None) -> None:
        """Dispatch an event the worker pushes on its own (``agent::websocket_connection_lost`` ...)."""
        self.bus.trigger(event_name, data)

    def broadcast(self, event_name: str, data: Any = None) -> None:
        """Dispatch a broadcast (``contact::accepted``, ``mute`` ...) as every tab receives it."""
        if event_name.startswith("contact::accepted") and isinstance(data, Mapping) and "contactId" in data:
            data = self.contact(str(data["contactId"]))
        self.bus.trigger(event_name, data)

    def terminate(self) -> None:
        """Drop every subscription and forget the agent data (``connect.core.terminate``)."""
        self.bus.trigger(EventType.TERMINATED)
        self.bus.unsubscribe_all()
        self._data = None
        self._index = self._first = _EMPTY
        self._pending_snapshot = None

    # ------------------------------------------------------------------ actions
    async def call(
        self,
        operation: str,
        params: Mapping[str, Any],
        callbacks: Callbacks | Mapping[str, Any] | None = None,
        *,
        failure_arg: str | None = None,
        after_success: Callable[[dict[str, Any]], object] | None = None,
    ) -> dict[str, Any] | None:
        """Carry out an action through the backend and report it as the library does.

        ``None`` members of ``params`` are dropped (as the AWS SDK does). On success the ``success``
        callback gets the response data, then ``after_success`` runs (broadcasts, reloads). On failure
        the ``failure`` callback gets the library's error value (``failure_arg`` or the error's JSON
        string); without a failure callback the :class:`~hub.ActionError` is raised.
        """
        cbs = Callbacks.coerce(callbacks)
        request = BackendRequest(operation, {k: v for k, v in params.items() if v is not None}, self.key)
        try:
            try:
                validate_request(operation, request.params)
            except ActionError as invalid:
                for listener in self.request_listeners:
                    listener(request, invalid)
                raise
            data = await invoke_backend(self.backend, request)
        except ActionError as err:
            _log.error("'%s' API request failed: %s", operation, err)
            if cbs.failure is None:
                raise
            if isinstance(err, UnsupportedActionError):
                cbs.failure("{}", {"message": err.message})  # what the library reports for a missing method
            elif failure_arg is not None:
                cbs.failure(failure_arg)
            else:
                cbs.failure(err.to_streams_error(), None)
            return None
        if cbs.success is not None:
            cbs.success(data)
        if after_success is not None:
            after_success(data)
        return data

    async def reload_configuration(self) -> None:
        """Re-read the configuration from the backend and re-send the current snapshot (config reload)."""
        request = BackendRequest("getAgentConfiguration", {}, self.key)
        try:
            response = await invoke_backend(self.backend, request)
        except ActionError as err:
            _log.error("configuration reload failed: %s", err)
            return
        raw = response.get("configuration") if isinstance(response, dict) else None
        if raw:
            self.apply_configuration(raw)
        else:
            self._update_agent()


def _decode(decoder: Callable[[Any], Any], raw: Any, what: str) -> Any:
    try:
        return decoder(dict(raw) if isinstance(raw, Mapping) else raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as err:
        raise MalformedAgentDataError(f"malformed {what}: {err}") from err


def _decode_agent_data(raw: Mapping[str, Any] | bytes | str) -> AgentData:
    result: AgentData = _decode(decode_agent_data, raw, "agent data")
    return result
