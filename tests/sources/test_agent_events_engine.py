"""Converted Agent Event Stream records fed to the hub's own engine (``hub.AgentSession``)."""

from __future__ import annotations

from typing import Any

from hub import AgentSession
from hub.sources.agent_events import decode_agent_event, to_agent_data

from .builders import encode
from .test_agent_events import inbound_call_day


def test_a_day_of_records_raises_the_expected_state_changes_and_heartbeat_adds_none() -> None:
    session = AgentSession("agent-1", clock=lambda: 1_772_442_000.0)
    seen: list[tuple[int, str, Any]] = []
    session.bus.subscribe_all(lambda data, name: seen.append((step, name, data)))
    configuration = None
    for step, (raw, _, _) in enumerate(inbound_call_day()):  # noqa: B007 - read by the closure
        data = to_agent_data(decode_agent_event(encode(raw)))
        if data["configuration"] != configuration:  # as the worker: configuration first, then snapshots
            configuration = data["configuration"]
            session.apply_configuration(configuration)
        assert session.apply_snapshot(data["snapshot"])
    changes = [(s, d.old_state, d.new_state) for s, n, d in seen if n == "agent::state_change"]
    assert changes == [
        (0, "Init", "Offline"),
        (1, "Offline", "Available"),
        (2, "Available", "PendingBusy"),
        (3, "PendingBusy", "Busy"),
        (6, "Busy", "AfterCallWork"),
        (8, "AfterCallWork", "Available"),
        (9, "Available", "Lunch"),
        (10, "Lunch", "Offline"),
    ]
    contact_events = [(s, n) for s, n, _ in seen if n.startswith("contact::") and not n.startswith("contact::refresh")]
    assert [e for e in contact_events if "::call-1" not in e[1]] == [
        (2, "contact::init"),
        (2, "contact::connecting"),
        (3, "contact::connected"),
        (6, "contact::acw"),
        (6, "contact::ended"),
        (8, "contact::destroyed"),
    ]
    heartbeat = [n for s, n, _ in seen if s == 7]
    assert "agent::state_change" not in heartbeat
    assert all(n in {"agent::update", "agent::refresh"} or n.startswith("contact::refresh") for n in heartbeat)
