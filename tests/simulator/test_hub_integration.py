"""A hub driving the simulated contact center: agent data in, actions out, Voice ID included."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hub import ActionError, BackendRequest, Hub
from hub._actions import invoke_backend
from hub.simulator import CollectingSink, FanoutSink, SimulatedBackend, Simulation, SimulationConfig

Json = dict[str, Any]


class HubFeed:
    """An in-process sink: Streams agent data goes straight into the hub's agent sessions."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def agent_data(self, agent_id: str, data: Json) -> None:
        self.hub.session(agent_id).apply_agent_data(data)

    def agent_event(self, record: Json) -> None:
        """Not used by this feed."""

    def contact_record(self, ctr: Json) -> None:
        """Not used by this feed."""

    def contact_event(self, event: Json) -> None:
        """Not used by this feed."""


@pytest.fixture
def wired() -> tuple[Simulation, Hub, CollectingSink, str]:
    holder: dict[str, Simulation] = {}

    def backend_factory(key: str) -> SimulatedBackend:
        return holder["sim"].backend(key)

    hub = Hub(backend_factory=backend_factory)
    sink = CollectingSink()
    config = SimulationConfig(
        agents=1,
        manual_agents=("agent01",),
        arrival_rates={},
        outbound_rate_per_agent=0.0,
        break_rate=0.0,
        p_connect_error=0.0,
        login_spread=0.0,
        handle_time={"VOICE": 1e9, "CHAT": 1e9, "TASK": 1e9},
    )
    sim = Simulation(config, 2, FanoutSink(sink, HubFeed(hub)))
    holder["sim"] = sim
    sim.advance(1)
    agent_id = sim.center.agent("agent01").agent_id
    return sim, hub, sink, agent_id


def test_hub_sessions_follow_the_simulation_and_act_on_it(wired: tuple[Simulation, Hub, CollectingSink, str]) -> None:
    sim, hub, sink, agent_id = wired
    session = hub.session(agent_id)
    seen: list[str] = []
    session.bus.subscribe("contact::connected", lambda data, name: seen.append(name))
    contact = sim.center.arrive_voice(sim.config.queues[0], "+15555550100", {"customerId": "C-00001"}, 0)
    sim.advance(0.5)
    assert session.agent.get_state().name == "PendingBusy"
    # what the session does for contact.accept(): one request to its action backend
    accept = BackendRequest("acceptContact", {"contactId": contact.contact_id}, agent_id)
    assert asyncio.run(invoke_backend(session.backend, accept)) == {}
    sim.advance(2)
    assert seen == ["contact::connected"]
    assert session.agent.get_state().name == "Busy"
    initial = session.contact(contact.contact_id).get_initial_connection()
    assert initial is not None
    hold = BackendRequest("holdConnection", {"contactId": contact.contact_id, "connectionId": initial.connection_id})
    asyncio.run(invoke_backend(session.backend, hold))
    assert sink.snapshots_of(agent_id)[-1]["contacts"][0]["connections"][1]["state"]["type"] == "hold"
    assert initial.get_state().type == "hold"


def test_invoke_maps_failures_to_action_errors(wired: tuple[Simulation, Hub, CollectingSink, str]) -> None:
    sim, _, _, agent_id = wired
    backend = sim.backend(agent_id)
    with pytest.raises(ActionError) as err:
        backend.invoke(BackendRequest("acceptContact", {"contactId": "nope"}, agent_id))
    assert err.value.code == "InvalidStateException" and err.value.status_code == 400
    assert backend.invoke(BackendRequest("putAgentState", {"state": {"name": "Break", "type": "not_routable"}})) == {}


def test_voice_id_operations_through_the_backend(wired: tuple[Simulation, Hub, CollectingSink, str]) -> None:
    sim, _, _, agent_id = wired
    backend = sim.backend(agent_id)
    contact = sim.center.arrive_voice(sim.config.queues[0], "+15555550100", {"customerId": "C-00042"}, 0)
    sim.advance(0.5)
    backend.acceptContact({"contactId": contact.contact_id})
    sim.advance(2)
    body = {"SessionNameOrId": contact.initial_contact_id, "ContactId": contact.contact_id}
    session = backend.call("AgentAppService.VoiceId.describeSession", body)["Session"]
    assert session["CustomerSpeakerId"] == "C-00042" and session["StreamingStatus"] == "ONGOING"
    speaker = backend.call("AgentAppService.VoiceId.describeSpeaker", body)["Speaker"]
    assert speaker["Status"] == "ENROLLED"  # the simulated domain enrols C-00001..C-00300
    assert backend.call("AgentAppService.VoiceId.evaluateSession", body)["AuthenticationResult"]["Decision"] == (
        "NOT_ENOUGH_SPEECH"
    )
    sim.advance(60)
    result = backend.call("AgentAppService.VoiceId.evaluateSession", body)
    assert result["AuthenticationResult"]["Decision"] in {"ACCEPT", "REJECT"}
    assert result["FraudDetectionResult"]["Decision"] in {"LOW_RISK", "HIGH_RISK"}
    restarted = backend.call("AgentAppService.VoiceId.evaluateSession", {**body, "StartNew": True})
    assert restarted["AuthenticationResult"]["Decision"] == "NOT_ENOUGH_SPEECH"
    backend.call("AgentAppService.VoiceId.optOutSpeaker", body)
    assert backend.call("AgentAppService.VoiceId.describeSpeaker", body)["Speaker"]["Status"] == "OPTED_OUT"
    with pytest.raises(ActionError) as err:
        backend.invoke(BackendRequest("AgentAppService.VoiceId.evaluateSession", {"SessionNameOrId": "no-such-call"}))
    assert err.value.code == "ResourceNotFoundException"
