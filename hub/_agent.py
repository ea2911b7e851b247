"""``Agent``: the live view of an agent session, its getters, subscriptions and actions."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub._actions import Callbacks
from hub._constants import AgentErrorStates, AgentEvents, ConfigurationEvents, EventType
from hub._contact import Contact, ContactSnapshot
from hub._endpoint import Endpoint
from hub._errors import InvalidArgumentError

if TYPE_CHECKING:
    from hub._bus import EventCallback, Subscription
    from hub._data import (
        AgentAvailabilityState,
        AgentConfiguration,
        AgentData,
        AgentStateInfo,
        RoutingProfile,
    )
    from hub._session import AgentSession

__all__ = ["Agent", "AgentSnapshot", "AgentStateChange"]

_E164 = re.compile(r"\+[1-9][0-9]{1,14}\Z")
SUPPORTED_LOCALES = frozenset(
    {"en_US", "de_DE", "es_ES", "fr_FR", "ja_JP", "it_IT", "ko_KR", "pt_BR", "zh_CN", "zh_TW"}
)
"""The locales ``agent.setConfiguration`` accepts (``connect.isValidLocale``)."""
_INSTANCE_ID = re.compile(r"instance/([0-9a-fA-F-]+)/?")
_ACCOUNT_ID = re.compile(r":([0-9]+):instance")
_AGENT_ID = re.compile(r"/agent/([^/]+)")


@dataclass(frozen=True, slots=True)
class AgentStateChange:
    """The payload of ``agent::state_change``: the agent and the old and new state *names*."""

    agent: Agent
    old_state: str
    new_state: str


def _subscriber(event: str) -> Callable[[Agent, EventCallback], Subscription]:
    def subscribe(self: Agent, callback: EventCallback) -> Subscription:
        return self._session.bus.subscribe(event, callback)

    subscribe.__doc__ = f"Call ``callback`` on every ``{event}`` (returns a subscription)."
    return subscribe


class Agent:
    """The agent of a session (``connect.Agent``): every getter reads the session's current data."""

    __slots__ = ("_session",)

    def __init__(self, session: AgentSession) -> None:
        self._session = session

    def _get_data(self) -> AgentData:
        return self._session.require_data()

    @property
    def session(self) -> AgentSession:
        """The session this agent belongs to."""
        return self._session

    # ------------------------------------------------------------------ state
    def get_state(self) -> AgentStateInfo:
        """The agent's current state (``{type, name, agentStateARN, startTimestamp}``)."""
        return self._get_data().snapshot.state

    get_status = get_state

    def get_next_state(self) -> AgentStateInfo | None:
        """The enqueued next state, if any."""
        return self._get_data().snapshot.next_state

    def get_availability_state(self) -> AgentAvailabilityState | None:
        """``snapshot.agentAvailabilityState``."""
        return self._get_data().snapshot.agent_availability_state

    def get_state_duration(self) -> float:
        """Milliseconds in the current state, corrected for the clock skew of the latest snapshot."""
        return self._session.duration_since(self.get_state().start_timestamp)

    get_status_duration = get_state_duration

    def is_error(self) -> bool:
        """Whether the state name is one of the library's ``AgentErrorStates``."""
        return self.get_state().name in {s.value for s in AgentErrorStates}

    # ------------------------------------------------------------------ configuration
    def get_configuration(self) -> AgentConfiguration:
        """The agent configuration."""
        return self._get_data().configuration

    def get_permissions(self) -> tuple[str, ...]:
        """The agent's permissions (``outboundCall``, ``voiceId`` ...)."""
        return self.get_configuration().permissions

    def get_agent_states(self) -> tuple[AgentStateInfo, ...]:
        """The states the agent may set."""
        return self.get_configuration().agent_states

    def get_routing_profile(self) -> RoutingProfile:
        """The routing profile."""
        return self.get_configuration().routing_profile

    def get_channel_concurrency(self, channel: str | None = None) -> dict[str, int] | int:
        """The channel concurrency map, or one channel's slots (0 for a disabled channel).

        Without a map the library assumes ``{VOICE: 1, CHAT: 1}``.
        """
        mapping = self.get_routing_profile().channel_concurrency_map
        if not mapping:
            mapping = {"VOICE": 1, "CHAT": 1}
        if channel:
            return mapping.get(channel, 0) or 0
        return dict(mapping)

    def get_name(self) -> str | None:
        """The agent's display name."""
        return self.get_configuration().name

    def get_agent_arn(self) -> str | None:
        """The agent's ARN."""
        return self.get_configuration().agent_arn

    def get_extension(self) -> str | None:
        """The agent's phone number used when softphone is disabled."""
        return self.get_configuration().extension

    def get_dialable_countries(self) -> tuple[str, ...]:
        """Country codes the agent may dial."""
        return self.get_configuration().dialable_countries

    def is_softphone_enabled(self) -> bool:
        """Whether calls go to the browser softphone."""
        return self.get_configuration().softphone_enabled

    def get_all_queue_arns(self) -> list[str | None]:
        """The ARNs of the routing profile's queues."""
        return [q.queue_arn for q in self.get_routing_profile().queues]

    def get_instance_id(self) -> str | None:
        """The Connect instance id, parsed from the routing profile ARN."""
        match = _INSTANCE_ID.search(self.get_routing_profile().routing_profile_arn or "")
        return match.group(1) if match else None

    def get_aws_account_id(self) -> str | None:
        """The AWS account id, parsed from the routing profile ARN."""
        match = _ACCOUNT_ID.search(self.get_routing_profile().routing_profile_arn or "")
        return match.group(1) if match else None

    def get_resource_id(self) -> str | None:
        """The agent resource id, from a routing-profile queue ARN containing ``/agent/<id>``."""
        for arn in self.get_all_queue_arns():
            match = _AGENT_ID.search(arn or "")
            if match:
                return match.group(1)
        return None

    # ------------------------------------------------------------------ contacts
    def _contact_view(self, contact_id: str) -> Contact:
        return Contact(contact_id, self._session)

    def get_contacts(self, contact_type: str | None = None) -> list[Contact]:
        """The agent's contacts, optionally only those of one ``ContactType``."""
        return [
            self._contact_view(c.contact_id)
            for c in self._get_data().snapshot.contacts
            if not contact_type or c.type == contact_type
        ]

    def to_snapshot(self) -> AgentSnapshot:
        """A frozen copy of this agent that no longer follows updates."""
        return AgentSnapshot(self._get_data(), self._session)

    # ------------------------------------------------------------------ subscriptions
    on_refresh = _subscriber(AgentEvents.REFRESH)
    on_routable = _subscriber(AgentEvents.ROUTABLE)
    on_not_routable = _subscriber(AgentEvents.NOT_ROUTABLE)
    on_offline = _subscriber(AgentEvents.OFFLINE)
    on_error = _subscriber(AgentEvents.ERROR)
    on_softphone_error = _subscriber(AgentEvents.SOFTPHONE_ERROR)
    on_websocket_connection_lost = _subscriber(AgentEvents.WEBSOCKET_CONNECTION_LOST)
    on_websocket_connection_gained = _subscriber(AgentEvents.WEBSOCKET_CONNECTION_GAINED)
    on_after_call_work = _subscriber(AgentEvents.ACW)
    on_state_change = _subscriber(AgentEvents.STATE_CHANGE)
    on_mute_toggle = _subscriber(AgentEvents.MUTE_TOGGLE)
    on_local_media_stream_created = _subscriber(AgentEvents.LOCAL_MEDIA_STREAM_CREATED)
    on_enqueued_next_state = _subscriber(AgentEvents.ENQUEUED_NEXT_STATE)
    on_cleared_next_state = _subscriber(AgentEvents.CLEARED_NEXT_STATE)
    on_contact_pending = _subscriber(AgentEvents.CONTACT_PENDING)
    on_speaker_device_changed = _subscriber(ConfigurationEvents.SPEAKER_DEVICE_CHANGED)
    on_microphone_device_changed = _subscriber(ConfigurationEvents.MICROPHONE_DEVICE_CHANGED)
    on_ringer_device_changed = _subscriber(ConfigurationEvents.RINGER_DEVICE_CHANGED)
    on_camera_device_changed = _subscriber(ConfigurationEvents.CAMERA_DEVICE_CHANGED)
    on_background_blur_changed = _subscriber(ConfigurationEvents.BACKGROUND_BLUR_CHANGED)

    # ------------------------------------------------------------------ actions
    async def set_state(
        self,
        state: AgentStateInfo | Mapping[str, Any],
        callbacks: Callbacks | Mapping[str, Any] | None = None,
        *,
        enqueue_next_state: bool | None = None,
    ) -> dict[str, Any] | None:
        """Set the agent state (``putAgentState``); ``enqueue_next_state`` queues it after current work."""
        params: dict[str, Any] = {"state": _state_request(state)}
        if enqueue_next_state is not None:
            params["enqueueNextState"] = bool(enqueue_next_state)
        return await self._session.call("putAgentState", params, callbacks)

    set_status = set_state

    async def connect(
        self,
        endpoint: Endpoint | Mapping[str, Any],
        *,
        queue_arn: str | None = None,
        related_contact_id: str | None = None,
        success: Callable[..., object] | None = None,
        failure: Callable[..., object] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any] | None:
        """Place an outbound contact (``createOutboundContact``); the queue defaults to the default outbound queue.

        :param timeout: seconds to wait for the backend; on expiry ``failure`` gets a timeout error.
        """
        if queue_arn is None:
            default = self.get_routing_profile().default_outbound_queue
            queue_arn = default.queue_arn if default is not None else None
        params = {
            "endpoint": Endpoint.coerce(dict(endpoint) if isinstance(endpoint, Mapping) else endpoint).to_request(),
            "queueARN": queue_arn,
            "relatedContactId": related_contact_id or None,
        }
        call = self._session.call("createOutboundContact", params, Callbacks(success, failure))
        if timeout is None or timeout <= 0:
            return await call
        try:
            return await asyncio.wait_for(call, timeout)
        except TimeoutError:
            message = f"Agent.connect timed out after {round(timeout * 1000)} ms"
            if failure is None:
                raise
            failure(InvalidArgumentError(message))
            return None

    async def get_endpoints(
        self,
        queue_arns: str | list[str],
        callbacks: Callbacks | Mapping[str, Any] | None = None,
        *,
        max_results: int = 500,
    ) -> dict[str, list[Endpoint]] | None:
        """The quick-connect endpoints of the given queues (``getEndpoints``, all pages followed).

        :returns: ``{"endpoints": [...], "addresses": [...]}`` (the same list twice, as the library does).
        """
        arns = [queue_arns] if isinstance(queue_arns, str) else list(queue_arns)
        cbs = Callbacks.coerce(callbacks)
        collected: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params = {"queueARNs": arns, "nextToken": token, "maxResults": max_results}
            page = await self._session.call("getEndpoints", params, Callbacks(failure=cbs.failure))
            if page is None:
                return None
            collected.extend(page.get("endpoints") or [])
            token = page.get("nextToken")
            if not token:
                break
        endpoints = [Endpoint.coerce(e) for e in collected]
        result = {"endpoints": endpoints, "addresses": endpoints}
        if cbs.success is not None:
            cbs.success(result)
        return result

    get_addresses = get_endpoints

    async def set_configuration(
        self,
        configuration: AgentConfiguration | Mapping[str, Any],
        callbacks: Callbacks | Mapping[str, Any] | None = None,
    ) -> dict[str, Any] | None:
        """Update the agent configuration (``updateAgentConfiguration``), then reload it.

        Only the extension, softphone and preference values can change. The extension must be E.164
        when softphone is disabled; an invalid locale fails with ``InvalidLocale`` without a call.
        """
        cfg = _configuration_request(configuration)
        cbs = Callbacks.coerce(callbacks)
        prefs = cfg.get("agentPreferences")
        if prefs is not None and prefs.get("locale") not in SUPPORTED_LOCALES:
            _fail(cbs, AgentErrorStates.INVALID_LOCALE)
            return None
        extension = cfg.get("extension")
        if not cfg.get("softphoneEnabled") and extension is not None and not _E164.match(str(extension)):
            _fail(cbs, "InvalidExtension")
            return None
        result = await self._session.call("updateAgentConfiguration", {"configuration": cfg}, cbs)
        if result is not None:
            # The page asks the worker to reload the configuration, which re-sends the agent data.
            await self._session.reload_configuration()
        return result

    def mute(self) -> None:
        """Broadcast ``mute {mute: true}`` (the softphone in the agent's browser acts on it)."""
        self._session.broadcast(EventType.MUTE, {"mute": True})

    def unmute(self) -> None:
        """Broadcast ``mute {mute: false}``."""
        self._session.broadcast(EventType.MUTE, {"mute": False})

    def set_speaker_device(self, device_id: str) -> None:
        """Broadcast ``configuration::set_speaker_device``."""
        self._session.broadcast(ConfigurationEvents.SET_SPEAKER_DEVICE, {"deviceId": device_id})

    def set_microphone_device(self, device_id: str) -> None:
        """Broadcast ``configuration::set_microphone_device``."""
        self._session.broadcast(ConfigurationEvents.SET_MICROPHONE_DEVICE, {"deviceId": device_id})

    def set_ringer_device(self, device_id: str) -> None:
        """Broadcast ``configuration::set_ringer_device``."""
        self._session.broadcast(ConfigurationEvents.SET_RINGER_DEVICE, {"deviceId": device_id})

    def set_camera_device(self, device_id: str) -> None:
        """Broadcast ``configuration::camera_device_changed``."""
        self._session.broadcast(ConfigurationEvents.CAMERA_DEVICE_CHANGED, {"deviceId": device_id})

    def set_background_blur(self, enabled: bool) -> None:
        """Broadcast ``configuration::background_blur_changed``."""
        self._session.broadcast(ConfigurationEvents.BACKGROUND_BLUR_CHANGED, {"isBackgroundBlurEnabled": enabled})


