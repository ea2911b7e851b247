"""Amazon Connect Agent Event Stream records, and their conversion to the Streams agent data.

An Agent Event Stream record (``shared/reference/aws-formats/agent-event-streams.md``) carries the
agent's ``CurrentAgentSnapshot`` and ``PreviousAgentSnapshot``. :func:`to_agent_data` turns the current
snapshot into what the Streams library consumes, ``{"snapshot": <GetAgentSnapshot wire snapshot>,
"configuration": <agent configuration>}`` (SPEC §8), so a Streams-compatible engine fed successive
converted records raises the events the agent's browser would raise. The conversion is a pure function
of one record: the same record always gives the same agent data, which is what keeps ``HEART_BEAT``
free of false transitions (only ``snapshotTimestamp`` moves, and the library diffs names and types).

Agent state (``snapshot.state``)
================================

AES reports the status the agent *selected* (``AgentStatus``), and keeps reporting it while the agent
is on a call (aws-samples/aws-serverless-connect-wallboard#14). Streams instead shows a *system* state
for voice work (amazon-connect-streams#139, #376, #908: ``Busy``, ``PendingBusy``, ``AfterCallWork``
with type ``system``; the oracle scenarios agree). The state is therefore derived from the voice
contacts first (channel ``VOICE``: Streams types ``voice`` and ``queue_callback``); chats and tasks never
change the agent state (the scenarios keep ``Available`` through chats and tasks; a missed chat does
not change it either, amazon-connect-streams#740). When several voice contacts qualify, the rule
highest in this table wins, then the latest ``StateStartTimestamp``.

=================================== ========================= ================ ===========================
Voice contact ``State``             Streams ``name``          ``type``         ``startTimestamp``
=================================== ========================= ================ ===========================
CONNECTED, CONNECTED_ONHOLD         ``Busy``                  ``system``       ConnectedToAgentTimestamp
CONNECTING, OUTBOUND or CALLBACK    ``CallingCustomer``       ``system``       StateStartTimestamp
CONNECTING, any other method        ``PendingBusy``           ``system``       StateStartTimestamp
INCOMING, PENDING (callbacks)       ``Pending``               ``not_routable`` StateStartTimestamp
MISSED                              ``MissedCallAgent``       ``error``        StateStartTimestamp
ERROR, OUTBOUND or CALLBACK         ``FailedConnectCustomer`` ``error``        StateStartTimestamp
ERROR, any other method             ``FailedConnectAgent``    ``error``        StateStartTimestamp
ENDED (agent in after-contact work) ``AfterCallWork``         ``system``       StateStartTimestamp
none of the above                   ``AgentStatus.Name``      see below        AgentStatus.StartTimestamp
=================================== ========================= ================ ===========================

``AgentStatus.Type``: ``ROUTABLE`` → ``routable``, ``CUSTOM`` → ``not_routable``, ``OFFLINE`` →
``offline``, anything else lower-cased. ``agentStateARN`` is the status ARN for a selected status and
``null`` for derived system states (as in the scenarios). ``AfterCallWork`` is ``system``, not
``not_routable``: that is what the real library reports (#908) and what the oracle scenarios use.
``Pending`` for an offered queued callback is taken from the oracle's ``queue_callback`` scenario.
``LOGOUT`` gives ``Offline``/``offline`` (the status itself when it is an OFFLINE status) and no
contacts, whatever the snapshot says. ``agentAvailabilityState`` is the selected status and its start.
``NextAgentStatus`` becomes ``nextState``; AES gives no type, so it is looked up by ARN among the
configuration's ``agentStates`` (see ``extra_configuration``), else ``Offline`` → ``offline``,
``Available`` → ``routable``, other names → ``not_routable`` (the library only compares its name).

Contacts (``snapshot.contacts[]``)
==================================

* ``type``: ``VOICE`` → ``voice`` (``queue_callback`` when ``InitiationMethod`` is ``CALLBACK``),
  ``CHAT`` → ``chat``, ``TASK``/``TASKS`` → ``task``, ``EMAIL`` → ``email``.
* ``state.type``: the AES state lower-cased, except ``CONNECTED_ONHOLD`` → ``connected`` (Streams
  keeps the contact connected and puts the customer connection on ``hold``). ``state.timestamp``:
  ``ConnectedToAgentTimestamp`` while connected or on hold (so hold/resume does not move it), else
  ``StateStartTimestamp``; the record's ``EventTimestamp`` when AES gives neither (the worker's sort
  needs one).
* ``queue``: ``{queueARN, name}`` from ``Queue``; ``queueTimestamp`` from ``QueueTimestamp``;
  ``initiationMethod`` lower-cased; ``attributes`` ``{}``.
* ``connections``: AES has none, so they are synthesised with stable ids ``<contactId>-agent`` and
  ``<contactId>-customer``. Tasks have only the agent connection (``initial: true``); other channels
  an agent connection (``initial: false``, endpoint ``{type: agent}``) and the initial customer
  connection (``outbound`` for OUTBOUND contacts, else ``inbound``; voice endpoint
  ``{type: phone_number}`` *without* a number; chat without endpoint):

  ====================  ================  ===================================================
  AES ``State``         agent connection  customer connection
  ====================  ================  ===================================================
  INCOMING, PENDING     connecting        connected
  CONNECTING            connecting        connected (OUTBOUND/CALLBACK: agent connected,
                                          customer connecting)
  CONNECTED, PAUSED     connected         connected
  CONNECTED_ONHOLD      connected         hold
  MISSED, REJECTED      disconnected      connected
  ERROR                 disconnected      connected (OUTBOUND/CALLBACK: disconnected)
  ENDED                 disconnected      disconnected
  ====================  ================  ===================================================

What AES does not carry, so the agent data lacks it: customer phone numbers and names, contact
attributes, connection ids, mute, softphone/chat media info, task names/references, the agent's
extension, softphone settings, permissions, dialable countries and selectable agent states
(configuration defaults: ``softphoneEnabled``/``softphoneAutoAccept`` false, ``extension`` ``""``, the
lists empty; ``extra_configuration`` overrides them), hierarchy groups (no Streams field). Whether AES
still reports ``MissedCallAgent`` after the missed contact is removed is undocumented: the derived
state returns to the selected status then, whereas the browser stays in ``MissedCallAgent`` until the
agent picks a status.

Ordering: keep the last applied ``EventTimestamp`` (and ``EventId``) per ``AgentARN`` and apply a
record only if :func:`is_newer`; dedupe on ``EventId`` (:func:`dedupe_key`).

Speed: :func:`to_engine_snapshot` builds the engine's typed snapshot (:class:`hub._data.AgentSnapshot`)
directly, equal to ``decode_snapshot(to_snapshot(event))`` (timestamps cut to milliseconds, as the wire
form has them) without building, formatting and re-parsing the wire dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from hub import _data
from hub._structs import prepare_structs
from hub.sources._util import decode_json, iso_ms, parse_timestamp, pascal, utc
from hub.sources.errors import InvalidRecordError

__all__ = [
    "EVENT_TYPES",
    "AgentConfiguration",
    "AgentEvent",
    "AgentSnapshot",
    "AgentStatus",
    "ChannelConcurrency",
    "Contact",
    "HierarchyGroup",
    "HierarchyGroups",
    "NextAgentStatus",
    "Queue",
    "RoutingProfile",
    "decode_agent_event",
    "dedupe_key",
    "derive_agent_state",
    "is_newer",
    "to_agent_data",
    "to_configuration",
    "to_engine_snapshot",
    "to_snapshot",
    "to_streams_contact",
]

#: The documented ``EventType`` values (others are accepted and converted like ``STATE_CHANGE``).
EVENT_TYPES = ("STATE_CHANGE", "HEART_BEAT", "LOGIN", "LOGOUT")


class _Pascal(msgspec.Struct, frozen=True, kw_only=True, rename=pascal):
    """Base: PascalCase wire names (``ARN``/``AWS`` upper-case), unknown members ignored."""


class Queue(_Pascal, frozen=True):
    """A queue: ``{ARN, Name, Channels}`` (agent queues have ``Name: null``)."""

    arn: str | None = None
    name: str | None = None
    channels: list[str] | None = None


class ChannelConcurrency(_Pascal, frozen=True):
    """One ``RoutingProfile.Concurrency`` entry."""

    channel: str | None = None
    maximum_slots: int | None = None
    available_slots: int | None = None


class RoutingProfile(_Pascal, frozen=True):
    """``Configuration.RoutingProfile``."""

    arn: str | None = None
    name: str | None = None
    inbound_queues: list[Queue] | None = None
    default_outbound_queue: Queue | None = None
    concurrency: list[ChannelConcurrency] | None = None


class HierarchyGroup(_Pascal, frozen=True):
    """One level of the agent's hierarchy."""

    arn: str | None = None
    name: str | None = None


