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


@pytest.fixture(scope="package")
def busy_run() -> FinishedRun:
    """Three drained simulated hours of the default demo center, seed 11."""
    return finished_run(11, hours=3.0)
