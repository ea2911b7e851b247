"""Property-based differential tests: random plausible scenarios, hub vs. the real Streams library.

``HUB_ORACLE_EXAMPLES`` overrides the number of generated scenarios (default 300). Under ``CI=true``
the generation is derandomized so a CI run is reproducible. A disagreement writes the scenario to
``.cache/oracle-failures/`` and prints the first differing line.
"""

from __future__ import annotations

import os
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings

from hub.testing.oracle import OracleRunner

from ._support import Json, Replay, assert_same_output, in_ci
from .strategies import RandomChooser, ScenarioBuilder, scenarios

pytestmark = pytest.mark.oracle

EXAMPLES = int(os.environ.get("HUB_ORACLE_EXAMPLES", "300"))
# ERROR log lines the library writes for the backend failures the scenarios script on purpose.
SCRIPTED_FAILURE_LOG = re.compile(r"^('\w+' API request failed|Accept Contact failed)$")


@pytest.mark.timeout(900)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=in_ci(),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenario=scenarios())
def test_generated_scenarios_match_oracle(scenario: Json, oracle_runner: OracleRunner, replay: Replay) -> None:
    expected = oracle_runner.run(scenario)
    assert_same_output("generated", scenario, expected, replay(scenario), show_scenario=True)


def _seeded(n: int) -> list[Json]:
    out = []
    for seed in range(n):
        chooser = RandomChooser(seed)
        builder = ScenarioBuilder(chooser, chaos=(30, 0, 100)[seed % 3])
        out.append(builder.build(chooser.integer(1, 16)))
    return out


def test_generated_scenarios_are_valid_for_the_real_library(oracle_runner: OracleRunner) -> None:
    """The generator only produces data the library accepts: every snapshot reaches the page, no
    action throws, the public-API cross-check holds, and the only library errors are scripted ones."""
    batch = _seeded(120)
    for index, (scenario, result) in enumerate(zip(batch, oracle_runner.run_many(batch), strict=True)):
        assert result.summary["apiCrossCheck"] == "ok", (index, result.summary)
        for line in result.lines:
            assert line["kind"] != "action_threw", (index, line)
            if line["kind"] == "library_error":
                assert SCRIPTED_FAILURE_LOG.match(line["text"]), (index, line)
        updates = Counter(line["step"] for line in result.lines if line.get("event") == "agent::update")
        for step_no, step in enumerate(scenario["steps"]):
            if "snapshot" in step:
                assert updates[step_no] == 1, (index, step_no)
