"""Pure conversions from source records to the persistence layer's row inputs, and column-size checks.

Everything here is free of I/O. :func:`check_row` guards the database against values it would refuse
(a PostgreSQL ``varchar(256)`` overflow or a NUL character is a ``DataError``, which the endpoint would
otherwise report as "storage unavailable" and the source would retry forever): such input is rejected
as malformed, with the offending field named, before anything is written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import Any

import msgspec
import sqlalchemy as sa
from msgspec.structs import fields

from hub._data import AgentData, AgentSnapshot, ContactData
from hub.db import AgentRow, ContactUpsert, EventRecord
from hub.db._models import AGENTS, CONTACTS, EVENTS
from hub.sources.agent_events import AgentEvent, Contact
from hub.sources.contact_records import contact_type
from hub.sources.errors import MalformedRequestError

__all__ = [
    "CONTACT_EVENT_STATES",
    "aes_contact_state",
    "aes_contact_upserts",
    "agent_row",
    "check_row",
    "contact_event_upsert",
    "contact_record_upsert",
    "contact_upsert",
    "digest",
    "parse_iso",
    "streams_contact_upserts",
]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)

#: ``to_contact_fields`` names (contact records and contact events) -> ``ContactUpsert`` fields.
_CONTACT_FIELD_MAP: Mapping[str, str] = {
    "contact_id": "contact_id",
    "initial_contact_id": "initial_contact_id",
    "previous_contact_id": "previous_contact_id",
    "next_contact_id": "next_contact_id",
    "related_contact_id": "related_contact_id",
    "channel": "channel",
    "type": "contact_type",
    "initiation_method": "initiation_method",
    "queue_arn": "queue_arn",
    "queue_name": "queue_name",
    "agent_arn": "agent_key",
    "initiation_timestamp": "initiated_at",
    "connected_to_agent_timestamp": "connected_to_agent_at",
    "enqueue_timestamp": "enqueued_at",
    "dequeue_timestamp": "dequeued_at",
    "disconnect_timestamp": "disconnected_at",
    "after_contact_work_start_timestamp": "acw_started_at",
    "after_contact_work_end_timestamp": "acw_ended_at",
    "customer_hold_duration": "hold_duration_s",
    "after_contact_work_duration": "acw_duration_s",
    "agent_interaction_duration": "talk_duration_s",
    "queue_duration": "queue_duration_s",
    "disconnect_reason": "disconnect_reason",
    "attributes": "attributes",
    "recording_location": "recording_location",
    "voice_id_result": "voice_id_result",
}

_TABLES: Mapping[type, sa.Table] = {AgentRow: AGENTS, ContactUpsert: CONTACTS, EventRecord: EVENTS}


def digest(value: str) -> str:
    """A short, stable digest of ``value`` (keeps idempotency keys within their column)."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def parse_iso(value: str | None) -> dt.datetime | None:
    """An aware datetime from the ``...Z`` ISO strings of converted agent data (``None`` stays ``None``)."""
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def _limits(kind: type) -> list[tuple[str, int | None, tuple[int, int] | None]]:
    """Per field of ``kind``: the column's string length limit and integer range (``None``: unchecked)."""
    table = _TABLES[kind]
    out: list[tuple[str, int | None, tuple[int, int] | None]] = []
    for item in fields(kind):
        column = table.c.get(item.name)
        if column is None:
            continue
        column_type = column.type
        if isinstance(column_type, sa.String):
            out.append((item.name, column_type.length, None))
        elif isinstance(column_type, sa.Integer):
            out.append((item.name, None, _INT64 if isinstance(column_type, sa.BigInteger) else _INT32))
    return out


_LIMITS = {kind: _limits(kind) for kind in _TABLES}


