"""``Contact`` (a live view of one contact) and ``ContactSnapshot`` (frozen contact data)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hub._actions import Callbacks
from hub._connection import Connection, ConnectionSnapshot, connection_class
from hub._constants import (
    CONNECTION_ACTIVE_STATES,
    ConnectionStateType,
    ConnectionType,
    ContactEvents,
    ContactStateType,
    ContactType,
    MonitoringErrorTypes,
    MonitoringMode,
)
from hub._endpoint import Endpoint

if TYPE_CHECKING:
    from hub._bus import EventCallback, Subscription
    from hub._data import (
        Attribute,
        ChannelContext,
        ContactData,
        ContactFeatures,
        EndpointData,
        QueueRef,
        Reference,
        SegmentAttribute,
        StateInfo,
    )
    from hub._session import AgentSession

__all__ = ["Contact", "ContactSnapshot"]


def _subscriber(event: str) -> Callable[[Contact, EventCallback], Subscription]:
    def subscribe(self: Contact, callback: EventCallback) -> Subscription:
        return self._session.bus.subscribe(f"{event}::{self.contact_id}", callback)

    subscribe.__doc__ = f"Call ``callback`` on this contact's ``{event}`` (dropped when the contact is destroyed)."
    return subscribe


class Contact:
    """A contact of the agent (``connect.Contact``): getters read the session's current data.

    A getter on a contact that is no longer in the agent data raises :class:`~hub.StateError`.
    """

    __slots__ = ("_session", "contact_id")

    def __init__(self, contact_id: str, session: AgentSession) -> None:
        self.contact_id = contact_id
        self._session = session

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.contact_id}>"

    def _get_data(self) -> ContactData:
        return self._session.contact_data(self.contact_id)

    def _connection_view(self, data: ContactData, connection_id: str) -> Connection:
        return connection_class(data.type)(self.contact_id, connection_id, self._session)

    @property
    def session(self) -> AgentSession:
        """The session this contact belongs to."""
        return self._session

    def exists(self) -> bool:
        """Whether the contact is still in the agent data."""
        return self._session.has_contact(self.contact_id)

    # ------------------------------------------------------------------ getters
    def get_contact_id(self) -> str:
        """The contact id."""
        return self.contact_id

    def get_original_contact_id(self) -> str | None:
        """The initial contact id (of the first contact of a transfer chain)."""
        return self._get_data().initial_contact_id

    get_initial_contact_id = get_original_contact_id

    def get_type(self) -> str:
        """The ``ContactType``: ``voice``, ``queue_callback``, ``chat``, ``task`` or ``email``."""
        return self._get_data().type

    def get_state(self) -> StateInfo:
        """The contact state ``{type, timestamp}``."""
        return self._get_data().state

    get_status = get_state

    def get_state_duration(self) -> float:
        """Milliseconds in the current state, corrected for clock skew."""
        return self._session.duration_since(self.get_state().timestamp)

    get_status_duration = get_state_duration

    def get_contact_duration(self) -> str | None:
        """``contactDuration`` (seconds, as a string)."""
        return self._get_data().contact_duration

    def get_queue(self) -> QueueRef | None:
        """The queue ``{queueARN, name}``."""
        return self._get_data().queue

    def get_queue_timestamp(self) -> Any:
        """When the contact was queued."""
        return self._get_data().queue_timestamp

    def get_name(self) -> str | None:
        """The contact's name (tasks)."""
        return self._get_data().name

    def get_description(self) -> str | None:
        """The contact's description (tasks)."""
        return self._get_data().description

    def get_references(self) -> dict[str, Reference] | None:
        """Task references by name."""
        return self._get_data().references

    def get_attributes(self) -> dict[str, Attribute]:
        """Contact attributes by name (``{name, value}``)."""
        return self._get_data().attributes

    def get_initiation_method(self) -> str | None:
        """The ``ContactInitiationMethod``."""
        return self._get_data().initiation_method

    def get_related_contact_id(self) -> str | None:
        """The related contact id."""
        return self._get_data().related_contact_id

    def get_contact_association_id(self) -> str | None:
        """The contact association id."""
        return self._get_data().contact_association_id

    def get_customer_endpoint(self) -> EndpointData | None:
        """The customer's endpoint."""
        return self._get_data().customer_endpoint

    def get_connect_system_endpoint(self) -> EndpointData | None:
        """The Connect system endpoint."""
        return self._get_data().connect_system_endpoint

    def get_contact_features(self) -> ContactFeatures | None:
        """``contactFeatures``."""
        return self._get_data().contact_features

    def get_channel_context(self) -> ChannelContext | None:
        """``channelContext`` (tasks)."""
        return self._get_data().channel_context

    def get_segment_attributes(self) -> dict[str, SegmentAttribute] | None:
        """Segment attributes."""
        return self._get_data().segment_attributes

    def get_contact_subtype(self) -> str | None:
        """The ``connect:Subtype`` segment attribute value."""
        attrs = self.get_segment_attributes()
        sub = attrs.get("connect:Subtype") if attrs else None
        return sub.value_string if sub is not None else None

    def is_customer_first_callback(self) -> bool:
        """Whether the contact is a customer-first dialed callback."""
        return self.get_initiation_method() == "callback_customer_first_dialed"

    def is_campaign_preview(self) -> bool:
        """Whether the contact is a campaign preview."""
        return self.get_initiation_method() == "campaign_preview"

    def is_multi_party_conference_enabled(self) -> bool:
        """Whether multi-party conferencing is on for the contact."""
        features = self.get_contact_features()
        return bool(features and features.multi_party_conference_enabled)

    # ------------------------------------------------------------------ connections
    def get_connections(self) -> list[Connection]:
        """Every connection of the contact (voice, chat or task connections by contact type)."""
        data = self._get_data()
        return [self._connection_view(data, c.connection_id) for c in data.connections]

    def get_initial_connection(self) -> Connection | None:
        """The initial (customer) connection."""
        return next((c for c in self.get_connections() if c.is_initial_connection()), None)

    def get_active_initial_connection(self) -> Connection | None:
        """The initial connection when it is active."""
        conn = self.get_initial_connection()
        return conn if conn is not None and conn.is_active() else None

    def get_third_party_connections(self) -> list[Connection]:
        """Connections that are neither the initial one nor the agent's."""
        return [
            c for c in self.get_connections() if not c.is_initial_connection() and c.get_type() != ConnectionType.AGENT
        ]

    def get_single_active_third_party_connection(self) -> Connection | None:
        """The first active third-party connection."""
        return next((c for c in self.get_third_party_connections() if c.is_active()), None)

    def get_agent_connection(self) -> Connection | None:
        """The agent's own (or monitoring) connection."""
        kinds = (ConnectionType.AGENT, ConnectionType.MONITORING)
        return next((c for c in self.get_connections() if c.get_type() in kinds), None)

    def get_active_connections(self) -> list[Connection]:
        """Active connections."""
        return [c for c in self.get_connections() if c.is_active()]

    def has_two_active_participants(self) -> bool:
        """Whether exactly two connections are active."""
        return len(self.get_active_connections()) == 2

    # ------------------------------------------------------------------ predicates
    def is_connected(self) -> bool:
        """Whether the contact state is ``connected``."""
        return self.get_state().type == ContactStateType.CONNECTED

    def is_inbound(self) -> bool:
        """Whether the initial connection is inbound."""
        conn = self.get_initial_connection()
        return conn is not None and conn.get_type() == ConnectionType.INBOUND

    def is_softphone_call(self) -> bool:
        """Whether a voice contact has a softphone connection."""
        if self.get_type() not in (ContactType.VOICE, ContactType.QUEUE_CALLBACK):
            return False
        return any(c.softphone_media_info is not None for c in self._get_data().connections)

    def is_under_supervision(self) -> bool:
        """Whether a supervisor has barged in."""
        return any(
            c.get_type() != ConnectionType.AGENT and c.is_barge() and c.is_active() for c in self.get_connections()
        )

    def is_auto_accept_enabled(self) -> bool:
        """Whether the agent need not accept (voice: the agent connection's softphone auto-accept)."""
        try:
            if self.get_type() != ContactType.VOICE:
                return False
            conn = self.get_agent_connection()
            info = conn.get_softphone_media_info() if conn is not None else None
            return bool(info and info.auto_accept)
        except Exception:
            return False

    def to_snapshot(self) -> ContactSnapshot:
        """A frozen copy of this contact that no longer follows updates."""
        return ContactSnapshot(self._get_data(), self._session)

    def get_event_name(self, event: str) -> str:
        """The per-contact event name: ``<event>::<contactId>``."""
        if event not in {e.value for e in ContactEvents}:
            raise ValueError(f"{event!r} is not a ContactEvents value")
        return f"{event}::{self.contact_id}"

    # ------------------------------------------------------------------ subscriptions
    on_refresh = _subscriber(ContactEvents.REFRESH)
    on_incoming = _subscriber(ContactEvents.INCOMING)
    on_connecting = _subscriber(ContactEvents.CONNECTING)
    on_pending = _subscriber(ContactEvents.PENDING)
    on_accepted = _subscriber(ContactEvents.ACCEPTED)
    on_missed = _subscriber(ContactEvents.MISSED)
    on_ended = _subscriber(ContactEvents.ENDED)
    on_destroy = _subscriber(ContactEvents.DESTROYED)
    on_acw = _subscriber(ContactEvents.ACW)
    on_connected = _subscriber(ContactEvents.CONNECTED)
    on_error = _subscriber(ContactEvents.ERROR)

    # ------------------------------------------------------------------ actions
    async def _call(
        self, operation: str, callbacks: Callbacks | Mapping[str, Any] | None, **params: Any
    ) -> dict[str, Any] | None:
        return await self._session.call(operation, {"contactId": self.contact_id, **params}, callbacks)

    async def accept(self, callbacks: Callbacks | Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Accept the contact (``acceptContact``); on success broadcasts ``contact::accepted`` (+ twin).

        A failure is reported to the ``failure`` callback as ``"error"``, as the library does.
        """
        session, cid = self._session, self.contact_id

        def broadcast(_data: dict[str, Any]) -> None:
            session.broadcast(ContactEvents.ACCEPTED, {"contactId": cid})
            session.broadcast(f"{ContactEvents.ACCEPTED}::{cid}", {"contactId": cid})

        return await session.call(
            "acceptContact",
            {"contactId": cid},
            callbacks,
            failure_arg=ContactStateType.ERROR,
            after_success=broadcast,
        )

    async def reject(self, callbacks: Callbacks | Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Reject an incoming contact (``rejectContact``)."""
        return await self._call("rejectContact", callbacks)

    async def complete(self, callbacks: Callbacks | Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Complete the contact (``completeContact``). Deprecated by the library: use :meth:`clear`."""
        warnings.warn("contact.complete() is deprecated; use contact.clear()", DeprecationWarning, stacklevel=2)
        return await self._call("completeContact", callbacks)

    async def clear(self, callbacks: Callbacks | Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Clear the contact after contact work (``clearContact``)."""
        return await self._call("clearContact", callbacks)

    def destroy(self) -> None:
        """Deprecated no-op kept for compatibility (the library only logs a warning)."""
        warnings.warn(
            "contact.destroy() is a no-op; use connection.destroy() to hang up",
            DeprecationWarning,
            stacklevel=2,
        )

    async def notify_issue(
        self, issue_code: str, description: str, callbacks: Callbacks | Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Report an issue with the contact (``notifyContactIssue``)."""
        return await self._call("notifyContactIssue", callbacks, issueCode=issue_code, description=description)

    async def add_connection(
        self, endpoint: Endpoint | Mapping[str, Any], callbacks: Callbacks | Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Add a participant: transfer or conference (``createAdditionalConnection``)."""
        ep = Endpoint.coerce(dict(endpoint) if isinstance(endpoint, Mapping) else endpoint)
        return await self._call("createAdditionalConnection", callbacks, endpoint=ep.to_request())

    async def toggle_active_connections(
        self, callbacks: Callbacks | Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Swap between the held and the active party (``toggleActiveConnections``)."""
        data = self._get_data()
        held = next((c for c in data.connections if c.state.type == ConnectionStateType.HOLD), None)
        if held is None:
            held = next((c for c in data.connections if c.state.type in CONNECTION_ACTIVE_STATES), None)
        connection_id = held.connection_id if held is not None else None
        params = {"contactId": self.contact_id, "connectionId": connection_id}
        return await self._session.call("toggleActiveConnections", params, callbacks)

    async def conference_connections(
        self, callbacks: Callbacks | Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Join every party into a conference (``conferenceConnections``)."""
        return await self._call("conferenceConnections", callbacks)

    async def update_monitor_participant_state(
        self, target_state: str, callbacks: Callbacks | Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Switch a supervisor between silent monitor and barge (``updateMonitorParticipantState``)."""
        mode = (target_state or "").upper()
        if mode not in {m.value for m in MonitoringMode}:
            cbs = Callbacks.coerce(callbacks)
            if cbs.failure is None:
                raise ValueError(MonitoringErrorTypes.INVALID_TARGET_STATE)
            cbs.failure(MonitoringErrorTypes.INVALID_TARGET_STATE)
            return None
        return await self._call("updateMonitorParticipantState", callbacks, targetMonitorMode=mode)

    async def silent_monitor(self, callbacks: Callbacks | Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Switch to silent monitoring."""
        return await self.update_monitor_participant_state(MonitoringMode.SILENT_MONITOR, callbacks)

    async def barge_in(self, callbacks: Callbacks | Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Barge into the contact."""
        return await self.update_monitor_participant_state(MonitoringMode.BARGE, callbacks)

    async def pause(self, callbacks: Callbacks | Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Pause a task (``pauseContact``)."""
        return await self._call("pauseContact", callbacks)

    async def resume(self, callbacks: Callbacks | Mapping[str, Any] | None = None) -> dict[str, Any] | None:
        """Resume a paused task (``resumeContact``)."""
        return await self._call("resumeContact", callbacks)

    async def add_participant(
        self, endpoint: Endpoint | Mapping[str, Any], callbacks: Callbacks | Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Add a participant (``addNewConnection``); the 2.28.2 bundle has no such CTI operation."""
        ep = Endpoint.coerce(dict(endpoint) if isinstance(endpoint, Mapping) else endpoint)
        return await self._call("addNewConnection", callbacks, endpoint=ep.to_request())

    async def transfer(
        self, endpoint: Endpoint | Mapping[str, Any], callbacks: Callbacks | Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """Transfer the contact (``transferContact``); the 2.28.2 bundle has no such CTI operation."""
        ep = Endpoint.coerce(dict(endpoint) if isinstance(endpoint, Mapping) else endpoint)
        return await self._call("transferContact", callbacks, endpoint=ep.to_request())


class ContactSnapshot(Contact):
    """Frozen contact data (``connect.ContactSnapshot``), the payload of removal events."""

    __slots__ = ("_data",)

    def __init__(self, data: ContactData, session: AgentSession) -> None:
        super().__init__(data.contact_id, session)
        self._data = data

    def _get_data(self) -> ContactData:
        return self._data

    def _connection_view(self, data: ContactData, connection_id: str) -> Connection:
        for conn in data.connections:
            if conn.connection_id == connection_id:
                return ConnectionSnapshot(conn, self.contact_id, data.type, self._session)
        return super()._connection_view(data, connection_id)

    def exists(self) -> bool:
        """A snapshot always has its data."""
        return True
