"""The hub replays the 13 shared oracle scenarios exactly as the real Streams library does."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub.testing.oracle import OracleRunner
from hub.testing.oracle_setup import default_oracle_dir, default_oracle_source

from ._support import Replay, assert_same_output

pytestmark = pytest.mark.oracle


def _scenario_dir() -> Path:
    installed = default_oracle_dir() / "scenarios"
    return installed if installed.is_dir() else default_oracle_source() / "scenarios"


SCENARIOS = sorted(p.stem for p in _scenario_dir().glob("*.json"))


def _load(name: str) -> dict[str, object]:
    doc: dict[str, object] = json.loads((_scenario_dir() / f"{name}.json").read_text())
    return doc


def test_all_thirteen_scenarios_are_present() -> None:
    assert len(SCENARIOS) == 13, SCENARIOS


@pytest.mark.parametrize("name", SCENARIOS)
def test_hub_matches_oracle(name: str, oracle_runner: OracleRunner, replay: Replay) -> None:
    scenario = _load(name)
    expected = oracle_runner.run(scenario)
    assert_same_output(name, scenario, expected, replay(scenario))


def test_cli_replay_matches_oracle(oracle_runner: OracleRunner) -> None:
    name = "inbound_voice"
    path = _scenario_dir() / f"{name}.json"
    exe = shutil.which("connect-hub", path=str(Path(sys.executable).parent)) or shutil.which("connect-hub")
    assert exe is not None, "the connect-hub console script is not installed"
    proc = subprocess.run([exe, "replay", str(path)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    actual = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    scenario = _load(name)
    assert_same_output(f"{name} (CLI)", scenario, oracle_runner.run(scenario), actual)