class AgentSnapshot(Agent):
    """A frozen agent (``agent.to_snapshot()``): getters read the data it was taken from."""

    __slots__ = ("_data",)

    def __init__(self, data: AgentData, session: AgentSession) -> None:
        super().__init__(session)
        self._data = data

    def _get_data(self) -> AgentData:
        return self._data

    def _contact_view(self, contact_id: str) -> Contact:
        for c in self._data.snapshot.contacts:
            if c.contact_id == contact_id:
                return ContactSnapshot(c, self._session)
        return Contact(contact_id, self._session)


def _fail(cbs: Callbacks, value: str) -> None:
    if cbs.failure is None:
        raise InvalidArgumentError(value)
    cbs.failure(value)


def _state_request(state: AgentStateInfo | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(state, Mapping):
        fields = {k: state.get(k) for k in ("agentStateARN", "type", "name")}
    else:
        fields = {"agentStateARN": state.agent_state_arn, "type": state.type, "name": state.name}
    if not fields.get("name") or not fields.get("type"):
        raise InvalidArgumentError("state needs a name and a type")
    return {k: v for k, v in fields.items() if v is not None}


def _configuration_request(configuration: AgentConfiguration | Mapping[str, Any]) -> dict[str, Any]:
    raw: dict[str, Any]
    if isinstance(configuration, Mapping):
        raw = dict(configuration)
    else:
        rp = configuration.routing_profile
        dq = rp.default_outbound_queue
        raw = {
            "name": configuration.name,
            "softphoneEnabled": configuration.softphone_enabled,
            "softphoneAutoAccept": configuration.softphone_auto_accept,
            "extension": configuration.extension,
            "agentPreferences": configuration.agent_preferences,
            "routingProfile": {
                "name": rp.name,
                "routingProfileARN": rp.routing_profile_arn,
                "defaultOutboundQueue": {"queueARN": dq.queue_arn, "name": dq.name} if dq is not None else None,
            },
        }
    prefs = raw.get("agentPreferences")
    if isinstance(prefs, dict) and prefs.get("LANGUAGE") and not prefs.get("locale"):
        prefs = {**prefs, "locale": prefs["LANGUAGE"]}
    profile = raw.get("routingProfile") or {}
    queue = profile.get("defaultOutboundQueue") or {}
    request = {
        "name": raw.get("name"),
        "softphoneEnabled": raw.get("softphoneEnabled"),
        "softphoneAutoAccept": raw.get("softphoneAutoAccept"),
        "extension": raw.get("extension"),
        "routingProfile": {
            "name": profile.get("name"),
            "routingProfileARN": profile.get("routingProfileARN"),
            "defaultOutboundQueue": {"queueARN": queue.get("queueARN"), "name": queue.get("name")},
        },
        "agentPreferences": prefs,
        "voiceEnhancementMode": raw.get("voiceEnhancementMode"),
    }
    return _drop_none(request)


def _drop_none(value: dict[str, Any]) -> dict[str, Any]:
    return {k: _drop_none_value(v) for k, v in value.items() if v is not None}


def _drop_none_value(value: Any) -> Any:
    return _drop_none(value) if isinstance(value, dict) else value
