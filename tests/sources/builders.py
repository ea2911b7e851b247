"""Builders for Agent Event Stream records shaped like the documented example, and fixture loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).with_name("fixtures")
INSTANCE = "arn:aws:connect:eu-west-2:111122223333:instance/0f0e0d0c-0000-4000-8000-00000000aaaa"
AGENT_ARN = f"{INSTANCE}/agent/5b5b5b5b-1111-4222-8333-000000000001"
AVAILABLE_ARN = f"{INSTANCE}/agent-state/as-available"
LUNCH_ARN = f"{INSTANCE}/agent-state/as-lunch"
OFFLINE_ARN = f"{INSTANCE}/agent-state/as-offline"
SALES = {"ARN": f"{INSTANCE}/queue/q-sales", "Name": "Sales", "Channels": ["VOICE", "CHAT"]}

Json = dict[str, Any]


def fixture_bytes(name: str) -> bytes:
    """The raw bytes of ``fixtures/<name>``."""
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Json:
    """``fixtures/<name>`` parsed."""
    result: Json = json.loads(fixture_bytes(name))
    return result


def ts(seconds: float) -> str:
    """An ISO timestamp ``seconds`` after 2026-03-02T09:00:00Z, with milliseconds."""
    whole = int(seconds)
    minutes, sec = divmod(whole, 60)
    ms = round((seconds - whole) * 1000)
    return f"2026-03-02T09:{minutes:02d}:{sec:02d}.{ms:03d}Z"


def configuration() -> Json:
    """The documented example's ``Configuration`` (voice and chat concurrency)."""
    return {
        "FirstName": "Ana",
        "LastName": "Ruiz",
        "Username": "aruiz",
        "AgentHierarchyGroups": None,
        "RoutingProfile": {
            "ARN": f"{INSTANCE}/routing-profile/rp-1",
            "Name": "Voice and chat",
            "Concurrency": [
                {"Channel": "VOICE", "AvailableSlots": 1, "MaximumSlots": 1},
                {"Channel": "CHAT", "AvailableSlots": 2, "MaximumSlots": 2},
                {"Channel": "TASKS", "AvailableSlots": 3, "MaximumSlots": 3},
            ],
            "DefaultOutboundQueue": {"ARN": f"{INSTANCE}/queue/q-out", "Name": "Outbound", "Channels": ["VOICE"]},
            "InboundQueues": [SALES, {"ARN": f"{AGENT_ARN}", "Name": None, "Channels": ["VOICE"]}],
        },
    }


def status(name: str = "Available", type_: str = "ROUTABLE", start: float = 0, arn: str | None = None) -> Json:
    """An ``AgentStatus``."""
    default_arn = {"Available": AVAILABLE_ARN, "Lunch": LUNCH_ARN, "Offline": OFFLINE_ARN}.get(name)
    return {"ARN": arn or default_arn, "Name": name, "StartTimestamp": ts(start), "Type": type_}


def contact(
    contact_id: str,
    state: str,
    start: float,
    *,
    channel: str = "VOICE",
    method: str = "INBOUND",
    connected: float | None = None,
    queued: float | None = 1,
) -> Json:
    """One AES ``Contact``."""
    result: Json = {
        "ContactId": contact_id,
        "InitialContactId": contact_id,
        "Channel": channel,
        "InitiationMethod": method,
        "State": state,
        "StateStartTimestamp": ts(start),
        "QueueTimestamp": ts(queued) if queued is not None else None,
        "Queue": SALES,
    }
    if connected is not None:
        result["ConnectedToAgentTimestamp"] = ts(connected)
    return result


def snapshot(agent_status: Json, contacts: list[Json] | None = None, next_status: Json | None = None) -> Json:
    """An ``AgentSnapshot``."""
    result: Json = {"AgentStatus": agent_status, "Configuration": configuration(), "Contacts": contacts or []}
    if next_status is not None:
        result["NextAgentStatus"] = next_status
    return result


def record(
    event_type: str,
    at: float,
    current: Json | None,
    previous: Json | None = None,
    *,
    event_id: str | None = None,
) -> Json:
    """An Agent Event Stream record."""
    result: Json = {
        "AWSAccountId": "111122223333",
        "AgentARN": AGENT_ARN,
        "EventId": event_id or f"evt-{event_type.lower()}-{at}",
        "EventTimestamp": ts(at),
        "EventType": event_type,
        "InstanceARN": INSTANCE,
        "Version": "2019-05-25",
    }
    if current is not None:
        result["CurrentAgentSnapshot"] = current
    if previous is not None:
        result["PreviousAgentSnapshot"] = previous
    return result


def encode(value: Json) -> bytes:
    """Compact JSON bytes, as Connect writes a record."""
    return json.dumps(value, separators=(",", ":")).encode()