class HierarchyGroups(_Pascal, frozen=True):
    """``AgentHierarchyGroups``: ``Level1`` … ``Level5``."""

    level1: HierarchyGroup | None = None
    level2: HierarchyGroup | None = None
    level3: HierarchyGroup | None = None
    level4: HierarchyGroup | None = None
    level5: HierarchyGroup | None = None


class AgentConfiguration(_Pascal, frozen=True):
    """``AgentSnapshot.Configuration``."""

    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None
    agent_hierarchy_groups: HierarchyGroups | None = None
    routing_profile: RoutingProfile | None = None


class AgentStatus(_Pascal, frozen=True):
    """``AgentStatus``: the selected status (``Type`` ROUTABLE | CUSTOM | OFFLINE)."""

    arn: str | None = None
    name: str | None = None
    start_timestamp: datetime | None = None
    type: str | None = None


class NextAgentStatus(_Pascal, frozen=True):
    """``NextAgentStatus`` (both documented spellings of the enqueue timestamp are accepted)."""

    arn: str | None = None
    name: str | None = None
    enqueued_timestamp: datetime | None = None
    enqueue_timestamp: datetime | None = None


class Contact(_Pascal, frozen=True):
    """One element of ``AgentSnapshot.Contacts``."""

    contact_id: str
    initial_contact_id: str | None = None
    channel: str | None = None
    initiation_method: str | None = None
    state: str | None = None
    state_start_timestamp: datetime | None = None
    connected_to_agent_timestamp: datetime | None = None
    queue_timestamp: datetime | None = None
    queue: Queue | None = None


