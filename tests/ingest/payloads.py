"""Builders of what the real sources send: AES records, contact records, contact events, Firehose requests."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from typing import Any

Json = dict[str, Any]

INSTANCE = "arn:aws:connect:eu-west-2:111122223333:instance/0f0e0d0c-0000-4000-8000-00000000aaaa"
ACCESS_KEY = "hub-shared-secret-value"
API_KEY = "eventbridge-api-key"
BASIC = ("hub-user", "hub-password")
SALES = {"ARN": f"{INSTANCE}/queue/q-sales", "Name": "Sales", "Channels": ["VOICE"]}


def agent_arn(n: int = 1) -> str:
    """The ARN of test agent ``n``."""
    return f"{INSTANCE}/agent/5b5b5b5b-1111-4222-8333-{n:012d}"


def ts(seconds: float) -> str:
    """An ISO timestamp ``seconds`` after 2026-03-02T09:00:00Z, with milliseconds."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, sec = divmod(rest, 60)
    ms = round((seconds - whole) * 1000)
    return f"2026-03-02T{9 + hours:02d}:{minutes:02d}:{sec:02d}.{ms:03d}Z"


def voice_contact(contact_id: str, state: str, at: float) -> Json:
    """An inbound voice contact in AES ``State`` ``state`` since ``at``."""
    result: Json = {
        "ContactId": contact_id,
        "InitialContactId": contact_id,
        "Channel": "VOICE",
        "InitiationMethod": "INBOUND",
        "State": state,
        "StateStartTimestamp": ts(at),
        "QueueTimestamp": ts(max(at - 5, 0)),
        "Queue": SALES,
    }
    if state in ("CONNECTED", "CONNECTED_ONHOLD"):
        result["ConnectedToAgentTimestamp"] = ts(at)
    return result


def aes_record(
    at: float,
    *,
    status: str = "Available",
    contacts: list[Json] | None = None,
    event_type: str = "STATE_CHANGE",
    agent: int = 1,
    event_id: str | None = None,
) -> Json:
    """An Agent Event Stream record of agent ``agent`` at ``at`` seconds."""
    status_type = {"Available": "ROUTABLE", "Offline": "OFFLINE"}.get(status, "CUSTOM")
    snapshot = {
        "AgentStatus": {
            "ARN": f"{INSTANCE}/agent-state/{status.lower()}",
            "Name": status,
            "StartTimestamp": ts(0),
            "Type": status_type,
        },
        "Configuration": {
            "FirstName": "Ana",
            "LastName": "Ruiz",
            "Username": f"agent{agent}",
            "AgentHierarchyGroups": None,
            "RoutingProfile": {
                "ARN": f"{INSTANCE}/routing-profile/rp-1",
                "Name": "Voice only",
                "Concurrency": [{"Channel": "VOICE", "AvailableSlots": 1, "MaximumSlots": 1}],
                "DefaultOutboundQueue": SALES,
                "InboundQueues": [SALES],
            },
        },
        "Contacts": contacts or [],
    }
    return {
        "AWSAccountId": "111122223333",
        "AgentARN": agent_arn(agent),
        "EventId": event_id or str(uuid.uuid4()),
        "EventTimestamp": ts(at),
        "EventType": event_type,
        "InstanceARN": INSTANCE,
        "Version": "2019-05-25",
        "CurrentAgentSnapshot": snapshot,
    }


def call_records(agent: int = 1, contact_id: str = "c-1", start: float = 10) -> list[Json]:
    """An agent going Available, offered a call, connected, after-call work, Available again."""
    return [
        aes_record(start, agent=agent, event_type="LOGIN"),
        aes_record(start + 5, agent=agent, contacts=[voice_contact(contact_id, "CONNECTING", start + 5)]),
        aes_record(start + 8, agent=agent, contacts=[voice_contact(contact_id, "CONNECTED", start + 8)]),
        aes_record(start + 60, agent=agent, contacts=[voice_contact(contact_id, "ENDED", start + 60)]),
        aes_record(start + 90, agent=agent),
    ]


