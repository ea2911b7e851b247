"""The contact-center simulator: a seeded, deterministic discrete-event model of Amazon Connect.

It emits exactly what the real sources send (Streams agent data, Agent Event Stream records,
contact records, EventBridge contact events) through a :class:`Sink`, answers CTI actions through
:class:`SimulatedBackend`, and offers Voice ID semantics through :class:`SimulatedVoiceId`.

Typical use::

    sink = CollectingSink()
    run(SimulationConfig(), seed=7, until=3600, sink=sink)          # as fast as possible
    scenario = emit_scenario("agent01", seed=7, duration=1800)      # oracle scenario file

    sim = Simulation(SimulationConfig(manual_agents=("agent01",)), seed=7, sink=sink)
    sim.advance(60)
    sim.backend("agent01").putAgentState({"state": {"name": "Lunch", "type": "not_routable"}})
"""

from hub.simulator.backend import OPERATIONS, SimulatedBackend
from hub.simulator.config import AgentStateSpec, QueueSpec, RoutingProfileSpec, SimulationConfig, agent_resource_id
from hub.simulator.errors import CTIError
from hub.simulator.firehose import FirehoseBatchingSink, decode_envelope, firehose_envelope
from hub.simulator.runner import Progress, RunResult, Simulation, run
from hub.simulator.scenario import emit_scenario, list_agents
from hub.simulator.sinks import AgentFilterSink, CollectingSink, FanoutSink, Sink
from hub.simulator.voice_biometrics import SimulatedVoiceId
from hub.voice_biometrics import VoiceBiometricsProvider, VoiceIdError

__all__ = [
    "OPERATIONS",
    "AgentFilterSink",
    "AgentStateSpec",
    "CTIError",
    "CollectingSink",
    "FanoutSink",
    "FirehoseBatchingSink",
    "Progress",
    "QueueSpec",
    "RoutingProfileSpec",
    "RunResult",
    "SimulatedBackend",
    "SimulatedVoiceId",
    "Simulation",
    "SimulationConfig",
    "Sink",
    "VoiceBiometricsProvider",
    "VoiceIdError",
    "agent_resource_id",
    "decode_envelope",
    "emit_scenario",
    "firehose_envelope",
    "list_agents",
    "run",
]
