"""The hub's tables as typed SQLAlchemy 2 models (``Mapped[...]`` / ``mapped_column``).

Every constraint and index is named through the metadata's naming convention, so Alembic's
autogenerate and ``compare_metadata`` see the same names in the models and in the database. Writes on
the hot path go through Core ``insert``/``update`` on these tables (see ``_upserts.py``), never
through per-row ORM ``add``; the ORM classes are used for reads and for the schema.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ._types import JSONLogType, JSONType, UTCDateTime, utcnow

__all__ = [
    "DELIVERY_STATUSES",
    "Agent",
    "AgentStateHistory",
    "Base",
    "Contact",
    "DeadLetter",
    "Delivery",
    "Event",
    "IngestReceipt",
]

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s__%(column_0_N_name)s",
    "uq": "uq_%(table_name)s__%(column_0_N_name)s",
    "ck": "ck_%(table_name)s__%(constraint_name)s",
    "fk": "fk_%(table_name)s__%(column_0_name)s__%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Every value ``deliveries.status`` may hold (checked by a constraint).
DELIVERY_STATUSES: tuple[str, ...] = ("pending", "queued", "running", "succeeded", "retrying", "dead")

# SQLite only auto-increments an ``INTEGER PRIMARY KEY`` (a rowid alias), not ``BIGINT``.
_BigID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base: naming convention, and Python types mapped to the portable column types."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
    }


class Agent(Base):
    """One row per agent: the last accepted state, enough to rebuild the agent's session after a restart."""

    __tablename__ = "agents"

    #: Agent ARN when known, else the username: the identity every other table refers to.
    key: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    #: Agent ARN (``arn:aws:connect:...:instance/.../agent/...``).
    arn: Mapped[str | None] = mapped_column(sa.String(512))
    #: Amazon Connect username (login).
    username: Mapped[str | None] = mapped_column(sa.String(128), index=True)
    #: Display name from the agent configuration.
    name: Mapped[str | None] = mapped_column(sa.String(256))
    #: Routing profile ARN and name.
    routing_profile_arn: Mapped[str | None] = mapped_column(sa.String(512))
    routing_profile_name: Mapped[str | None] = mapped_column(sa.String(256))
    #: Current agent state name (``Available``, ``Offline``, ``Busy``...) and type (``routable``...).
    state_name: Mapped[str | None] = mapped_column(sa.String(128))
    state_type: Mapped[str | None] = mapped_column(sa.String(32))
    #: When the current state started (the snapshot's ``state.startTimestamp``).
    state_started_at: Mapped[dt.datetime | None]
    #: State enqueued with ``setState(..., {enqueueNextState: true})``, applied after the contacts end.
    next_state_name: Mapped[str | None] = mapped_column(sa.String(128))
    #: Timestamp of the snapshot this row reflects: the version key, older inputs never overwrite it.
    snapshot_at: Mapped[dt.datetime | None]
    #: Highest per-agent event ``seq`` written; the runtime continues numbering from here.
    last_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    #: The last accepted Streams agent data document (rebuilds the session after a restart).
    agent_data: Mapped[dict[str, Any] | None] = mapped_column(JSONLogType)
    #: First seen / last written (wall clock).
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=sa.func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=sa.func.now())


class AgentStateHistory(Base):
    """Agent state transitions, one row each; idempotent on (agent, time, new state)."""

    __tablename__ = "agent_state_history"
    __table_args__ = (sa.UniqueConstraint("agent_key", "occurred_at", "new_state"),)

    id: Mapped[int] = mapped_column(_BigID, primary_key=True, autoincrement=True)
    #: The agent (``agents.key``); history goes with the agent.
    agent_key: Mapped[str] = mapped_column(
        sa.String(512), sa.ForeignKey("agents.key", ondelete="CASCADE", onupdate="CASCADE")
    )
    #: State name before the transition (``None`` for the first state seen).
    old_state: Mapped[str | None] = mapped_column(sa.String(128))
    #: State name after the transition, and its type.
    new_state: Mapped[str] = mapped_column(sa.String(128))
    new_state_type: Mapped[str | None] = mapped_column(sa.String(32))
    #: When the new state started (source time, not receipt time).
    occurred_at: Mapped[dt.datetime]


