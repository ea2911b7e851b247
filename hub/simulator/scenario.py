"""One simulated agent's Streams agent data as an oracle scenario file.

``emit_scenario`` is what ``connect-hub simulate --emit scenario --agent ID --seed N`` writes:
``{"configuration": <agent configuration>, "steps": [{"snapshot": <wire snapshot>}, ...]}``, which
``node oracle.js FILE`` (the real Streams library) and ``connect-hub replay FILE`` both accept.
"""

from __future__ import annotations

from typing import Any

from hub.simulator.config import SimulationConfig
from hub.simulator.runner import Simulation
from hub.simulator.sinks import AgentFilterSink, CollectingSink

__all__ = ["emit_scenario", "list_agents"]

JSON = dict[str, Any]


def list_agents(config: SimulationConfig | None = None) -> list[tuple[str, str]]:
    """``(resource id, username)`` of every simulated agent, in order."""
    sim = Simulation(config or SimulationConfig(), 0)
    return [(a.agent_id, a.username) for a in sim.center.agents.values()]


def emit_scenario(agent_id: str, seed: int, duration: float, config: SimulationConfig | None = None) -> JSON:
    """Simulate ``duration`` seconds with ``seed`` and return ``agent_id``'s agent data as a scenario.

    ``agent_id`` may be the agent's resource id, username (``agent01``), ARN or 0-based index.
    Raises ``KeyError`` for an unknown agent.
    """
    collected = CollectingSink()
    holder: dict[str, str] = {}
    sim = Simulation(config or SimulationConfig(), seed, AgentFilterSink(collected, lambda a: a == holder["id"]))
    holder["id"] = sim.center.agent(agent_id).agent_id
    sim.advance(duration)
    resolved = holder["id"]
    return {
        "configuration": sim.center.emitter.configuration(resolved),
        "steps": [{"snapshot": snapshot} for snapshot in collected.snapshots_of(resolved)],
    }
