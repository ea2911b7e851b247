"""EventBridge "Amazon Connect Contact Event" envelopes (``INITIATED``, ``QUEUED``,
``CONNECTED_TO_SYSTEM``, ``CONNECTED_TO_AGENT``, ``DISCONNECTED``, ``COMPLETED``)."""

from __future__ import annotations

from typing import Any

from hub.simulator.clock import iso_ms, iso_s
from hub.simulator.config import SimulationConfig
from hub.simulator.model import Contact

__all__ = ["CONTACT_EVENT_TYPES", "contact_event"]

JSON = dict[str, Any]
CONTACT_EVENT_TYPES = (
    "INITIATED",
    "QUEUED",
    "CONNECTED_TO_SYSTEM",
    "CONNECTED_TO_AGENT",
    "DISCONNECTED",
    "COMPLETED",
)


def _opt(ms: int | None) -> str | None:
    return None if ms is None else iso_ms(ms)


def contact_event(config: SimulationConfig, contact: Contact, event_type: str, event_id: str, now: int) -> JSON:
    """The EventBridge event for ``event_type`` on ``contact`` at ``now``."""
    if event_type not in CONTACT_EVENT_TYPES:
        raise ValueError(f"unknown contact event type {event_type!r}")
    contact_arn = config.arn(f"contact/{contact.contact_id}")
    detail: JSON = {
        "eventType": event_type,
        "contactId": contact.contact_id,
        "initialContactId": contact.initial_contact_id,
        "channel": contact.channel,
        "instanceArn": config.instance_arn,
        "initiationMethod": contact.initiation_method.upper(),
        "initiationTimestamp": iso_ms(contact.initiation_ms),
    }
    if contact.previous_contact_id is not None:
        detail["previousContactId"] = contact.previous_contact_id
    if contact.related_contact_id is not None:
        detail["relatedContactId"] = contact.related_contact_id
    if contact.connected_to_system_ms is not None:
        detail["connectedToSystemTimestamp"] = iso_ms(contact.connected_to_system_ms)
    if contact.enqueue_ms is not None:
        detail["queueInfo"] = {
            "queueType": "STANDARD",
            "queueArn": config.arn(f"queue/{contact.queue.queue_id}"),
            "enqueueTimestamp": iso_ms(contact.enqueue_ms),
        }
    if contact.agent_id is not None and contact.connected_to_agent_ms is not None:
        agent_info: JSON = {
            "agentArn": config.arn(f"agent/{contact.agent_id}"),
            "connectedToAgentTimestamp": iso_ms(contact.connected_to_agent_ms),
        }
        if event_type == "COMPLETED" and contact.acw_start_ms is not None:
            agent_info["afterContactWorkStartTimestamp"] = _opt(contact.acw_start_ms)
            agent_info["afterContactWorkEndTimestamp"] = _opt(contact.acw_end_ms)
            if contact.acw_end_ms is not None:
                agent_info["afterContactWorkDuration"] = round((contact.acw_end_ms - contact.acw_start_ms) / 1000)
        detail["agentInfo"] = agent_info
    if event_type in {"DISCONNECTED", "COMPLETED"} and contact.disconnect_ms is not None:
        detail["disconnectTimestamp"] = iso_ms(contact.disconnect_ms)
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Amazon Connect Contact Event",
        "source": "aws.connect",
        "account": config.account_id,
        "time": iso_s(now),
        "region": config.region,
        "resources": [contact_arn, config.instance_arn],
        "detail": detail,
    }
