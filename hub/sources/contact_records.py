"""Amazon Connect contact records (CTRs) as streamed to Kinesis / Firehose.

Source: ``shared/reference/aws-formats/ctr.md`` (AG23 ``ctr-data-model.md``). Connect delivers contact
records *at least once* and re-delivers a contact's record when it learns more (e.g. new attributes),
so the dedupe key is (``ContactId``, ``LastUpdateTimestamp``) and a copy only replaces the stored row
when its ``LastUpdateTimestamp`` is not older (:func:`supersedes`). Unknown members are ignored and
every documented member may be ``null`` or absent, except ``ContactId`` and ``LastUpdateTimestamp``.

:func:`to_contact_fields` gives the normalised columns of a ``contacts`` row. Durations are whole
seconds as documented. There is no ``HoldDuration`` in the documented record: hold time is
``Agent.CustomerHoldDuration`` (with ``NumberOfHolds`` and ``LongestHoldDuration``); talk time is
``Agent.AgentInteractionDuration``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from hub._structs import prepare_structs
from hub.sources._util import decode_json, parse_timestamp, pascal, utc
from hub.sources.voice_id import VoiceIdResult

__all__ = [
    "AgentInfo",
    "ContactTraceRecord",
    "Endpoint",
    "HierarchyGroupRef",
    "HierarchyGroups",
    "MediaStream",
    "QueueInfo",
    "RecordingInfo",
    "RecordingsInfo",
    "RoutingProfileRef",
    "StateTransition",
    "contact_type",
    "decode_contact_record",
    "dedupe_key",
    "supersedes",
    "to_contact_fields",
]


class _Pascal(msgspec.Struct, frozen=True, kw_only=True, rename=pascal):
    """Base: PascalCase wire names (``ARN``/``AWS`` upper-case), unknown members ignored."""


class Endpoint(_Pascal, frozen=True):
    """``CustomerEndpoint`` / ``SystemEndpoint``: ``{Address, Type}`` (``TELEPHONE_NUMBER``)."""

    address: str | None = None
    type: str | None = None


class QueueInfo(_Pascal, frozen=True):
    """``Queue``: the queue and the time the contact spent in it (``Duration`` in seconds)."""

    arn: str | None = None
    name: str | None = None
    enqueue_timestamp: datetime | None = None
    dequeue_timestamp: datetime | None = None
    duration: int | None = None


class RoutingProfileRef(_Pascal, frozen=True):
    """``Agent.RoutingProfile``."""

    arn: str | None = None
    name: str | None = None


class HierarchyGroupRef(_Pascal, frozen=True):
    """One level of ``Agent.HierarchyGroups``."""

    arn: str | None = None
    group_name: str | None = None


class HierarchyGroups(_Pascal, frozen=True):
    """``Agent.HierarchyGroups``: ``Level1`` … ``Level5``."""

    level1: HierarchyGroupRef | None = None
    level2: HierarchyGroupRef | None = None
    level3: HierarchyGroupRef | None = None
    level4: HierarchyGroupRef | None = None
    level5: HierarchyGroupRef | None = None


class StateTransition(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """``Agent.stateTransitions[]`` (supervisor ``SILENT_MONITOR`` / ``BARGE``); camelCase on the wire."""

    state_start_timestamp: datetime | None = None
    state_end_timestamp: datetime | None = None
    state: str | None = None


class AgentInfo(_Pascal, frozen=True):
    """``Agent``: the agent who handled the contact (``null`` if it never reached one)."""

    arn: str | None = None
    username: str | None = None
    connected_to_agent_timestamp: datetime | None = None
    agent_interaction_duration: int | None = None
    after_contact_work_duration: int | None = None
    after_contact_work_start_timestamp: datetime | None = None
    after_contact_work_end_timestamp: datetime | None = None
    customer_hold_duration: int | None = None
    longest_hold_duration: int | None = None
    number_of_holds: int | None = None
    routing_profile: RoutingProfileRef | None = None
    hierarchy_groups: HierarchyGroups | None = None
    state_transitions: list[StateTransition] | None = msgspec.field(default=None, name="stateTransitions")


class RecordingInfo(_Pascal, frozen=True):
    """``Recording``: the first recording (``Status`` AVAILABLE | DELETED | NULL)."""

    location: str | None = None
    status: str | None = None
    type: str | None = None
    deletion_reason: str | None = None


class RecordingsInfo(_Pascal, frozen=True):
    """One element of ``Recordings``."""

    location: str | None = None
    status: str | None = None
    media_stream_type: str | None = None
    participant_type: str | None = None
    storage_type: str | None = None
    start_timestamp: datetime | None = None
    stop_timestamp: datetime | None = None
    fragment_start_number: str | None = None
    fragment_stop_number: str | None = None
    deletion_reason: str | None = None


class MediaStream(_Pascal, frozen=True):
    """One element of ``MediaStreams``: ``{Type: AUDIO | VIDEO | CHAT}``."""

    type: str | None = None


class ContactTraceRecord(_Pascal, frozen=True):
    """A contact record (``ContactTraceRecord``)."""

    contact_id: str
    last_update_timestamp: datetime
    aws_account_id: str | None = None
    aws_contact_trace_record_format_version: str | None = None
    instance_arn: str | None = None
    initial_contact_id: str | None = None
    previous_contact_id: str | None = None
    next_contact_id: str | None = None
    related_contact_id: str | None = None
    channel: str | None = None
    initiation_method: str | None = None
    initiation_timestamp: datetime | None = None
    connected_to_system_timestamp: datetime | None = None
    disconnect_timestamp: datetime | None = None
    disconnect_reason: str | None = None
    scheduled_timestamp: datetime | None = None
    transfer_completed_timestamp: datetime | None = None
    transferred_to_endpoint: Endpoint | None = None
    agent_connection_attempts: int | None = None
    customer_endpoint: Endpoint | None = None
    system_endpoint: Endpoint | None = None
    queue: QueueInfo | None = None
    agent: AgentInfo | None = None
    attributes: dict[str, Any] | None = None
    media_streams: list[MediaStream] | None = None
    recording: RecordingInfo | None = None
    recordings: list[RecordingsInfo] | None = None
    voice_id_result: VoiceIdResult | None = None
    references: Any = None
    contact_details: Any = None


def decode_contact_record(data: bytes | str) -> ContactTraceRecord:
    """Decode one contact record's JSON.

    :raises MalformedRequestError: naming the offending member when the record does not fit.
    """
    return decode_json(data, ContactTraceRecord, "contact record")


def dedupe_key(record: ContactTraceRecord) -> tuple[str, datetime]:
    """(``ContactId``, ``LastUpdateTimestamp`` in UTC): identical for re-deliveries of one version."""
    moment = utc(record.last_update_timestamp)
    assert moment is not None
    return record.contact_id, moment


def supersedes(record: ContactTraceRecord, stored_last_update: datetime | str | None) -> bool:
    """Whether ``record`` should replace a stored copy last updated at ``stored_last_update``.

    Not older → yes (an equal timestamp rewrites the same data, which is harmless); older → no.
    """
    if stored_last_update is None:
        return True
    return dedupe_key(record)[1] >= parse_timestamp(stored_last_update)


def contact_type(channel: str | None, initiation_method: str | None) -> str | None:
    """The Streams contact type for a channel: ``voice`` / ``queue_callback`` / ``chat`` / ``task``."""
    if not channel:
        return None
    upper = channel.upper()
    if upper == "VOICE":
        return "queue_callback" if (initiation_method or "").upper() == "CALLBACK" else "voice"
    return {"TASKS": "task"}.get(upper, upper.lower())


def _recording_location(record: ContactTraceRecord) -> tuple[str | None, str | None]:
    if record.recording is not None and record.recording.location:
        return record.recording.location, record.recording.status
    for item in record.recordings or ():
        if item.location:
            return item.location, item.status
    return None, None


def to_contact_fields(record: ContactTraceRecord) -> dict[str, Any]:
    """The normalised columns of the ``contacts`` row this record describes.

    Every column is present (``None`` when the record lacks it): a contact record is the full state of
    the contact at ``LastUpdateTimestamp`` (``source_timestamp``). Timestamps are aware UTC datetimes,
    durations whole seconds; ``channel`` / ``initiation_method`` keep Connect's upper-case values and
    ``type`` is the Streams contact type.
    """
    queue = record.queue or QueueInfo()
    agent = record.agent or AgentInfo()
    location, status = _recording_location(record)
    channel = record.channel.upper() if record.channel else None
    return {
        "contact_id": record.contact_id,
        "initial_contact_id": record.initial_contact_id,
        "previous_contact_id": record.previous_contact_id,
        "next_contact_id": record.next_contact_id,
        "related_contact_id": record.related_contact_id,
        "instance_arn": record.instance_arn,
        "aws_account_id": record.aws_account_id,
        "channel": channel,
        "type": contact_type(channel, record.initiation_method),
        "initiation_method": record.initiation_method.upper() if record.initiation_method else None,
        "initiation_timestamp": utc(record.initiation_timestamp),
        "connected_to_system_timestamp": utc(record.connected_to_system_timestamp),
        "disconnect_timestamp": utc(record.disconnect_timestamp),
        "disconnect_reason": record.disconnect_reason,
        "queue_arn": queue.arn,
        "queue_name": queue.name,
        "enqueue_timestamp": utc(queue.enqueue_timestamp),
        "dequeue_timestamp": utc(queue.dequeue_timestamp),
        "queue_duration": queue.duration,
        "agent_arn": agent.arn,
        "agent_username": agent.username,
        "connected_to_agent_timestamp": utc(agent.connected_to_agent_timestamp),
        "agent_interaction_duration": agent.agent_interaction_duration,
        "customer_hold_duration": agent.customer_hold_duration,
        "number_of_holds": agent.number_of_holds,
        "longest_hold_duration": agent.longest_hold_duration,
        "after_contact_work_start_timestamp": utc(agent.after_contact_work_start_timestamp),
        "after_contact_work_end_timestamp": utc(agent.after_contact_work_end_timestamp),
        "after_contact_work_duration": agent.after_contact_work_duration,
        "agent_connection_attempts": record.agent_connection_attempts,
        "customer_endpoint": record.customer_endpoint.address if record.customer_endpoint else None,
        "system_endpoint": record.system_endpoint.address if record.system_endpoint else None,
        "attributes": dict(record.attributes or {}),
        "recording_location": location,
        "recording_status": status,
        "voice_id_result": record.voice_id_result.to_dict() if record.voice_id_result else None,
        "source_timestamp": dedupe_key(record)[1],
    }


prepare_structs(globals())
