"""Fixtures for the differential tests: the oracle runner and the hub's replay.

Without Node.js or an installed oracle the tests are skipped with the reason; under ``CI=true`` that
is a failure instead (CI must run them). ``make oracle`` installs the oracle.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from hub.testing.oracle import OracleRunner
from hub.testing.oracle_setup import default_oracle_dir

from ._support import Json, Replay, require_oracle


@pytest.fixture(scope="session")
def oracle_runner() -> Iterator[OracleRunner]:
    """A pool of two persistent oracle processes for the whole session."""
    require_oracle()
    with OracleRunner(default_oracle_dir(), workers=2) as runner:
        yield runner


@pytest.fixture(scope="session")
def replay() -> Replay:
    """The hub's ``replay_scenario``, fed a private deep copy of each scenario."""
    from hub.replay import replay_scenario  # the engine may not exist yet

    def run(scenario: Json) -> list[Json]:
        return list(replay_scenario(copy.deepcopy(scenario)))

    return run
