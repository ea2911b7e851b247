"""Contact records (CTRs) in the documented ``ContactTraceRecord`` format, written when a contact
is complete (after after-contact work)."""

from __future__ import annotations

from typing import Any

from hub.simulator.clock import iso_s
from hub.simulator.config import SimulationConfig
from hub.simulator.model import Agent, Contact

__all__ = ["CTR_FORMAT_VERSION", "contact_record"]

JSON = dict[str, Any]
CTR_FORMAT_VERSION = "2017-03-10"


def _ts(ms: int | None) -> str | None:
    return None if ms is None else iso_s(ms)


def _secs(ms: int) -> int:
    return max(0, round(ms / 1000))


def contact_record(
    config: SimulationConfig,
    contact: Contact,
    handler: Agent | None,
    now: int,
    voice_id_result: JSON | None = None,
) -> JSON:
    """The contact record of a completed ``contact``; ``handler`` is the agent it was connected to."""
    agent: JSON | None = None
    if handler is not None and contact.connected_to_agent_ms is not None:
        end = contact.disconnect_ms if contact.disconnect_ms is not None else now
        acw = None
        if contact.acw_start_ms is not None and contact.acw_end_ms is not None:
            acw = _secs(contact.acw_end_ms - contact.acw_start_ms)
        agent = {
            "ARN": config.arn(f"agent/{handler.agent_id}"),
            "Username": handler.username,
            "ConnectedToAgentTimestamp": _ts(contact.connected_to_agent_ms),
            "AgentInteractionDuration": _secs(end - contact.connected_to_agent_ms - contact.holds.total_ms),
            "CustomerHoldDuration": _secs(contact.holds.total_ms),
            "LongestHoldDuration": _secs(contact.holds.longest_ms),
            "NumberOfHolds": contact.holds.count,
            "AfterContactWorkStartTimestamp": _ts(contact.acw_start_ms),
            "AfterContactWorkEndTimestamp": _ts(contact.acw_end_ms),
            "AfterContactWorkDuration": acw,
            "RoutingProfile": {
                "ARN": config.arn(f"routing-profile/{handler.profile.profile_id}"),
                "Name": handler.profile.name,
            },
            "HierarchyGroups": None,
        }
    queue: JSON | None = None
    if contact.enqueue_ms is not None:
        dequeue = contact.dequeue_ms if contact.dequeue_ms is not None else contact.disconnect_ms
        queue = {
            "ARN": config.arn(f"queue/{contact.queue.queue_id}"),
            "Name": contact.queue.name,
            "EnqueueTimestamp": _ts(contact.enqueue_ms),
            "DequeueTimestamp": _ts(dequeue),
            "Duration": _secs((dequeue if dequeue is not None else now) - contact.enqueue_ms),
        }
    phone = None
    if contact.customer is not None and contact.customer.endpoint is not None:
        phone = contact.customer.endpoint.get("phoneNumber")
    media = {"VOICE": "AUDIO", "CHAT": "CHAT"}.get(contact.channel)
    voice = contact.channel == "VOICE" and agent is not None
    return {
        "AWSAccountId": config.account_id,
        "AWSContactTraceRecordFormatVersion": CTR_FORMAT_VERSION,
        "InstanceARN": config.instance_arn,
        "ContactId": contact.contact_id,
        "InitialContactId": None if contact.initial_contact_id == contact.contact_id else contact.initial_contact_id,
        "PreviousContactId": contact.previous_contact_id,
        "NextContactId": contact.next_contact_id,
        "RelatedContactId": contact.related_contact_id,
        "Channel": contact.channel,
        "InitiationMethod": contact.initiation_method.upper(),
        "InitiationTimestamp": _ts(contact.initiation_ms),
        "ConnectedToSystemTimestamp": _ts(contact.connected_to_system_ms),
        "DisconnectTimestamp": _ts(contact.disconnect_ms),
        "LastUpdateTimestamp": iso_s(now),
        "DisconnectReason": contact.disconnect_reason,
        "AgentConnectionAttempts": contact.agent_attempts,
        "CustomerEndpoint": {"Type": "TELEPHONE_NUMBER", "Address": phone} if phone else None,
        "SystemEndpoint": {"Type": "TELEPHONE_NUMBER", "Address": "+15555550000"}
        if contact.channel == "VOICE"
        else None,
        "Queue": queue,
        "Agent": agent,
        "Attributes": dict(contact.attributes),
        "MediaStreams": [{"Type": media}] if media else [],
        "Recording": {
            "Type": "AUDIO",
            "Status": "AVAILABLE",
            "Location": f"connect-sim-recordings/{iso_s(contact.initiation_ms)[:10]}/{contact.contact_id}.wav",
            "DeletionReason": None,
        }
        if voice
        else None,
        "Recordings": None,
        "References": [
            {"Name": name, "Type": ref.get("type"), "Value": ref.get("value")}
            for name, ref in contact.references.items()
        ]
        or None,
        "TransferCompletedTimestamp": None,
        "TransferredToEndpoint": None,
        "ScheduledTimestamp": None,
        "VoiceIdResult": voice_id_result,
    }
