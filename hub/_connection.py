"""``Connection`` and its media kinds: ``VoiceConnection``, ``ChatConnection``, ``TaskConnection``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hub._actions import Callbacks
from hub._constants import (
    CONNECTION_ACTIVE_STATES,
    CONNECTION_CONNECTED_STATES,
    ConnectionStateType,
    ContactType,
    MediaType,
    MonitoringMode,
)
from hub._endpoint import Endpoint

if TYPE_CHECKING:
    from hub._data import ChatMediaInfo, ConnectionData, SoftphoneMediaInfo, StateInfo
    from hub._session import AgentSession

__all__ = [
    "ChatConnection",
    "Connection",
    "ConnectionSnapshot",
    "EmailConnection",
    "TaskConnection",
    "VoiceConnection",
    "connection_class",
]

Result = dict[str, Any] | None
CallbacksArg = Callbacks | Mapping[str, Any] | None


class Connection:
    """One participant leg of a contact (``connect.Connection``), read live from the session."""

    __slots__ = ("_session", "connection_id", "contact_id")

    media_type: str | None = None

    def __init__(self, contact_id: str, connection_id: str, session: AgentSession) -> None:
        self.contact_id = contact_id
        self.connection_id = connection_id
        self._session = session

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.contact_id}/{self.connection_id}>"

    def _get_data(self) -> ConnectionData:
        return self._session.connection_data(self.contact_id, self.connection_id)

    # ------------------------------------------------------------------ getters
    def get_contact_id(self) -> str:
        """The contact this connection belongs to."""
        return self.contact_id

    def get_connection_id(self) -> str:
        """The connection id."""
        return self.connection_id

    def get_endpoint(self) -> Endpoint:
        """The connection's endpoint."""
        return Endpoint.from_data(self._get_data().endpoint)

    get_address = get_endpoint

    def get_state(self) -> StateInfo:
        """The connection state ``{type, timestamp}``."""
        return self._get_data().state

    get_status = get_state

    def get_state_duration(self) -> float:
        """Milliseconds in the current state, corrected for clock skew."""
        return self._session.duration_since(self.get_state().timestamp)

    get_status_duration = get_state_duration

    def get_type(self) -> str:
        """The ``ConnectionType``: ``agent``, ``inbound``, ``outbound`` or ``monitoring``."""
        return self._get_data().type

    def is_initial_connection(self) -> bool:
        """Whether this is the contact's initial connection."""
        return bool(self._get_data().initial)

    def is_active(self) -> bool:
        """Whether the state is connecting, connected, hold, silent monitor or barge."""
        return self.get_state().type in CONNECTION_ACTIVE_STATES

    def is_connected(self) -> bool:
        """Whether the state is connected, silent monitor or barge."""
        return self.get_state().type in CONNECTION_CONNECTED_STATES

    def is_connecting(self) -> bool:
        """Whether the state is connecting."""
        return self.get_state().type == ConnectionStateType.CONNECTING

    def is_on_hold(self) -> bool:
        """Whether the connection is on hold."""
        return self.get_state().type == ConnectionStateType.HOLD

    def is_silent_monitor(self) -> bool:
        """Whether a supervisor is silently monitoring through this connection."""
        return self.get_monitor_status() == MonitoringMode.SILENT_MONITOR

    def is_barge(self) -> bool:
        """Whether a supervisor has barged in through this connection."""
        return self.get_monitor_status() == MonitoringMode.BARGE

    def get_monitor_status(self) -> str | None:
        """``monitorStatus``: ``SILENT_MONITOR`` or ``BARGE``."""
        return self._get_data().monitor_status

    def get_monitor_capabilities(self) -> tuple[str, ...] | None:
        """``monitorCapabilities``."""
        return self._get_data().monitor_capabilities

    def get_monitor_info(self) -> dict[str, Any] | None:
        """``{agentName, joinTime}`` of a monitoring connection, or ``None``."""
        info = self._get_data().monitoring_info
        if info is None:
            return None
        join: datetime | None = info.join_time_stamp
        return {"agentName": info.agent.agent_name if info.agent else None, "joinTime": join}

    def is_mute(self) -> bool:
        """Whether the connection is muted."""
        return bool(self._get_data().mute)

    def is_forced_mute(self) -> bool:
        """Whether a supervisor muted the connection."""
        return bool(self._get_data().forced_mute)

    def get_quick_connect_name(self) -> str | None:
        """The quick connect used to add this connection."""
        return self._get_data().quick_connect_name

    def get_softphone_media_info(self) -> SoftphoneMediaInfo | None:
        """``softphoneMediaInfo`` (voice)."""
        return self._get_data().softphone_media_info

    def get_media_type(self) -> str | None:
        """The ``MediaType`` of this kind of connection."""
        return self.media_type

    def get_media_info(self) -> Any:
        """The media info of this kind of connection."""
        return None

    def to_snapshot(self) -> ConnectionSnapshot:
        """A frozen copy of this connection."""
        return ConnectionSnapshot(self._get_data(), self.contact_id, None, self._session)

    # ------------------------------------------------------------------ actions
    async def _call(self, operation: str, callbacks: CallbacksArg, **params: Any) -> Result:
        body = {"contactId": self.contact_id, "connectionId": self.connection_id, **params}
        return await self._session.call(operation, body, callbacks)

    async def destroy(self, callbacks: CallbacksArg = None) -> Result:
        """Hang up this connection (``destroyConnection``); the agent's own connection ends the call."""
        return await self._call("destroyConnection", callbacks)

    async def send_digits(self, digits: str, callbacks: CallbacksArg = None) -> Result:
        """Send DTMF digits (``sendDigits``)."""
        return await self._call("sendDigits", callbacks, digits=digits)

    async def hold(self, callbacks: CallbacksArg = None) -> Result:
        """Put the connection on hold (``holdConnection``)."""
        return await self._call("holdConnection", callbacks)

    async def resume(self, callbacks: CallbacksArg = None) -> Result:
        """Take the connection off hold (``resumeConnection``)."""
        return await self._call("resumeConnection", callbacks)