def check_row(row: AgentRow | ContactUpsert | EventRecord, what: str) -> None:
    """Reject values the row's table cannot hold: strings over their column length or holding a NUL
    character (PostgreSQL refuses them), integers out of the column's range. JSON columns are not
    inspected: the endpoints refuse NUL characters in the raw input already.

    :raises MalformedRequestError: naming ``what`` and the field.
    """
    for name, length, bounds in _LIMITS[type(row)]:
        value = getattr(row, name)
        if value is None:
            continue
        if isinstance(value, str):
            if length is not None and len(value) > length:
                raise MalformedRequestError(f"{what}: {name} is longer than {length} characters")
            if "\x00" in value:
                raise MalformedRequestError(f"{what}: {name} contains a NUL character")
        elif bounds is not None and isinstance(value, int) and not bounds[0] <= value <= bounds[1]:
            raise MalformedRequestError(f"{what}: {name} is out of range")


#: EventBridge ``detail.eventType`` -> the contact's state (Streams ``ContactStateType``) and the
#: ``to_contact_fields`` timestamp it starts at (the event's ``time`` when absent). Event types not
#: listed (``CONTACT_DATA_UPDATED``, ``AMD_DISABLED``, unknown ones) say nothing about the state.
CONTACT_EVENT_STATES: Mapping[str, tuple[str, str]] = {
    "INITIATED": ("init", "initiation_timestamp"),
    "CONNECTED_TO_SYSTEM": ("init", "connected_to_system_timestamp"),
    "QUEUED": ("init", "enqueue_timestamp"),
    "CONNECTED_TO_AGENT": ("connected", "connected_to_agent_timestamp"),
    "DISCONNECTED": ("ended", "disconnect_timestamp"),
    "COMPLETED": ("ended", "disconnect_timestamp"),
}
#: AES ``Contacts[].State`` values that are not a Streams contact state name when lower-cased.
_AES_STATES: Mapping[str, str] = {"CONNECTED_ONHOLD": "connected"}


def contact_upsert(
    source_fields: Mapping[str, Any],
    *,
    source: str,
    source_ts: dt.datetime,
    state: str | None = None,
    state_at: dt.datetime | None = None,
) -> ContactUpsert:
    """A ``ContactUpsert`` from ``to_contact_fields`` output (contact record or contact event)."""
    values: dict[str, Any] = {
        target: source_fields[name] for name, target in _CONTACT_FIELD_MAP.items() if name in source_fields
    }
    if values.get("attributes") == {}:
        values["attributes"] = None
    return ContactUpsert(source=source, source_ts=source_ts, state=state, state_at=state_at, **values)


def contact_record_upsert(source_fields: Mapping[str, Any], source_ts: dt.datetime) -> ContactUpsert:
    """A contact record's ``ContactUpsert``: a contact record means the contact is finished, so its
    state is ``ended`` since ``DisconnectTimestamp`` (``LastUpdateTimestamp`` when absent)."""
    ended_at = source_fields.get("disconnect_timestamp") or source_ts
    return contact_upsert(source_fields, source="ctr", source_ts=source_ts, state="ended", state_at=ended_at)


def contact_event_upsert(source_fields: Mapping[str, Any], source_ts: dt.datetime) -> ContactUpsert:
    """A contact event's ``ContactUpsert``, with the state its ``eventType`` implies (:data:`CONTACT_EVENT_STATES`)."""
    mapped = CONTACT_EVENT_STATES.get(str(source_fields.get("last_event_type", "")).upper())
    state, state_at = (mapped[0], source_fields.get(mapped[1]) or source_ts) if mapped else (None, None)
    return contact_upsert(source_fields, source="eventbridge", source_ts=source_ts, state=state, state_at=state_at)


def aes_contact_state(state: str | None) -> str | None:
    """An AES contact ``State`` in the Streams vocabulary (``CONNECTED_ONHOLD`` is ``connected``)."""
    if not state:
        return None
    upper = state.upper()
    return _AES_STATES.get(upper, upper.lower())


