"""Agent Event Stream records (``LOGIN``, ``LOGOUT``, ``STATE_CHANGE``, ``HEART_BEAT``) with the
agent's current and previous ``AgentSnapshot``, as Amazon Connect writes them to Kinesis.
"""

from __future__ import annotations

from typing import Any

from hub.simulator.clock import iso_ms
from hub.simulator.config import SimulationConfig
from hub.simulator.model import VOICE_TYPES, Agent, Leg
from hub.simulator.streams_wire import state_arn

__all__ = ["AES_VERSION", "aes_record", "aes_snapshot", "aes_status_type"]

JSON = dict[str, Any]
AES_VERSION = "2019-05-25"

_STATUS_TYPES = {"routable": "ROUTABLE", "not_routable": "CUSTOM", "offline": "OFFLINE"}
_CHANNEL_QUEUES = ("VOICE", "CHAT", "TASK")


def aes_status_type(streams_type: str) -> str:
    """The AES ``AgentStatus.Type`` of a configured status type (``routable`` -> ``ROUTABLE`` ...)."""
    return _STATUS_TYPES[streams_type]


def _queue(config: SimulationConfig, queue_id: str, name: str | None, channels: tuple[str, ...]) -> JSON:
    return {"ARN": config.arn(f"queue/{queue_id}"), "Name": name, "Channels": list(channels)}


def _contact_state(leg: Leg) -> str:
    state = leg.state
    if state == "connected":
        customer = leg.contact.customer
        if customer is not None and customer.state == "hold":
            return "CONNECTED_ONHOLD"
        return "CONNECTED"
    if state == "rejected" and leg.contact.type in VOICE_TYPES:
        return "MISSED"  # rejected voice contacts appear as MISSED in the agent event stream
    return state.upper()


def _contact(config: SimulationConfig, leg: Leg) -> JSON:
    c = leg.contact
    out: JSON = {
        "ContactId": c.contact_id,
        "InitialContactId": c.initial_contact_id,
        "Channel": c.channel,
        "InitiationMethod": c.initiation_method.upper(),
        "State": _contact_state(leg),
        "StateStartTimestamp": iso_ms(leg.state_ms),
        "QueueTimestamp": iso_ms(c.enqueue_ms if c.enqueue_ms is not None else c.initiation_ms),
        "Queue": _queue(config, c.queue.queue_id, c.queue.name, c.queue.channels),
    }
    if c.connected_to_agent_ms is not None and c.agent_id == leg.agent_id:
        out["ConnectedToAgentTimestamp"] = iso_ms(c.connected_to_agent_ms)
    return out


def aes_snapshot(config: SimulationConfig, agent: Agent) -> JSON:
    """The ``AgentSnapshot`` of ``agent`` as it is now."""
    used = {ch: len(agent.legs_of(ch)) for ch in _CHANNEL_QUEUES}
    profile = agent.profile
    queues = [config.queue_spec(q) for q in profile.queue_ids]
    outbound = config.queue_spec(profile.default_outbound_queue)
    snap: JSON = {
        "AgentStatus": {
            "ARN": state_arn(config, agent.selected),
            "Name": agent.selected.name,
            "StartTimestamp": iso_ms(agent.selected_ms),
            "Type": aes_status_type(agent.selected.type),
        },
        "Configuration": {
            "FirstName": agent.first_name,
            "LastName": agent.last_name,
            "Username": agent.username,
            "AgentHierarchyGroups": None,
            "RoutingProfile": {
                "ARN": config.arn(f"routing-profile/{profile.profile_id}"),
                "Name": profile.name,
                "InboundQueues": [_queue(config, q.queue_id, q.name, q.channels) for q in queues]
                + [_queue(config, f"agent/{agent.agent_id}", None, _CHANNEL_QUEUES)],
                "DefaultOutboundQueue": _queue(config, outbound.queue_id, outbound.name, outbound.channels),
                "Concurrency": [
                    {
                        "Channel": ch,
                        "AvailableSlots": max(0, profile.concurrency.get(ch, 0) - used[ch]),
                        "MaximumSlots": profile.concurrency.get(ch, 0),
                    }
                    for ch in _CHANNEL_QUEUES
                    if profile.concurrency.get(ch, 0) > 0
                ],
            },
        },
        "Contacts": [_contact(config, leg) for leg in agent.legs.values()],
    }
    if agent.next_state is not None:
        snap["NextAgentStatus"] = {
            "ARN": state_arn(config, agent.next_state),
            "Name": agent.next_state.name,
            "EnqueuedTimestamp": iso_ms(agent.next_state_ms),
        }
    return snap


def aes_record(
    config: SimulationConfig,
    agent: Agent,
    event_type: str,
    event_id: str,
    now: int,
    *,
    current: JSON,
    previous: JSON | None,
) -> JSON:
    """One Agent Event Stream record."""
    record: JSON = {
        "AWSAccountId": config.account_id,
        "AgentARN": config.arn(f"agent/{agent.agent_id}"),
        "CurrentAgentSnapshot": current,
        "EventId": event_id,
        "EventTimestamp": iso_ms(now),
        "EventType": event_type,
        "InstanceARN": config.instance_arn,
        "Version": AES_VERSION,
    }
    if previous is not None:
        record["PreviousAgentSnapshot"] = previous
    return record
