"""Streams agent data as Amazon Connect sends it: the ``GetAgentSnapshot`` wire snapshot and the
agent configuration, in exactly the shape of the oracle scenarios (ISO timestamps with ms and ``Z``).
"""

from __future__ import annotations

import json
from typing import Any

from hub.simulator.clock import iso_ms
from hub.simulator.config import AgentStateSpec, SimulationConfig
from hub.simulator.model import Agent, Connection, Leg

__all__ = ["agent_configuration", "agent_snapshot", "state_arn"]

JSON = dict[str, Any]


def state_arn(config: SimulationConfig, spec: AgentStateSpec) -> str:
    """The ARN of a configured agent status."""
    return config.arn(f"agent-state/{spec.state_id}")


def _state(config: SimulationConfig, spec: AgentStateSpec, start_ms: int) -> JSON:
    return {
        "agentStateARN": state_arn(config, spec),
        "type": spec.type,
        "name": spec.name,
        "startTimestamp": iso_ms(start_ms),
    }


def _connection(conn: Connection, media: JSON | None) -> JSON:
    out: JSON = {
        "connectionId": conn.connection_id,
        "type": conn.type,
        "initial": conn.initial,
        "state": {"type": conn.state, "timestamp": iso_ms(conn.state_ms)},
        "mute": False,
    }
    if conn.endpoint is not None:
        out["endpoint"] = dict(conn.endpoint)
    if media is not None:
        out.update(media)
    return out


def _agent_media(leg: Leg) -> JSON | None:
    contact = leg.contact
    if contact.type in {"voice", "queue_callback"}:
        return {
            "softphoneMediaInfo": {
                "callType": "audio_only",
                "autoAccept": False,
                "mediaLegContextToken": f"mlct-{leg.connection.connection_id[:8]}",
                "callContextToken": f"cct-{leg.connection.connection_id[:8]}",
                "callConfigJson": "{}",
            }
        }
    if contact.type == "chat":
        token = json.dumps({"ConnectionAuthenticationToken": f"sim-{leg.connection.connection_id}"})
        return {"chatMediaInfo": {"chatAutoAccept": False, "connectionData": token, "customerName": None}}
    return None


def _contact(config: SimulationConfig, leg: Leg, now: int) -> JSON:
    c = leg.contact
    connections = [_connection(leg.connection, _agent_media(leg))]
    for other in c.other_connections():
        media = None
        if c.type == "chat" and other is c.customer:
            media = {
                "chatMediaInfo": {
                    "chatAutoAccept": None,
                    "connectionData": None,
                    "customerName": c.customer_name,
                }
            }
        connections.append(_connection(other, media))
    duration = 0
    if c.connected_to_agent_ms is not None and leg.state not in {"missed", "rejected", "error"}:
        end = c.disconnect_ms if c.disconnect_ms is not None else now
        duration = max(0, (end - c.connected_to_agent_ms) // 1000)
    out: JSON = {
        "contactId": c.contact_id,
        "initialContactId": None if c.type == "task" and c.initial_contact_id == c.contact_id else c.initial_contact_id,
        "type": c.type,
        "state": {"type": leg.state, "timestamp": iso_ms(leg.state_ms)},
        "queue": {"queueARN": config.arn(f"queue/{c.queue.queue_id}"), "name": c.queue.name},
        "queueTimestamp": iso_ms(c.enqueue_ms if c.enqueue_ms is not None else c.initiation_ms),
        "connections": connections,
        "attributes": {k: {"name": k, "value": v} for k, v in c.attributes.items()},
        "contactDuration": str(duration),
        "initiationMethod": c.initiation_method,
    }
    if c.related_contact_id is not None:
        out["relatedContactId"] = c.related_contact_id
    if c.type == "chat":
        out["contactFeatures"] = {
            "attachmentsEnabled": True,
            "messagingMarkdownEnabled": True,
            "multiPartyConferenceEnabled": False,
        }
    if c.type == "task":
        out["name"] = c.task_name
        out["description"] = c.task_description
        out["references"] = {k: dict(v) for k, v in c.references.items()}
    return out


def agent_snapshot(config: SimulationConfig, agent: Agent, now: int) -> JSON:
    """The ``GetAgentSnapshot`` ``snapshot`` for ``agent`` at simulated time ``now``."""
    name, type_, state_key = agent.display
    spec = next((s for s in config.agent_states if s.state_id == state_key), None)
    snapshot: JSON = {
        "state": {
            "agentStateARN": state_arn(config, spec) if spec is not None else None,
            "type": type_,
            "name": name,
            "startTimestamp": iso_ms(agent.display_ms),
        },
        "agentAvailabilityState": {"state": agent.selected.name, "timeStamp": iso_ms(agent.selected_ms)},
        "contacts": [_contact(config, leg, now) for leg in agent.legs.values()],
        "snapshotTimestamp": iso_ms(now),
    }
    if agent.next_state is not None:
        snapshot["nextState"] = _state(config, agent.next_state, agent.next_state_ms)
    return snapshot


def agent_configuration(config: SimulationConfig, agent: Agent) -> JSON:
    """The agent configuration as ``agent.getConfiguration()`` returns it (oracle scenario shape)."""
    profile = agent.profile
    default_queue = config.queue_spec(profile.default_outbound_queue)
    queues: list[JSON] = [
        {"queueARN": config.arn(f"queue/{q}"), "name": config.queue_spec(q).name} for q in profile.queue_ids
    ]
    queues.append({"queueARN": config.arn(f"queue/agent/{agent.agent_id}"), "name": None})
    return {
        "name": f"{agent.first_name} {agent.last_name}",
        "username": agent.username,
        "softphoneEnabled": True,
        "softphoneAutoAccept": False,
        "extension": agent.extension,
        "agentARN": config.arn(f"agent/{agent.agent_id}"),
        "agentPreferences": {"locale": "en_US"},
        "routingProfile": {
            "name": profile.name,
            "routingProfileARN": config.arn(f"routing-profile/{profile.profile_id}"),
            "defaultOutboundQueue": {
                "queueARN": config.arn(f"queue/{default_queue.queue_id}"),
                "name": default_queue.name,
            },
            "channelConcurrencyMap": dict(profile.concurrency),
            "queues": queues,
        },
        "agentStates": [
            {"agentStateARN": state_arn(config, s), "type": s.type, "name": s.name} for s in config.agent_states
        ],
        "permissions": ["outboundCall", "voiceId"],
        "dialableCountries": ["us", "ca", "gb"],
    }
