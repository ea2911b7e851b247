"""Shared simulator runs (module-scoped: a few simulated hours are expensive to repeat)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from hub.simulator import CollectingSink, Simulation, SimulationConfig


@dataclass
class FinishedRun:
    """A drained simulation and everything it emitted."""

    sim: Simulation
    sink: CollectingSink


def finished_run(seed: int, hours: float = 2.0, config: SimulationConfig | None = None) -> FinishedRun:
    """Simulate ``hours`` with ``seed``, then drain so every contact is complete."""
    sink = CollectingSink()
    sim = Simulation(config or SimulationConfig(), seed, sink)
    sim.advance(hours * 3600)
    sim.drain()
    return FinishedRun(sim, sink)


STRESS = SimulationConfig(
    outbound_rate_per_agent=12.0,
    p_outbound_no_answer=0.4,
    p_miss=0.15,
    p_reject=0.1,
    p_connect_error=0.1,
    p_transfer=0.15,
    p_conference=0.15,
    p_hold=0.4,
    break_rate=3.0,
    shift_length=3600.0,
)


@pytest.fixture(scope="package", params=["demo", "stress"])
def busy_run(request: pytest.FixtureRequest) -> FinishedRun:
    """Three drained simulated hours: the default demo center (seed 11), and one where every rare
    situation (outbound failures, misses, rejects, connect errors, transfers, conferences, breaks,
    shift changes) is frequent (seed 12)."""
    if request.param == "demo":
        return finished_run(11, hours=3.0)
    return finished_run(12, hours=3.0, config=STRESS)