class Contact(Base):
    """One row per contact id, upserted from agent data, contact records and contact events.

    ``source_ts`` is the version key: an upsert only applies when its source timestamp is at least
    the stored one, and then column by column keeps stored values the newer input does not carry.
    """

    __tablename__ = "contacts"

    #: Amazon Connect contact id.
    contact_id: Mapped[str] = mapped_column(sa.String(256), primary_key=True)
    #: ``VOICE`` / ``CHAT`` / ``TASK`` / ``EMAIL`` (contact records), or the Streams ``type`` below.
    channel: Mapped[str | None] = mapped_column(sa.String(16))
    #: Streams contact type (``voice``, ``queue_callback``, ``chat``, ``task``...).
    contact_type: Mapped[str | None] = mapped_column(sa.String(32))
    #: ``INBOUND``, ``OUTBOUND``, ``TRANSFER``, ``CALLBACK``, ``API``, ``QUEUE_TRANSFER``...
    initiation_method: Mapped[str | None] = mapped_column(sa.String(32))
    #: Queue ARN and name.
    queue_arn: Mapped[str | None] = mapped_column(sa.String(512))
    queue_name: Mapped[str | None] = mapped_column(sa.String(256))
    #: Agent handling the contact (``agents.key`` when the agent is known to the hub; not enforced).
    agent_key: Mapped[str | None] = mapped_column(sa.String(512), index=True)
    #: Contact chain: the first contact, the previous / next one (transfers), a related one.
    initial_contact_id: Mapped[str | None] = mapped_column(sa.String(256), index=True)
    previous_contact_id: Mapped[str | None] = mapped_column(sa.String(256))
    next_contact_id: Mapped[str | None] = mapped_column(sa.String(256))
    related_contact_id: Mapped[str | None] = mapped_column(sa.String(256))
    #: Streams contact state (``incoming``, ``connected``, ``ended``...) and when it started.
    state: Mapped[str | None] = mapped_column(sa.String(32))
    state_at: Mapped[dt.datetime | None]
    #: Lifecycle timestamps (contact record and contact event names in brackets):
    #: initiation [InitiationTimestamp], connected to agent [Agent.ConnectedToAgentTimestamp],
    #: enqueue / dequeue [Queue.EnqueueTimestamp / DequeueTimestamp], disconnect [DisconnectTimestamp],
    #: after-contact work [Agent.AfterContactWorkStartTimestamp / EndTimestamp].
    initiated_at: Mapped[dt.datetime | None]
    connected_to_agent_at: Mapped[dt.datetime | None]
    enqueued_at: Mapped[dt.datetime | None]
    dequeued_at: Mapped[dt.datetime | None]
    disconnected_at: Mapped[dt.datetime | None]
    acw_started_at: Mapped[dt.datetime | None]
    acw_ended_at: Mapped[dt.datetime | None]
    #: Durations in seconds: customer hold [CustomerHoldDuration], ACW [AfterContactWorkDuration],
    #: talk [AgentInteractionDuration], queue [Queue.Duration].
    hold_duration_s: Mapped[int | None]
    acw_duration_s: Mapped[int | None]
    talk_duration_s: Mapped[int | None]
    queue_duration_s: Mapped[int | None]
    #: ``CUSTOMER_DISCONNECT``, ``AGENT_DISCONNECT``, ... (may stay ``None``).
    disconnect_reason: Mapped[str | None] = mapped_column(sa.String(64))
    #: Contact attributes (string to string), the whole map as last reported.
    attributes: Mapped[dict[str, Any] | None]
    #: First recording's S3 location [Recording.Location].
    recording_location: Mapped[str | None] = mapped_column(sa.String(1024))
    #: ``VoiceIdResult`` from the contact record, or Voice ID results seen through Streams.
    voice_id_result: Mapped[dict[str, Any] | None]
    #: Source of the newest applied input (``streams``, ``aes``, ``ctr``, ``eventbridge``, ``simulator``).
    source: Mapped[str | None] = mapped_column(sa.String(32))
    #: Source timestamp of the newest applied input (snapshot time, ``LastUpdateTimestamp``...): the version.
    source_ts: Mapped[dt.datetime]
    #: First seen / last written (wall clock).
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=sa.func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=sa.func.now())


class Event(Base):
    """The event log: the Streams-style events worth keeping (see ``is_persisted_event``)."""

    __tablename__ = "events"
    __table_args__ = (
        # Per-agent monotonic sequence; makes re-writing the same events a no-op.
        sa.UniqueConstraint("agent_key", "seq"),
        # One contact's events in order (replay to a plugin).
        sa.Index(None, "contact_id", "id"),
    )

    id: Mapped[int] = mapped_column(_BigID, primary_key=True, autoincrement=True)
    #: The agent whose session raised the event; ``None`` for agent-less events (contact events).
    agent_key: Mapped[str | None] = mapped_column(sa.String(512))
    #: The contact the event is about, if any.
    contact_id: Mapped[str | None] = mapped_column(sa.String(256))
    #: Per-agent monotonic sequence number (``None`` when ``agent_key`` is ``None``).
    seq: Mapped[int | None] = mapped_column(sa.BigInteger)
    #: Event name without the contact id suffix (``agent::state_change``, ``contact::connected``...).
    name: Mapped[str] = mapped_column(sa.String(128))
    #: Source time of the event.
    occurred_at: Mapped[dt.datetime] = mapped_column(index=True)
    #: Event data (e.g. ``{"oldState": ..., "newState": ...}``).
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONLogType)
    #: Where the input came from (``streams``, ``aes``, ``ctr``, ``eventbridge``, ``simulator``).
    source: Mapped[str] = mapped_column(sa.String(32))
    #: When the hub wrote the event.
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=sa.func.now())