def contact_record(
    contact_id: str = "c0ffee00-0000-4000-8000-000000000042", last_update: float = 600, **extra: Any
) -> Json:
    """A contact record shaped like the documented example."""
    record: Json = {
        "AWSAccountId": "111122223333",
        "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "InstanceARN": INSTANCE,
        "ContactId": contact_id,
        "Channel": "VOICE",
        "InitiationMethod": "INBOUND",
        "InitiationTimestamp": ts(2),
        "ConnectedToSystemTimestamp": ts(2),
        "DisconnectTimestamp": ts(370),
        "LastUpdateTimestamp": ts(last_update),
        "DisconnectReason": "CUSTOMER_DISCONNECT",
        "Queue": {
            "ARN": SALES["ARN"],
            "Name": "Sales",
            "EnqueueTimestamp": ts(20),
            "DequeueTimestamp": ts(42),
            "Duration": 22,
        },
        "Agent": {
            "ARN": agent_arn(1),
            "Username": "agent1",
            "ConnectedToAgentTimestamp": ts(42),
            "AgentInteractionDuration": 301,
            "CustomerHoldDuration": 45,
            "NumberOfHolds": 1,
            "LongestHoldDuration": 45,
            "AfterContactWorkStartTimestamp": ts(370),
            "AfterContactWorkEndTimestamp": ts(450),
            "AfterContactWorkDuration": 80,
        },
        "Attributes": {"crmCaseId": "CASE-1001"},
        "Recording": {"Type": "AUDIO", "Status": "AVAILABLE", "Location": "bucket/rec/c.wav"},
    }
    record.update(extra)
    return record


def contact_event(
    event_id: str | None = None, event_type: str = "CONNECTED_TO_AGENT", contact_id: str = "c-ev-1"
) -> Json:
    """An EventBridge "Amazon Connect Contact Event"."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": "Amazon Connect Contact Event",
        "source": "aws.connect",
        "account": "111122223333",
        "time": "2026-03-02T09:15:43Z",
        "region": "eu-west-2",
        "resources": [],
        "detail": {
            "eventType": event_type,
            "contactId": contact_id,
            "channel": "VOICE",
            "initiationMethod": "INBOUND",
            "instanceArn": INSTANCE,
            "initiationTimestamp": "2026-03-02T09:15:02.000Z",
            "queueInfo": {
                "queueArn": SALES["ARN"],
                "queueType": "STANDARD",
                "enqueueTimestamp": "2026-03-02T09:15:20.000Z",
            },
            "agentInfo": {"agentArn": agent_arn(1), "connectedToAgentTimestamp": "2026-03-02T09:15:42.000Z"},
        },
    }


def b64(data: bytes) -> str:
    """Base64 text."""
    return base64.b64encode(data).decode("ascii")


def firehose_body(
    records: list[Json] | list[bytes], request_id: str | None = None, timestamp: int = 1772442153000
) -> Json:
    """A Firehose delivery request body; ``records`` are JSON objects or raw record bytes."""
    datas = [r if isinstance(r, bytes) else json.dumps(r, separators=(",", ":")).encode() for r in records]
    return {
        "requestId": request_id or str(uuid.uuid4()),
        "timestamp": timestamp,
        "records": [{"data": b64(d)} for d in datas],
    }


def firehose_request(
    body: Json, *, key: str | None = ACCESS_KEY, compress: bool = False
) -> tuple[bytes, dict[str, str]]:
    """``(content, headers)`` exactly as Firehose sends them."""
    content = json.dumps(body, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "X-Amz-Firehose-Protocol-Version": "1.0",
        "X-Amz-Firehose-Request-Id": str(body.get("requestId", "")),
        "X-Amz-Firehose-Source-Arn": "arn:aws:firehose:eu-west-2:111122223333:deliverystream/hub",
    }
    if key is not None:
        headers["X-Amz-Firehose-Access-Key"] = key
    if compress:
        content = gzip.compress(content)
        headers["Content-Encoding"] = "gzip"
    return content, headers