class VoiceConnection(Connection):
    """A voice (or queue callback) connection, with participant mute and Voice ID operations."""

    __slots__ = ()
    media_type = MediaType.SOFTPHONE

    def get_media_info(self) -> SoftphoneMediaInfo | None:
        """``softphoneMediaInfo``."""
        return self.get_softphone_media_info()

    async def mute_participant(self, callbacks: CallbacksArg = None) -> Result:
        """Mute this participant (``muteParticipant``)."""
        return await self._call("muteParticipant", callbacks)

    async def unmute_participant(self, callbacks: CallbacksArg = None) -> Result:
        """Unmute this participant (``unmuteParticipant``)."""
        return await self._call("unmuteParticipant", callbacks)

    async def get_video_connection_info(self) -> Result:
        """The WebRTC transport of a video call (``createTransport`` ``web_rtc``)."""
        params = {"transportType": "web_rtc", "contactId": self.contact_id}
        return await self._session.call("createTransport", params)

    # Voice ID: the library calls the Agent App service; the hub sends the same operations to its
    # backend, which answers them with a voice-biometrics provider that has Voice ID's semantics.
    async def _voice_id(self, method: str, **params: Any) -> Result:
        contact = self._session.contact_data(self.contact_id)
        session_name = contact.initial_contact_id or self.contact_id
        body = {"SessionNameOrId": session_name, "ContactId": self.contact_id, **params}
        return await self._session.call(f"AgentAppService.VoiceId.{method}", body)

    async def get_voice_id_speaker_id(self) -> Result:
        """The speaker id the Voice ID session is associated with (``describeSession``)."""
        return await self._voice_id("describeSession")

    async def get_voice_id_speaker_status(self) -> Result:
        """The speaker's enrolment status (``describeSpeaker``)."""
        return await self._voice_id("describeSpeaker")

    async def evaluate_speaker_with_voice_id(self, start_new: bool = False) -> Result:
        """Authenticate the caller and check the fraudster watch-list (``evaluateSession``)."""
        return await self._voice_id("evaluateSession", StartNew=start_new)

    async def enroll_speaker_in_voice_id(self) -> Result:
        """Enrol the caller's voice (``enrollBySession``)."""
        return await self._voice_id("enrollBySession")

    async def update_voice_id_speaker_id(self, speaker_id: str) -> Result:
        """Associate the session with a speaker id (``updateSession``)."""
        return await self._voice_id("updateSession", SpeakerId=speaker_id)

    async def opt_out_voice_id_speaker(self) -> Result:
        """Opt the speaker out of voice authentication (``optOutSpeaker``)."""
        return await self._voice_id("optOutSpeaker")

    async def delete_voice_id_speaker(self) -> Result:
        """Delete the speaker's voice print (``deleteSpeaker``)."""
        return await self._voice_id("deleteSpeaker")


class ChatConnection(Connection):
    """A chat connection."""

    __slots__ = ()
    media_type = MediaType.CHAT

    def get_chat_media_info(self) -> ChatMediaInfo | None:
        """``chatMediaInfo``."""
        return self._get_data().chat_media_info

    def get_media_info(self) -> dict[str, Any]:
        """``{contactId, initialContactId, participantId, chatMediaInfo}``."""
        contact = self._session.contact_data(self.contact_id)
        return {
            "contactId": self.contact_id,
            "initialContactId": contact.initial_contact_id or self.contact_id,
            "participantId": self.connection_id,
            "chatMediaInfo": self.get_chat_media_info(),
        }

    async def get_connection_token(self) -> Result:
        """A participant token for the chat (``createTransport`` ``chat_token``)."""
        params = {
            "transportType": "chat_token",
            "participantId": self.connection_id,
            "contactId": self.contact_id,
        }
        return await self._session.call("createTransport", params)


class TaskConnection(Connection):
    """A task connection."""

    __slots__ = ()
    media_type = MediaType.TASK

    def get_media_info(self) -> dict[str, Any]:
        """``{contactId, initialContactId}``."""
        contact = self._session.contact_data(self.contact_id)
        return {
            "contactId": self.contact_id,
            "initialContactId": contact.initial_contact_id or self.contact_id,
        }


class EmailConnection(Connection):
    """An e-mail connection."""

    __slots__ = ()
    media_type = MediaType.EMAIL


_CLASSES: dict[str, type[Connection]] = {
    ContactType.CHAT: ChatConnection,
    ContactType.TASK: TaskConnection,
    ContactType.EMAIL: EmailConnection,
}


def connection_class(contact_type: str) -> type[Connection]:
    """The connection class for a contact type (voice and unknown types → ``VoiceConnection``)."""
    return _CLASSES.get(contact_type, VoiceConnection)


class ConnectionSnapshot(Connection):
    """Frozen connection data (``connect.ConnectionSnapshot``)."""

    __slots__ = ("_contact_type", "_data")

    def __init__(self, data: ConnectionData, contact_id: str, contact_type: str | None, session: AgentSession) -> None:
        super().__init__(contact_id, data.connection_id, session)
        self._data = data
        self._contact_type = contact_type

    def _get_data(self) -> ConnectionData:
        return self._data
