"""Typed, immutable agent data: the ``GetAgentSnapshot`` snapshot and the agent configuration.

The structures mirror the CTI service model bundled with amazon-connect-streams 2.28.2 (the model the
library's AWS SDK parses responses against). As in the library, members the model does not know are
dropped, ``null`` structures, lists and maps read as absent, and timestamps may arrive as epoch seconds
(numbers or digit strings) or ISO-8601 strings. Field names are Pythonic; the wire names are kept for
encoding back with :func:`encode_agent_data` / :meth:`AgentData.to_wire`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

import msgspec
from msgspec import Struct, field

from hub._structs import prepare_structs

__all__ = [
    "AgentAvailabilityState",
    "AgentConfiguration",
    "AgentData",
    "AgentSnapshot",
    "AgentStateInfo",
    "Attribute",
    "ChannelContext",
    "ChatMediaInfo",
    "ConnectionData",
    "ContactData",
    "ContactFeatures",
    "EmailRecipient",
    "EmailRecipients",
    "EndpointData",
    "MonitoringAgent",
    "MonitoringInfo",
    "QueueRef",
    "Reference",
    "RoutingProfile",
    "ScreenRecordingConfig",
    "SegmentAttribute",
    "SoftphoneMediaInfo",
    "StateInfo",
    "decode_agent_data",
    "decode_configuration",
    "decode_snapshot",
    "encode_agent_data",
]


class _Wire(Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=False):
    """Base for every wire structure: immutable, keyword-only, unknown members ignored."""


class StateInfo(_Wire, frozen=True):
    """The state of a contact or connection: ``{type, timestamp}``."""

    type: str
    timestamp: datetime | None = None


class AgentStateInfo(_Wire, frozen=True):
    """An agent state (``AgentState``): ``{agentStateARN, type, name, startTimestamp}``."""

    type: str
    name: str
    agent_state_arn: str | None = field(default=None, name="agentStateARN")
    start_timestamp: datetime | None = field(default=None, name="startTimestamp")


class AgentAvailabilityState(_Wire, frozen=True):
    """``snapshot.agentAvailabilityState``."""

    state: str | None = None
    time_stamp: datetime | None = field(default=None, name="timeStamp")


class QueueRef(_Wire, frozen=True):
    """A queue reference: ``{queueARN, name}``; ``queue_id`` is the library's alias of the ARN."""

    queue_arn: str | None = field(default=None, name="queueARN")
    name: str | None = None

    @property
    def queue_id(self) -> str | None:
        """``queueId``: the worker sets it to the queue ARN."""
        return self.queue_arn


class EndpointData(_Wire, frozen=True):
    """An endpoint as the CTI service sends it."""

    type: str
    endpoint_arn: str | None = field(default=None, name="endpointARN")
    name: str | None = None
    display_name: str | None = field(default=None, name="displayName")
    phone_number: str | None = field(default=None, name="phoneNumber")
    agent_login: str | None = field(default=None, name="agentLogin")
    queue: QueueRef | None = None
    email_address: str | None = field(default=None, name="emailAddress")


class SoftphoneMediaInfo(_Wire, frozen=True):
    """``connection.softphoneMediaInfo``."""

    call_type: str | None = field(default=None, name="callType")
    auto_accept: bool | None = field(default=None, name="autoAccept")
    media_leg_context_token: str | None = field(default=None, name="mediaLegContextToken")
    call_context_token: str | None = field(default=None, name="callContextToken")
    call_config_json: str | None = field(default=None, name="callConfigJson")


class ChatMediaInfo(_Wire, frozen=True):
    """``connection.chatMediaInfo``."""

    chat_auto_accept: bool | None = field(default=None, name="chatAutoAccept")
    connection_data: str | None = field(default=None, name="connectionData")
    customer_name: str | None = field(default=None, name="customerName")


class MonitoringAgent(_Wire, frozen=True):
    """``monitoringInfo.agent``."""

    agent_name: str | None = field(default=None, name="agentName")


class MonitoringInfo(_Wire, frozen=True):
    """``connection.monitoringInfo``."""

    agent: MonitoringAgent | None = None
    join_time_stamp: datetime | None = field(default=None, name="joinTimeStamp")