class AgentSnapshot(_Pascal, frozen=True):
    """``CurrentAgentSnapshot`` / ``PreviousAgentSnapshot``."""

    agent_status: AgentStatus | None = None
    next_agent_status: NextAgentStatus | None = None
    configuration: AgentConfiguration | None = None
    contacts: list[Contact] | None = None


class AgentEvent(_Pascal, frozen=True):
    """An Agent Event Stream record."""

    agent_arn: str
    event_id: str
    event_timestamp: datetime
    event_type: str
    aws_account_id: str | None = None
    instance_arn: str | None = None
    version: str | None = None
    current_agent_snapshot: AgentSnapshot | None = None
    previous_agent_snapshot: AgentSnapshot | None = None


def decode_agent_event(data: bytes | str) -> AgentEvent:
    """Decode one record's JSON.

    :raises MalformedRequestError: naming the offending member when the record does not fit.
    """
    return decode_json(data, AgentEvent, "agent event")


def dedupe_key(event: AgentEvent) -> str:
    """The record's dedupe key: ``EventId``."""
    return event.event_id


def is_newer(
    event: AgentEvent, last_event_timestamp: datetime | str | None, *, last_event_id: str | None = None
) -> bool:
    """Whether ``event`` may be applied on top of the last applied record of the same agent.

    Strictly later ``EventTimestamp`` → yes; earlier → no (out of order). The same timestamp → yes only
    when ``last_event_id`` is given and differs (a distinct event in the same millisecond); without it
    an equal timestamp is treated as a duplicate. Nothing applied yet (``None``) → yes.
    """
    if last_event_timestamp is None:
        return True
    current = utc(event.event_timestamp)
    last = parse_timestamp(last_event_timestamp)
    assert current is not None
    if current != last:
        return current > last
    return last_event_id is not None and event.event_id != last_event_id


_STATUS_TYPES = {"ROUTABLE": "routable", "CUSTOM": "not_routable", "OFFLINE": "offline"}
_OUTWARD = frozenset({"OUTBOUND", "CALLBACK"})
_CONTACT_TYPES = {"VOICE": "voice", "CHAT": "chat", "TASK": "task", "TASKS": "task", "EMAIL": "email"}
_VOICE_TYPES = frozenset({"voice", "queue_callback"})
# AES state -> (agent connection state, customer connection state), inbound direction.
_CONNECTION_STATES = {
    "INCOMING": ("connecting", "connected"),
    "PENDING": ("connecting", "connected"),
    "CONNECTING": ("connecting", "connected"),
    "CONNECTED": ("connected", "connected"),
    "PAUSED": ("connected", "connected"),
    "CONNECTED_ONHOLD": ("connected", "hold"),
    "MISSED": ("disconnected", "connected"),
    "REJECTED": ("disconnected", "connected"),
    "ERROR": ("disconnected", "connected"),
    "ENDED": ("disconnected", "disconnected"),
}
_OUTWARD_CONNECTION_STATES = {
    "CONNECTING": ("connected", "connecting"),
    "ERROR": ("disconnected", "disconnected"),
}


