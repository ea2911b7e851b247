"""Plain, typed inputs and outputs of the persistence API (no ORM objects cross this boundary).

Timestamps are aware datetimes (any zone; stored as UTC). ``None`` in an input means "not known by this
input", except where a field says otherwise.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import msgspec

__all__ = [
    "AgentRow",
    "BatchResult",
    "ContactUpsert",
    "DeadLetterView",
    "DeliveryRecord",
    "DeliveryStatus",
    "DeliveryView",
    "EventRecord",
    "Receipt",
    "StateChange",
]


class DeliveryStatus(StrEnum):
    """Status of a delivery (the ``deliveries.status`` column)."""

    PENDING = "pending"
    """In the outbox, due at ``next_attempt_at``."""
    QUEUED = "queued"
    """Published to the broker by the relay."""
    RUNNING = "running"
    """A worker started an attempt."""
    SUCCEEDED = "succeeded"
    """The hook returned (terminal)."""
    RETRYING = "retrying"
    """An attempt failed; due again at ``next_attempt_at``."""
    DEAD = "dead"
    """Out of attempts or failed permanently; a dead letter until retried (terminal until then)."""


class AgentRow(msgspec.Struct, frozen=True, kw_only=True):
    """The state of one agent after an accepted snapshot.

    Identity fields (``arn``, ``username``, ``name``, routing profile) keep their stored value when
    ``None``; state fields and ``agent_data`` are replaced as given (``next_state_name=None`` means "no
    state enqueued"). Applied only if ``snapshot_at`` is not older than the stored snapshot.
    """

    key: str
    snapshot_at: dt.datetime
    arn: str | None = None
    username: str | None = None
    name: str | None = None
    routing_profile_arn: str | None = None
    routing_profile_name: str | None = None
    state_name: str | None = None
    state_type: str | None = None
    state_started_at: dt.datetime | None = None
    next_state_name: str | None = None
    last_seq: int = 0
    agent_data: dict[str, Any] | None = None


class StateChange(msgspec.Struct, frozen=True, kw_only=True):
    """One agent state transition (an ``agent_state_history`` row)."""

    agent_key: str
    new_state: str
    occurred_at: dt.datetime
    old_state: str | None = None
    new_state_type: str | None = None


class ContactUpsert(msgspec.Struct, frozen=True, kw_only=True):
    """What one input knows about a contact, versioned by ``source_ts``.

    Applied only when ``source_ts`` is not older than the stored one, or when it is a contact record
    (``source="ctr"``, the authoritative final record) and the row was last written by another source;
    then every ``None`` field keeps the stored value. An input that does not apply changes nothing,
    except for the terminal state: ``state="ended"`` (Streams ``ContactStateType.ENDED``) is never
    replaced once stored, and an input saying ``ended`` sets it (and its ``state_at``) whatever its
    version. ``state`` uses the Streams contact state vocabulary. Durations are whole seconds.
    """

    contact_id: str
    source_ts: dt.datetime
    source: str | None = None
    channel: str | None = None
    contact_type: str | None = None
    initiation_method: str | None = None
    queue_arn: str | None = None
    queue_name: str | None = None
    agent_key: str | None = None
    initial_contact_id: str | None = None
    previous_contact_id: str | None = None
    next_contact_id: str | None = None
    related_contact_id: str | None = None
    state: str | None = None
    state_at: dt.datetime | None = None
    initiated_at: dt.datetime | None = None
    connected_to_agent_at: dt.datetime | None = None
    enqueued_at: dt.datetime | None = None
    dequeued_at: dt.datetime | None = None
    disconnected_at: dt.datetime | None = None
    acw_started_at: dt.datetime | None = None
    acw_ended_at: dt.datetime | None = None
    hold_duration_s: int | None = None
    acw_duration_s: int | None = None
    talk_duration_s: int | None = None
    queue_duration_s: int | None = None
    disconnect_reason: str | None = None
    attributes: dict[str, Any] | None = None
    recording_location: str | None = None
    voice_id_result: dict[str, Any] | None = None


class EventRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One event for the log. ``(agent_key, seq)`` is unique: writing it again is a no-op."""

    name: str
    occurred_at: dt.datetime
    source: str
    agent_key: str | None = None
    seq: int | None = None
    contact_id: str | None = None
    payload: dict[str, Any] | None = None


class DeliveryRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One hook call for the outbox; a second record with the same ``idempotency_key`` is ignored.

    Point at its event with ``event_ref=(agent_key, seq)`` (an event of the same batch or an earlier
    one) or with ``event_id``. ``next_attempt_at=None`` means due now.
    """

    plugin: str
    hook: str
    idempotency_key: str
    event_ref: tuple[str, int] | None = None
    event_id: int | None = None
    contact_id: str | None = None
    ordering_key: str | None = None
    payload: dict[str, Any] | None = None
    next_attempt_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Receipt:
    """A source-level dedupe key: ``("firehose", requestId)``, ``("ctr", f"{ContactId}:{LastUpdate}")``..."""

    source: str
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BatchResult:
    """What :func:`write_batch` wrote."""

    event_ids: dict[tuple[str, int], int] = field(default_factory=dict)
    """Id of every agent event of the batch, new or already stored, by ``(agent_key, seq)``."""
    agentless_event_ids: list[int] = field(default_factory=list)
    """Ids of the batch's events without an agent, in input order."""
    delivery_ids: list[int] = field(default_factory=list)
    """Ids of the deliveries inserted (duplicates by idempotency key excluded), ascending."""
    delivery_groups: list[list[int]] = field(default_factory=list)
    """The same ids grouped per (ordering key, plugin), see :func:`hub.db.group_deliveries`."""
    events_inserted: int = 0
    """Events actually inserted (duplicates by ``(agent_key, seq)`` excluded)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryView:
    """A delivery row as read by the relay, workers and the CLI."""

    id: int
    plugin: str
    hook: str
    status: DeliveryStatus
    idempotency_key: str
    attempts: int
    event_id: int | None
    contact_id: str | None
    ordering_key: str | None
    payload: dict[str, Any] | None
    last_error: str | None
    next_attempt_at: dt.datetime | None
    created_at: dt.datetime
    queued_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    duration_ms: float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class DeadLetterView:
    """A dead letter as listed by the CLI."""

    id: int
    delivery_id: int
    plugin: str
    hook: str
    reason: str
    attempts: int
    payload: dict[str, Any] | None
    created_at: dt.datetime
    retried_at: dt.datetime | None
