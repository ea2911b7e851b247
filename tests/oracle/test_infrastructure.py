"""The differential-testing infrastructure itself: setup, the persistent runner and the comparison."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from hub.testing.oracle import OracleError, OracleRunner, compare_outputs, format_difference, project
from hub.testing.oracle_setup import (
    OracleSetupError,
    default_oracle_dir,
    default_oracle_source,
    is_installed,
    setup_oracle,
)

from ._support import require_oracle

Json = dict[str, Any]


def _scenario_dir() -> Path:
    installed = default_oracle_dir() / "scenarios"
    return installed if installed.is_dir() else default_oracle_source() / "scenarios"


def _stored(name: str) -> tuple[Json, list[Json]]:
    folder = _scenario_dir()
    if not (folder / f"{name}.json").is_file():
        pytest.skip(f"no oracle scenarios in {folder}")
    scenario = json.loads((folder / f"{name}.json").read_text())
    lines = [json.loads(x) for x in (folder / f"{name}.events.jsonl").read_text().splitlines()]
    return scenario, lines


# --- comparison (pure Python) ---------------------------------------------------------------


def test_identical_outputs_have_no_difference() -> None:
    _, lines = _stored("inbound_voice")
    assert compare_outputs(lines, [dict(x) for x in lines]) is None


def test_changed_payload_is_the_first_difference_with_context() -> None:
    scenario, lines = _stored("inbound_voice")
    hub = [dict(x) for x in lines]
    events = [i for i, x in enumerate(hub) if x["kind"] == "event"]
    target = events[10]
    hub[target] = {**hub[target], "payload": {**hub[target]["payload"], "state": "bogus"}}
    diff = compare_outputs(lines, hub)
    assert diff is not None
    assert diff.kind == "event"
    assert diff.position == 10
    assert diff.expected == lines[target]
    assert diff.actual == hub[target]
    assert len(diff.expected_context) == 3
    text = format_difference("inbound_voice", diff, [s.get("label") for s in scenario["steps"]])
    assert "inbound_voice" in text
    assert '"bogus"' in text
    assert scenario["steps"][lines[target]["step"]]["label"] in text


def test_missing_and_extra_lines_are_reported() -> None:
    _, lines = _stored("missed_call")
    shorter = [x for x in lines if not (x["kind"] == "event" and x["event"] == "contact::missed::c-miss-1")]
    diff = compare_outputs(lines, shorter)
    assert diff is not None
    assert diff.expected is not None
    assert diff.expected["event"] == "contact::missed::c-miss-1"
    extra = compare_outputs(lines, [*lines, {**lines[-1], "seq": 999}])
    assert extra is not None
    assert extra.expected is None
    assert extra.actual_count == extra.expected_count + 1


def test_seq_and_api_are_not_part_of_the_contract_but_depth_is() -> None:
    _, lines = _stored("inbound_voice")
    renumbered = [{**x, "seq": 1000 + i, "api": []} for i, x in enumerate(lines)]
    assert compare_outputs(lines, renumbered) is None
    deeper = [{**x, "depth": 5} if x["kind"] == "event" else x for x in lines]
    assert compare_outputs(lines, deeper) is not None


def test_backend_calls_and_callbacks_are_compared_only_when_the_hub_prints_them() -> None:
    _, lines = _stored("api_operations")
    events_only = [x for x in lines if x["kind"] == "event"]
    assert compare_outputs(lines, events_only) is None
    wrong_body = [
        {**x, "body": {**x["body"], "contactId": "other"}} if x["kind"] == "backend_call" else x for x in lines
    ]
    diff = compare_outputs(lines, wrong_body)
    assert diff is not None
    assert diff.kind == "backend_call"
    wrong_result = [{**x, "result": "failure"} if x["kind"] == "callback" else x for x in lines]
    diff = compare_outputs(lines, wrong_result)
    assert diff is not None
    assert diff.kind == "callback"
    assert compare_outputs(lines, events_only, optional_kinds=()) is not None


def test_integral_floats_compare_like_javascript_numbers() -> None:
    line = {"kind": "event", "step": 0, "depth": 1, "event": "x", "payload": {"type": "object", "value": 1}}
    as_float = {**line, "payload": {"type": "object", "value": 1.0}}
    as_bool = {**line, "payload": {"type": "object", "value": True}}
    assert project([line], "event") == project([as_float], "event")
    assert project([line], "event") != project([as_bool], "event")


# --- setup (no node needed) -----------------------------------------------------------------


def _fake_source(root: Path) -> Path:
    src = root / "src"
    (src / "scenarios").mkdir(parents=True)
    (src / "oracle.js").write_text("module.exports = {};\n")
    (src / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    (src / "scenarios" / "a.json").write_text("{}\n")
    for path in (src / "oracle.js", src / "package-lock.json", src / "scenarios" / "a.json"):
        path.chmod(0o444)  # the reference folder is read-only
    return src


def test_setup_copies_read_only_source_and_skips_npm_when_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = _fake_source(tmp_path)
    dest = tmp_path / "dest"
    monkeypatch.setenv("PATH", str(tmp_path / "no-bin"))  # no npm: any install attempt fails
    with pytest.raises(OracleSetupError, match="npm not found"):
        setup_oracle(dest, src, quiet=True)
    assert (dest / "scenarios" / "a.json").read_text() == "{}\n"
    assert not is_installed(dest)
    # Pretend npm ci ran for this lock file: now setup is a no-op that needs no npm.
    (dest / "node_modules").mkdir()
    digest = hashlib.sha256((dest / "package-lock.json").read_bytes()).hexdigest()
    (dest / ".connect-hub-installed").write_text(digest + "\n")
    assert is_installed(dest)
    assert setup_oracle(dest, src, quiet=True) == dest.resolve()
    # A changed lock file in the source invalidates the install.
    (src / "package-lock.json").chmod(0o644)
    (src / "package-lock.json").write_text('{"lockfileVersion": 3, "changed": true}\n')
    with pytest.raises(OracleSetupError, match="npm not found"):
        setup_oracle(dest, src, quiet=True)
    assert not is_installed(dest)


def test_setup_rejects_a_missing_source(tmp_path: Path) -> None:
    with pytest.raises(OracleSetupError, match="no streams-oracle"):
        setup_oracle(tmp_path / "dest", tmp_path / "nowhere", quiet=True)


# --- the persistent runner against the real library ------------------------------------------


@pytest.mark.oracle
def test_runner_reproduces_the_stored_oracle_output(oracle_runner: OracleRunner) -> None:
    names = sorted(p.stem for p in _scenario_dir().glob("*.json"))
    stored = [_stored(n) for n in names]
    results = oracle_runner.run_many([s for s, _ in stored])
    for name, (_, expected), result in zip(names, stored, results, strict=True):
        assert result.lines == expected, name
        assert result.summary["apiCrossCheck"] == "ok", name
        assert result.summary["streamsVersion"] == "2.28.2"
        assert 0 < result.run_ms <= result.wall_ms


@pytest.mark.oracle
def test_runner_reports_a_bad_scenario_and_keeps_working(oracle_runner: OracleRunner) -> None:
    with pytest.raises(OracleError, match="none of snapshot"):
        oracle_runner.run({"steps": [{"bogus": True}]})
    scenario, expected = _stored("missed_call")
    assert oracle_runner.run(scenario) == expected


@pytest.mark.oracle
def test_runner_options_reach_the_oracle(oracle_runner: OracleRunner) -> None:
    scenario, _ = _stored("missed_call")
    lines = oracle_runner.run(scenario, eventsOnly=True)
    assert lines
    assert {x["kind"] for x in lines} == {"event"}


@pytest.mark.oracle
def test_runner_close_stops_its_processes() -> None:
    require_oracle()
    runner = OracleRunner(workers=2)
    pids = runner.pids
    assert len(set(pids)) == 2
    scenario, expected = _stored("missed_call")
    assert runner.run(scenario) == expected
    runner.close()
    for pid in pids:  # exited and reaped
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(OracleError, match="closed"):
        runner.run(scenario)


@pytest.mark.oracle
def test_runner_recycles_a_process_whose_heap_grew() -> None:
    require_oracle()
    scenario, expected = _stored("missed_call")
    with OracleRunner(workers=1, recycle_heap_mb=0.0) as runner:
        first = runner.pids
        assert runner.run(scenario) == expected
        assert runner.recycled == 1
        assert runner.pids != first
        assert runner.run(scenario) == expected
    with OracleRunner(workers=1, max_runs=2) as runner:
        runner.run(scenario)
        assert runner.recycled == 0
        runner.run(scenario)
        assert runner.recycled == 1


def test_missing_oracle_skips_locally_and_fails_under_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECT_HUB_ORACLE_DIR", str(tmp_path / "not-installed"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        require_oracle()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_oracle()