class Capabilities(_Wire, frozen=True):
    """``connection.capabilities``."""

    video: str | None = field(default=None, name="Video")


class ConnectionData(_Wire, frozen=True):
    """One connection (participant leg) of a contact."""

    connection_id: str = field(name="connectionId")
    type: str
    state: StateInfo
    initial: bool = False
    endpoint: EndpointData | None = None
    softphone_media_info: SoftphoneMediaInfo | None = field(default=None, name="softphoneMediaInfo")
    chat_media_info: ChatMediaInfo | None = field(default=None, name="chatMediaInfo")
    monitoring_info: MonitoringInfo | None = field(default=None, name="monitoringInfo")
    mute: bool | None = None
    forced_mute: bool | None = field(default=None, name="forcedMute")
    quick_connect_name: str | None = field(default=None, name="quickConnectName")
    monitor_capabilities: tuple[str, ...] | None = field(default=None, name="monitorCapabilities")
    monitor_status: str | None = field(default=None, name="monitorStatus")
    capabilities: Capabilities | None = None


class Attribute(_Wire, frozen=True):
    """A contact attribute: ``{name, value}``."""

    name: str
    value: str | None = None


class Reference(_Wire, frozen=True):
    """A task reference: ``{type, value, arn, status, statusReason}``."""

    type: str
    value: str | None = None
    arn: str | None = None
    status: str | None = None
    status_reason: str | None = field(default=None, name="statusReason")


class ScreenRecordingConfig(_Wire, frozen=True):
    """``contactFeatures.screenRecordingConfig``."""

    screen_recording_enabled: bool | None = field(default=None, name="screenRecordingEnabled")
    screen_recording_state: str | None = field(default=None, name="screenRecordingState")


class ContactFeatures(_Wire, frozen=True):
    """``contact.contactFeatures``."""

    attachments_enabled: bool | None = field(default=None, name="attachmentsEnabled")
    messaging_markdown_enabled: bool | None = field(default=None, name="messagingMarkdownEnabled")
    multi_party_conference_enabled: bool | None = field(default=None, name="multiPartyConferenceEnabled")
    screen_recording_enabled: bool | None = field(default=None, name="screenRecordingEnabled")
    screen_recording_state: str | None = field(default=None, name="screenRecordingState")
    screen_recording_config: ScreenRecordingConfig | None = field(default=None, name="screenRecordingConfig")


class ChannelContext(_Wire, frozen=True):
    """``contact.channelContext`` (tasks)."""

    scheduled_time: int | None = field(default=None, name="scheduledTime")
    task_template_id: str | None = field(default=None, name="taskTemplateId")
    task_template_version: int | None = field(default=None, name="taskTemplateVersion")


class SegmentAttribute(_Wire, frozen=True):
    """A segment attribute value: ``{ValueString}``."""

    value_string: str | None = field(default=None, name="ValueString")


class EmailRecipient(_Wire, frozen=True):
    """An e-mail address with its display name."""

    address: str | None = None
    display_name: str | None = field(default=None, name="displayName")


class EmailRecipients(_Wire, frozen=True):
    """``contact.emailRecipients``."""

    to_list: tuple[EmailRecipient, ...] | None = field(default=None, name="toList")
    cc_list: tuple[EmailRecipient, ...] | None = field(default=None, name="ccList")
    from_recipient: EmailRecipient | None = field(default=None, name="fromRecipient")


class ContactData(_Wire, frozen=True):
    """One contact of the agent snapshot."""

    contact_id: str = field(name="contactId")
    type: str
    state: StateInfo
    initial_contact_id: str | None = field(default=None, name="initialContactId")
    related_contact_id: str | None = field(default=None, name="relatedContactId")
    contact_association_id: str | None = field(default=None, name="contactAssociationId")
    queue: QueueRef | None = None
    queue_timestamp: datetime | None = field(default=None, name="queueTimestamp")
    connections: tuple[ConnectionData, ...] = ()
    attributes: dict[str, Attribute] = {}
    contact_duration: str | None = field(default=None, name="contactDuration")
    name: str | None = None
    description: str | None = None
    references: dict[str, Reference] | None = None
    initiation_method: str | None = field(default=None, name="initiationMethod")
    contact_features: ContactFeatures | None = field(default=None, name="contactFeatures")
    channel_context: ChannelContext | None = field(default=None, name="channelContext")
    segment_attributes: dict[str, SegmentAttribute] | None = field(default=None, name="segmentAttributes")
    customer_endpoint: EndpointData | None = field(default=None, name="customerEndpoint")
    connect_system_endpoint: EndpointData | None = field(default=None, name="connectSystemEndpoint")
    language_code: str | None = field(default=None, name="languageCode")
    email_recipients: EmailRecipients | None = field(default=None, name="emailRecipients")