def _upper(value: str | None) -> str:
    return (value or "").upper()


def _contact_type(contact: Contact) -> str:
    channel = _upper(contact.channel)
    if channel == "VOICE" and _upper(contact.initiation_method) == "CALLBACK":
        return "queue_callback"
    return _CONTACT_TYPES.get(channel, channel.lower())


def _normalised(contact: Contact) -> tuple[Contact, str, str, str]:
    """(contact, Streams type, upper-case State, upper-case InitiationMethod), computed once."""
    return contact, _contact_type(contact), _upper(contact.state), _upper(contact.initiation_method)


def _status_type(value: str | None) -> str:
    upper = _upper(value)
    return _STATUS_TYPES.get(upper, upper.lower() or "not_routable")


def _agent_state(arn: str | None, type_: str, name: str, start: datetime | None) -> dict[str, Any]:
    state: dict[str, Any] = {"agentStateARN": arn, "type": type_, "name": name}
    if start is not None:
        state["startTimestamp"] = iso_ms(start)
    return state


def _voice_overlay(
    contact: Contact, state: str, method: str, fallback: datetime
) -> tuple[int, str, str, datetime] | None:
    """(rank, name, type, start) of the system state a voice contact imposes, or None."""
    outward = method in _OUTWARD
    start = utc(contact.state_start_timestamp) or fallback
    if state in ("CONNECTED", "CONNECTED_ONHOLD"):
        return 0, "Busy", "system", utc(contact.connected_to_agent_timestamp) or start
    if state == "CONNECTING":
        return 1, "CallingCustomer" if outward else "PendingBusy", "system", start
    if state in ("INCOMING", "PENDING"):
        return 2, "Pending", "not_routable", start
    if state == "MISSED":
        return 3, "MissedCallAgent", "error", start
    if state == "ERROR":
        return 3, "FailedConnectCustomer" if outward else "FailedConnectAgent", "error", start
    if state == "ENDED":
        return 4, "AfterCallWork", "system", start
    return None


def derive_agent_state(snapshot: AgentSnapshot, event_timestamp: datetime) -> dict[str, Any]:
    """The Streams ``snapshot.state`` for an AES snapshot (rule table in the module docstring)."""
    contacts = [_normalised(c) for c in snapshot.contacts or ()]
    return _derive_state(snapshot.agent_status, contacts, event_timestamp)


def _best_voice_overlay(
    contacts: list[tuple[Contact, str, str, str]], event_timestamp: datetime
) -> tuple[int, str, str, datetime] | None:
    """The voice contact state that overrides the agent's status (highest priority, latest), if any."""
    best: tuple[int, str, str, datetime] | None = None
    for contact, ctype, state, method in contacts:
        if ctype not in _VOICE_TYPES:
            continue
        overlay = _voice_overlay(contact, state, method, event_timestamp)
        if overlay is None:
            continue
        if best is None or overlay[0] < best[0] or (overlay[0] == best[0] and overlay[3] > best[3]):
            best = overlay
    return best


def _derive_state(
    status: AgentStatus | None, contacts: list[tuple[Contact, str, str, str]], event_timestamp: datetime
) -> dict[str, Any]:
    best = _best_voice_overlay(contacts, event_timestamp)
    if best is not None:
        return _agent_state(None, best[2], best[1], best[3])
    if status is None:
        return _agent_state(None, "init", "Init", None)
    return _agent_state(
        status.arn, _status_type(status.type), status.name or "", status.start_timestamp or event_timestamp
    )


def _queue(queue: Queue) -> dict[str, Any]:
    return {"queueARN": queue.arn, "name": queue.name}