def agent_row(key: str, arn: str | None, data: AgentData, snapshot_at: dt.datetime, last_seq: int) -> AgentRow:
    """The ``agents`` row after applying ``data`` at ``snapshot_at``.

    ``agent_data`` is stored as the runtime stores it: the wire JSON of the engine's agent data
    (encoded once, here), which rebuilds the session after a restart.
    """
    snapshot, configuration = data.snapshot, data.configuration
    profile = configuration.routing_profile
    wire: Any = msgspec.Raw(msgspec.json.encode(data))
    return AgentRow(
        key=key,
        snapshot_at=snapshot_at,
        arn=arn or configuration.agent_arn,
        username=configuration.username,
        name=configuration.name or None,
        routing_profile_arn=profile.routing_profile_arn,
        routing_profile_name=profile.name,
        state_name=snapshot.state.name,
        state_type=snapshot.state.type,
        state_started_at=_aware(snapshot.state.start_timestamp),
        next_state_name=snapshot.next_state.name if snapshot.next_state is not None else None,
        last_seq=last_seq,
        agent_data=wire,
    )


def _aes_contact(contact: Contact, agent_key: str, at: dt.datetime) -> ContactUpsert:
    channel = contact.channel.upper() if contact.channel else None
    if channel == "TASKS":
        channel = "TASK"
    queue = contact.queue
    state = aes_contact_state(contact.state)
    return ContactUpsert(
        contact_id=contact.contact_id,
        source_ts=at,
        source="aes",
        channel=channel,
        contact_type=contact_type(channel, contact.initiation_method),
        initiation_method=contact.initiation_method.upper() if contact.initiation_method else None,
        queue_arn=queue.arn if queue else None,
        queue_name=queue.name if queue else None,
        agent_key=agent_key,
        initial_contact_id=contact.initial_contact_id,
        state=state,
        state_at=_aware(contact.state_start_timestamp),
        enqueued_at=_aware(contact.queue_timestamp),
        connected_to_agent_at=_aware(contact.connected_to_agent_timestamp),
    )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def aes_contact_upserts(event: AgentEvent, agent_key: str, at: dt.datetime) -> list[ContactUpsert]:
    """What an AES record's current snapshot says about the agent's contacts (``source="aes"``)."""
    snapshot = event.current_agent_snapshot
    if snapshot is None:
        return []
    return [_aes_contact(c, agent_key, at) for c in snapshot.contacts or ()]


#: Streams contact ``type`` -> the Connect channel (``queue_callback`` is a voice contact).
_STREAMS_CHANNELS: Mapping[str, str] = {
    "voice": "VOICE",
    "queue_callback": "VOICE",
    "chat": "CHAT",
    "task": "TASK",
    "email": "EMAIL",
}


def _streams_contact(contact: ContactData, agent_key: str, at: dt.datetime) -> ContactUpsert:
    state = contact.state.type
    since = _aware(contact.state.timestamp)
    queue = contact.queue
    method = contact.initiation_method
    return ContactUpsert(
        contact_id=contact.contact_id,
        source_ts=at,
        source="streams",
        channel=_STREAMS_CHANNELS.get(contact.type),
        contact_type=contact.type or None,
        initiation_method=method.upper() if method else None,
        queue_arn=queue.queue_arn if queue is not None else None,
        queue_name=queue.name if queue is not None else None,
        agent_key=agent_key,
        initial_contact_id=contact.initial_contact_id,
        related_contact_id=contact.related_contact_id,
        state=state or None,
        state_at=since,
        enqueued_at=_aware(contact.queue_timestamp),
        connected_to_agent_at=since if state == "connected" else None,
        disconnected_at=since if state == "ended" else None,
        attributes={name: a.value for name, a in contact.attributes.items()} or None,
    )


def streams_contact_upserts(snapshot: AgentSnapshot, agent_key: str, at: dt.datetime) -> list[ContactUpsert]:
    """What a Streams agent snapshot (e.g. posted by the browser bridge) says about the agent's contacts.

    The same rows as the runtime pipeline writes for Streams agent data (``source="streams"``, versioned
    by the snapshot time ``at``): the contact's Streams ``state.type`` since its ``state.timestamp``;
    ``connected_to_agent_at`` / ``disconnected_at`` from that timestamp while ``connected`` / ``ended``;
    ``channel`` and ``initiation_method`` in Connect's upper case, as AES records and contact records give
    them. Every contact of the snapshot is upserted, as for an AES record.
    """
    return [_streams_contact(c, agent_key, at) for c in snapshot.contacts]