class AgentSnapshot(_Wire, frozen=True):
    """``GetAgentSnapshot.snapshot`` plus the worker's receive-time fields (``localTimestamp``, ``skew``)."""

    state: AgentStateInfo
    contacts: tuple[ContactData, ...] = ()
    next_state: AgentStateInfo | None = field(default=None, name="nextState")
    agent_availability_state: AgentAvailabilityState | None = field(default=None, name="agentAvailabilityState")
    snapshot_timestamp: datetime | None = field(default=None, name="snapshotTimestamp")
    local_timestamp: float | None = field(default=None, name="localTimestamp")
    skew: float | None = None


class RoutingProfile(_Wire, frozen=True):
    """``configuration.routingProfile`` (with the queues the worker adds)."""

    name: str | None = None
    routing_profile_arn: str | None = field(default=None, name="routingProfileARN")
    default_outbound_queue: QueueRef | None = field(default=None, name="defaultOutboundQueue")
    channel_concurrency_map: dict[str, int] | None = field(default=None, name="channelConcurrencyMap")
    queues: tuple[QueueRef, ...] = ()

    @property
    def routing_profile_id(self) -> str | None:
        """``routingProfileId``: the worker sets it to the routing profile ARN."""
        return self.routing_profile_arn


class AgentConfiguration(_Wire, frozen=True):
    """The agent configuration as ``agent.getConfiguration()`` returns it."""

    name: str | None = None
    username: str | None = None
    softphone_enabled: bool = field(default=False, name="softphoneEnabled")
    softphone_auto_accept: bool = field(default=False, name="softphoneAutoAccept")
    extension: str | None = None
    agent_arn: str | None = field(default=None, name="agentARN")
    agent_preferences: dict[str, str] | None = field(default=None, name="agentPreferences")
    routing_profile: RoutingProfile = field(default_factory=RoutingProfile, name="routingProfile")
    agent_states: tuple[AgentStateInfo, ...] = field(default=(), name="agentStates")
    permissions: tuple[str, ...] = ()
    dialable_countries: tuple[str, ...] = field(default=(), name="dialableCountries")


class AgentData(_Wire, frozen=True):
    """What an ``agent::update`` carries: the snapshot and the configuration."""

    snapshot: AgentSnapshot
    configuration: AgentConfiguration

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict with the wire names (timestamps as ISO-8601 strings)."""
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result


_T = TypeVar("_T")


def _decode(raw: bytes | str | dict[str, Any], kind: type[_T]) -> _T:
    if isinstance(raw, dict):
        return msgspec.convert(raw, kind, strict=False)
    return msgspec.json.decode(raw, type=kind, strict=False)


def decode_snapshot(raw: bytes | str | dict[str, Any]) -> AgentSnapshot:
    """Parse a ``GetAgentSnapshot`` snapshot (JSON text or a decoded dict).

    :raises msgspec.ValidationError: with the path of the offending member when the data is malformed.
    """
    return _decode(raw, AgentSnapshot)


def decode_configuration(raw: bytes | str | dict[str, Any]) -> AgentConfiguration:
    """Parse an agent configuration (JSON text or a decoded dict)."""
    return _decode(raw, AgentConfiguration)


def decode_agent_data(raw: bytes | str | dict[str, Any]) -> AgentData:
    """Parse agent data as an ``agent::update`` carries it: ``{snapshot, configuration}``."""
    return _decode(raw, AgentData)


def encode_agent_data(data: AgentData) -> bytes:
    """Encode agent data as JSON with the wire names."""
    return msgspec.json.encode(data)


prepare_structs(globals())