class Delivery(Base):
    """The outbox and the delivery history: one row per (event, plugin, hook) hook call."""

    __tablename__ = "deliveries"
    __table_args__ = (
        sa.CheckConstraint("status IN ({})".format(", ".join(f"'{s}'" for s in DELIVERY_STATUSES)), name="status"),
        # The relay: due rows by status and time.
        sa.Index(None, "status", "next_attempt_at"),
        # Ordering: the earliest unfinished delivery of one key for one plugin.
        sa.Index(None, "ordering_key", "plugin", "id"),
    )

    id: Mapped[int] = mapped_column(_BigID, primary_key=True, autoincrement=True)
    #: Plugin (entry-point name) and hook name.
    plugin: Mapped[str] = mapped_column(sa.String(128))
    hook: Mapped[str] = mapped_column(sa.String(128))
    #: The event that caused the call (``None`` for calls not tied to a stored event). Not a foreign key:
    #: checking one costs a lookup and a row lock on ``events`` per delivery written, on the hub's
    #: busiest statement; the hub writes deliveries only with events of the same transaction or stored
    #: ones, and :func:`hub.db.prune_history` deletes only events no delivery refers to.
    event_id: Mapped[int | None] = mapped_column(sa.BigInteger, index=True)
    #: The contact concerned, if any. Not indexed: a contact's deliveries are found through its events
    #: (``events (contact_id, id)``, then ``deliveries (event_id)``), which keeps the outbox's inserts cheaper.
    contact_id: Mapped[str | None] = mapped_column(sa.String(256))
    #: Calls with the same key run in ``id`` order per plugin (the contact id, or the agent key).
    ordering_key: Mapped[str | None] = mapped_column(sa.String(512))
    #: Stable across retries and replays of the same call; handed to the plugin.
    idempotency_key: Mapped[str] = mapped_column(sa.String(512), unique=True)
    #: Extra call arguments (for calls whose data is not the event itself).
    payload: Mapped[dict[str, Any] | None]
    #: ``pending`` → ``queued`` → ``running`` → ``succeeded`` | ``retrying`` (→ ``queued``...) | ``dead``.
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", server_default="pending")
    #: Attempts started so far.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    #: Last error text (exception type and message).
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    #: When the relay may publish the delivery (next retry time for ``retrying``).
    next_attempt_at: Mapped[dt.datetime | None]
    #: Written (outbox insert), published to the broker, last started, finished (succeeded or dead).
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=sa.func.now())
    queued_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    #: Run time of the last attempt, in milliseconds.
    duration_ms: Mapped[float | None]


class DeadLetter(Base):
    """A delivery that ran out of attempts (or failed permanently); listable and retriable.

    The delivery row carries the current status (``dead``); this table keeps each death, so a letter
    retried and dead again shows twice.
    """

    __tablename__ = "dead_letters"
    __table_args__ = (sa.Index(None, "retried_at", "created_at"),)

    id: Mapped[int] = mapped_column(_BigID, primary_key=True, autoincrement=True)
    #: The dead delivery.
    delivery_id: Mapped[int] = mapped_column(
        sa.BigInteger, sa.ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    #: Plugin and hook (copied from the delivery for listing).
    plugin: Mapped[str] = mapped_column(sa.String(128))
    hook: Mapped[str] = mapped_column(sa.String(128))
    #: Why it died (the last error, or "attempts exhausted", "timeout"...).
    reason: Mapped[str] = mapped_column(sa.Text)
    #: Attempts made before it died.
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    #: The delivery's payload and event id at the time of death.
    payload: Mapped[dict[str, Any] | None]
    #: When it died, and when it was sent back to the outbox (``None`` while dead).
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=sa.func.now())
    retried_at: Mapped[dt.datetime | None]


class IngestReceipt(Base):
    """Source-level deduplication: one row per input already accepted.

    Keys: Firehose ``requestId``, Agent Event Stream ``EventId``, contact record
    ``ContactId:LastUpdateTimestamp``, EventBridge event ``id``.
    """

    __tablename__ = "ingest_receipts"

    #: ``firehose``, ``aes``, ``ctr``, ``eventbridge``, ``bridge``...
    source: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    #: The source's id for the input.
    key: Mapped[str] = mapped_column(sa.String(512), primary_key=True)
    #: When it was first received (for pruning).
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow, server_default=sa.func.now(), index=True)


# Typed handles on the Core tables, for the executemany write path and the outbox queries.
AGENTS: sa.Table = Base.metadata.tables["agents"]
STATE_HISTORY: sa.Table = Base.metadata.tables["agent_state_history"]
CONTACTS: sa.Table = Base.metadata.tables["contacts"]
EVENTS: sa.Table = Base.metadata.tables["events"]
DELIVERIES: sa.Table = Base.metadata.tables["deliveries"]
DEAD_LETTERS: sa.Table = Base.metadata.tables["dead_letters"]
RECEIPTS: sa.Table = Base.metadata.tables["ingest_receipts"]
