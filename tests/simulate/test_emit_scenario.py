"""``connect-hub simulate --emit scenario``: the file is an oracle scenario, replayed by the hub exactly
as the real amazon-connect-streams library runs it.

The oracle test is skipped with the reason when Node.js or the installed oracle (``make oracle``) is
missing; under ``CI=true`` that is a failure instead.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.replay import replay_scenario
from hub.simulator import emit_scenario
from hub.testing.oracle import OracleRunner, compare_outputs, format_difference, oracle_unavailable_reason
from hub.testing.oracle_setup import default_oracle_dir

Json = dict[str, Any]


def emit(*args: str) -> str:
    """Run ``connect-hub simulate --emit scenario ARGS`` in process; its stdout."""
    result = CliRunner().invoke(main, ["simulate", "--emit", "scenario", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def oracle() -> Iterator[OracleRunner]:
    """A persistent oracle process, or skip (fail under CI) when it cannot run here."""
    reason = oracle_unavailable_reason(default_oracle_dir())
    if reason is not None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"the simulate CLI's oracle test needs the oracle under CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    with OracleRunner(default_oracle_dir(), workers=1) as runner:
        yield runner


@pytest.mark.oracle
@pytest.mark.parametrize(("agent", "seed"), [("agent02", 5), ("agent09", 8)])
def test_emitted_scenario_replays_like_the_real_library(oracle: OracleRunner, agent: str, seed: int) -> None:
    scenario: Json = json.loads(emit("--agent", agent, "--seed", str(seed), "--duration", "2400"))
    assert set(scenario) == {"configuration", "steps"}
    assert scenario["configuration"]["username"] == agent
    assert len(scenario["steps"]) > 10 and all(set(step) == {"snapshot"} for step in scenario["steps"])
    expected = oracle.run(copy.deepcopy(scenario))
    assert [line for line in expected if line["kind"] == "library_error"] == []
    actual = list(replay_scenario(copy.deepcopy(scenario)))
    diff = compare_outputs(expected, actual)
    assert diff is None, format_difference(f"simulate-emit-{agent}-{seed}", diff)


def test_emission_is_deterministic_and_matches_the_library_function(tmp_path: Path) -> None:
    first = emit("--agent", "agent03", "--seed", "11", "--duration", "900")
    assert emit("--agent", "agent03", "--seed", "11", "--duration", "900") == first
    assert json.loads(first) == emit_scenario("agent03", 11, 900)
    assert emit("--agent", "agent03", "--seed", "12", "--duration", "900") != first
    target = tmp_path / "agent03.json"
    assert emit("--agent", "agent03", "--seed", "11", "--duration", "900", "-o", str(target)) == ""
    assert target.read_text(encoding="utf-8") == first


def test_agent_by_resource_id_or_index_and_with_more_agents() -> None:
    by_name = json.loads(emit("--agent", "agent01", "--seed", "2", "--duration", "600"))
    resource_id = by_name["configuration"]["agentARN"].rsplit("/", 1)[1]
    assert json.loads(emit("--agent", resource_id, "--seed", "2", "--duration", "600")) == by_name
    assert json.loads(emit("--agent", "0", "--seed", "2", "--duration", "600")) == by_name
    twelfth = json.loads(emit("--agent", "agent12", "--agents", "12", "--seed", "2", "--duration", "600"))
    assert twelfth["configuration"]["username"] == "agent12"
