"""Simulated Streams agent data through the real amazon-connect-streams library (the oracle).

Skipped with the reason when Node.js or the installed oracle (``make oracle`` puts it in
``.cache/streams-oracle``) is missing; under ``CI=true`` that is a failure instead.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from typing import Any

import pytest

from hub.simulator import emit_scenario
from hub.testing.oracle import OracleRunner, compare_outputs, format_difference, oracle_unavailable_reason
from hub.testing.oracle_setup import default_oracle_dir

pytestmark = pytest.mark.oracle

SAMPLES = [("agent01", 1), ("agent04", 2), ("agent07", 3), ("agent10", 4)]


@pytest.fixture(scope="module")
def oracle() -> Iterator[OracleRunner]:
    """A persistent oracle process, or skip (fail under CI) when it cannot run here."""
    reason = oracle_unavailable_reason(default_oracle_dir())
    if reason is not None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"the simulator's oracle tests need the oracle under CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    with OracleRunner(default_oracle_dir(), workers=1) as runner:
        yield runner


@pytest.mark.parametrize(("agent", "seed"), SAMPLES)
def test_real_library_accepts_simulated_agent_data(oracle: OracleRunner, agent: str, seed: int) -> None:
    scenario = emit_scenario(agent, seed, 2 * 3600)
    result = oracle.run_result(scenario)
    errors = [line for line in result.lines if line["kind"] == "library_error"]
    assert errors == [], errors[:3]
    assert result.summary["apiCrossCheck"] == "ok"
    assert result.summary["steps"] == len(scenario["steps"]) > 20
    events = {line["event"].split("::")[1] for line in result.lines if line["kind"] == "event"}
    assert {"state_change", "connecting", "connected", "acw", "destroyed"} <= events
    # every snapshot reached the page: one agent::update per step
    updates = [line for line in result.lines if line["kind"] == "event" and line["event"] == "agent::update"]
    assert len(updates) == len(scenario["steps"])


@pytest.mark.parametrize(("agent", "seed"), SAMPLES[:2])
def test_hub_replay_raises_the_same_events_as_the_real_library(oracle: OracleRunner, agent: str, seed: int) -> None:
    from hub.replay import replay_scenario

    scenario = emit_scenario(agent, seed, 3600)
    expected = oracle.run(scenario)
    actual: list[dict[str, Any]] = list(replay_scenario(copy.deepcopy(scenario)))
    diff = compare_outputs(expected, actual)
    assert diff is None, format_difference(f"simulated-{agent}-{seed}", diff)


def test_the_check_would_catch_malformed_agent_data(oracle: OracleRunner) -> None:
    scenario = emit_scenario("agent01", 1, 2 * 3600)
    step = next(s for s in scenario["steps"] if len(s["snapshot"]["contacts"]) >= 2)
    del step["snapshot"]["contacts"][0]["state"]["timestamp"]  # the worker's sort throws on this
    lines = oracle.run(scenario)
    assert any(line["kind"] == "library_error" for line in lines)