def _connections(contact: Contact, ctype: str, state: str, method: str, timestamp: datetime) -> list[dict[str, Any]]:
    outward = method in _OUTWARD
    agent_state, customer_state = (_OUTWARD_CONNECTION_STATES if outward else {}).get(
        state, _CONNECTION_STATES.get(state, ("connected", "connected"))
    )
    start = iso_ms(contact.state_start_timestamp or timestamp)
    agent: dict[str, Any] = {
        "connectionId": f"{contact.contact_id}-agent",
        "type": "agent",
        "initial": ctype == "task",
        "state": {"type": agent_state, "timestamp": start},
        "endpoint": {"type": "agent"},
    }
    if ctype == "task":
        return [agent]
    if customer_state == "connected" and (contact.queue_timestamp or contact.state_start_timestamp is None):
        since = iso_ms(contact.queue_timestamp or timestamp)
    else:
        since = start
    customer: dict[str, Any] = {
        "connectionId": f"{contact.contact_id}-customer",
        "type": "outbound" if method == "OUTBOUND" else "inbound",
        "initial": True,
        "state": {"type": customer_state, "timestamp": since},
    }
    if ctype in _VOICE_TYPES:
        customer["endpoint"] = {"type": "phone_number"}
    return [agent, customer]


def to_streams_contact(contact: Contact, event_timestamp: datetime) -> dict[str, Any]:
    """One AES contact as a ``GetAgentSnapshot`` wire contact (mapping in the module docstring)."""
    return _streams_contact(*_normalised(contact), event_timestamp)


def _streams_contact(
    contact: Contact, ctype: str, state: str, method: str, event_timestamp: datetime
) -> dict[str, Any]:
    if state in ("CONNECTED", "CONNECTED_ONHOLD"):
        since = contact.connected_to_agent_timestamp or contact.state_start_timestamp
        state_type = "connected"
    else:
        since = contact.state_start_timestamp
        state_type = state.lower()
    result: dict[str, Any] = {
        "contactId": contact.contact_id,
        "initialContactId": contact.initial_contact_id,
        "type": ctype,
        "state": {"type": state_type, "timestamp": iso_ms(since or event_timestamp)},
    }
    if contact.queue is not None:
        result["queue"] = _queue(contact.queue)
    if contact.queue_timestamp is not None:
        result["queueTimestamp"] = iso_ms(contact.queue_timestamp)
    result["connections"] = _connections(contact, ctype, state, method, event_timestamp)
    result["attributes"] = {}
    if method:
        result["initiationMethod"] = method.lower()
    return result


def _next_state(next_status: NextAgentStatus, current: AgentStatus | None, known: Mapping[str, str]) -> dict[str, Any]:
    name = next_status.name or ""
    if next_status.arn and next_status.arn in known:
        type_ = known[next_status.arn]
    elif current is not None and next_status.arn and next_status.arn == current.arn:
        type_ = _status_type(current.type)
    else:
        type_ = {"Offline": "offline", "Available": "routable"}.get(name, "not_routable")
    start = next_status.enqueued_timestamp or next_status.enqueue_timestamp
    return _agent_state(next_status.arn, type_, name, start)


def _known_state_types(extra_configuration: Mapping[str, Any] | None) -> dict[str, str]:
    states = (extra_configuration or {}).get("agentStates") or ()
    return {
        str(s["agentStateARN"]): str(s["type"])
        for s in states
        if isinstance(s, Mapping) and s.get("agentStateARN") and s.get("type")
    }


def _current_snapshot(event: AgentEvent) -> AgentSnapshot:
    if event.current_agent_snapshot is not None:
        return event.current_agent_snapshot
    if _upper(event.event_type) == "LOGOUT":
        return event.previous_agent_snapshot or AgentSnapshot()
    raise InvalidRecordError(f"{event.event_type} record {event.event_id} has no CurrentAgentSnapshot")


def to_snapshot(event: AgentEvent, *, extra_configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``GetAgentSnapshot`` wire snapshot for the record (ISO timestamps with ms and ``Z``).

    :raises InvalidRecordError: a non-LOGOUT record without ``CurrentAgentSnapshot``.
    """
    snapshot = _current_snapshot(event)
    event_ts = utc(event.event_timestamp)
    assert event_ts is not None
    status = snapshot.agent_status
    if _upper(event.event_type) == "LOGOUT":
        if status is not None and _upper(status.type) == "OFFLINE":
            state = _agent_state(status.arn, "offline", status.name or "Offline", status.start_timestamp)
        else:
            state = _agent_state(None, "offline", "Offline", event_ts)
        contacts: list[dict[str, Any]] = []
    else:
        normalised = [_normalised(c) for c in snapshot.contacts or ()]
        state = _derive_state(status, normalised, event_ts)
        contacts = [_streams_contact(*n, event_ts) for n in normalised]
    result: dict[str, Any] = {"state": state}
    if snapshot.next_agent_status is not None and _upper(event.event_type) != "LOGOUT":
        known = _known_state_types(extra_configuration)
        result["nextState"] = _next_state(snapshot.next_agent_status, status, known)
    if status is not None:
        result["agentAvailabilityState"] = {
            "state": status.name,
            "timeStamp": iso_ms(status.start_timestamp),
        }
    result["contacts"] = contacts
    result["snapshotTimestamp"] = iso_ms(event_ts)
    return result


def to_configuration(event: AgentEvent, *, extra_configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Streams agent configuration from ``Configuration`` (of the current, else previous, snapshot).

    Members AES lacks get neutral defaults; ``extra_configuration`` (e.g. ``agentStates``,
    ``permissions``, ``softphoneEnabled`` fetched from the Connect API) is merged over the result.
    """
    config: AgentConfiguration | None = None
    for snap in (event.current_agent_snapshot, event.previous_agent_snapshot):
        if snap is not None and snap.configuration is not None:
            config = snap.configuration
            break
    config = config or AgentConfiguration()
    profile = config.routing_profile or RoutingProfile()
    routing: dict[str, Any] = {"name": profile.name, "routingProfileARN": profile.arn}
    if profile.default_outbound_queue is not None:
        routing["defaultOutboundQueue"] = _queue(profile.default_outbound_queue)
    if profile.concurrency is not None:
        routing["channelConcurrencyMap"] = {
            ("TASK" if _upper(c.channel) == "TASKS" else _upper(c.channel)): c.maximum_slots
            for c in profile.concurrency
            if c.channel and c.maximum_slots is not None
        }
    routing["queues"] = [_queue(q) for q in profile.inbound_queues or ()]
    full_name = " ".join(part for part in (config.first_name, config.last_name) if part)
    result: dict[str, Any] = {
        "name": full_name or config.username or "",
        "username": config.username,
        "softphoneEnabled": False,
        "softphoneAutoAccept": False,
        "extension": "",
        "agentARN": event.agent_arn,
        "routingProfile": routing,
        "agentStates": [],
        "permissions": [],
        "dialableCountries": [],
    }
    result.update(extra_configuration or {})
    return result


def to_agent_data(event: AgentEvent, *, extra_configuration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``{"snapshot": ..., "configuration": ...}`` for the record, as the Streams engine consumes it.

    :param extra_configuration: configuration members known from elsewhere (merged over the defaults).
    :raises InvalidRecordError: a non-LOGOUT record without ``CurrentAgentSnapshot``.
    """
    return {
        "snapshot": to_snapshot(event, extra_configuration=extra_configuration),
        "configuration": to_configuration(event, extra_configuration=extra_configuration),
    }


# ---------------------------------------------------------------------- typed (engine) conversion
# The same rules as the dict functions above, building ``hub._data`` structs directly.

_AGENT_ENDPOINT = _data.EndpointData(type="agent")
_PHONE_ENDPOINT = _data.EndpointData(type="phone_number")


def _ms(value: datetime | None) -> datetime | None:
    """``value`` as the wire form carries it: UTC, cut to milliseconds (what ``iso_ms`` then parsing gives)."""
    if value is None:
        return None
    moment = utc(value)
    assert moment is not None
    extra = moment.microsecond % 1000
    return moment.replace(microsecond=moment.microsecond - extra) if extra else moment


def _engine_state(arn: str | None, type_: str, name: str, start: datetime | None) -> _data.AgentStateInfo:
    return _data.AgentStateInfo(type=type_, name=name, agent_state_arn=arn, start_timestamp=_ms(start))


def _engine_derive_state(
    status: AgentStatus | None, contacts: list[tuple[Contact, str, str, str]], event_timestamp: datetime
) -> _data.AgentStateInfo:
    best = _best_voice_overlay(contacts, event_timestamp)
    if best is not None:
        return _engine_state(None, best[2], best[1], best[3])
    if status is None:
        return _engine_state(None, "init", "Init", None)
    return _engine_state(
        status.arn, _status_type(status.type), status.name or "", status.start_timestamp or event_timestamp
    )


def _engine_connections(
    contact: Contact, ctype: str, state: str, method: str, timestamp: datetime
) -> tuple[_data.ConnectionData, ...]:
    outward = method in _OUTWARD
    agent_state, customer_state = (_OUTWARD_CONNECTION_STATES if outward else {}).get(
        state, _CONNECTION_STATES.get(state, ("connected", "connected"))
    )
    start = _ms(contact.state_start_timestamp or timestamp)
    agent = _data.ConnectionData(
        connection_id=f"{contact.contact_id}-agent",
        type="agent",
        initial=ctype == "task",
        state=_data.StateInfo(type=agent_state, timestamp=start),
        endpoint=_AGENT_ENDPOINT,
    )
    if ctype == "task":
        return (agent,)
    if customer_state == "connected" and (contact.queue_timestamp or contact.state_start_timestamp is None):
        since = _ms(contact.queue_timestamp or timestamp)
    else:
        since = start
    customer = _data.ConnectionData(
        connection_id=f"{contact.contact_id}-customer",
        type="outbound" if method == "OUTBOUND" else "inbound",
        initial=True,
        state=_data.StateInfo(type=customer_state, timestamp=since),
        endpoint=_PHONE_ENDPOINT if ctype in _VOICE_TYPES else None,
    )
    return (agent, customer)


def _engine_contact(
    contact: Contact, ctype: str, state: str, method: str, event_timestamp: datetime
) -> _data.ContactData:
    if state in ("CONNECTED", "CONNECTED_ONHOLD"):
        since = contact.connected_to_agent_timestamp or contact.state_start_timestamp
        state_type = "connected"
    else:
        since = contact.state_start_timestamp
        state_type = state.lower()
    queue = contact.queue
    return _data.ContactData(
        contact_id=contact.contact_id,
        type=ctype,
        state=_data.StateInfo(type=state_type, timestamp=_ms(since or event_timestamp)),
        initial_contact_id=contact.initial_contact_id,
        queue=_data.QueueRef(queue_arn=queue.arn, name=queue.name) if queue is not None else None,
        queue_timestamp=_ms(contact.queue_timestamp),
        connections=_engine_connections(contact, ctype, state, method, event_timestamp),
        initiation_method=method.lower() if method else None,
    )


def to_engine_snapshot(event: AgentEvent) -> _data.AgentSnapshot:
    """:func:`to_snapshot` as the engine's typed snapshot: equal to ``decode_snapshot(to_snapshot(event))``.

    :raises InvalidRecordError: a non-LOGOUT record without ``CurrentAgentSnapshot``.
    """
    snapshot = _current_snapshot(event)
    event_ts = utc(event.event_timestamp)
    assert event_ts is not None
    status = snapshot.agent_status
    logout = _upper(event.event_type) == "LOGOUT"
    contacts: tuple[_data.ContactData, ...] = ()
    if logout:
        if status is not None and _upper(status.type) == "OFFLINE":
            state = _engine_state(status.arn, "offline", status.name or "Offline", status.start_timestamp)
        else:
            state = _engine_state(None, "offline", "Offline", event_ts)
    else:
        normalised = [_normalised(c) for c in snapshot.contacts or ()]
        state = _engine_derive_state(status, normalised, event_ts)
        contacts = tuple(_engine_contact(*n, event_ts) for n in normalised)
    next_state: _data.AgentStateInfo | None = None
    if snapshot.next_agent_status is not None and not logout:
        wire = _next_state(snapshot.next_agent_status, status, {})
        next_state = _engine_state(wire["agentStateARN"], wire["type"], wire["name"], _next_start(snapshot))
    availability = (
        _data.AgentAvailabilityState(state=status.name, time_stamp=_ms(status.start_timestamp))
        if status is not None
        else None
    )
    return _data.AgentSnapshot(
        state=state,
        contacts=contacts,
        next_state=next_state,
        agent_availability_state=availability,
        snapshot_timestamp=_ms(event_ts),
    )


def _next_start(snapshot: AgentSnapshot) -> datetime | None:
    status = snapshot.next_agent_status
    assert status is not None
    return status.enqueued_timestamp or status.enqueue_timestamp


prepare_structs(globals())
