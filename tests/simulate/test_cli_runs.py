"""``connect-hub simulate`` in process: its summary against the simulator's own counts; usage errors."""

from __future__ import annotations

import json
import socket
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from hub import Hub
from hub.simulator import CollectingSink, Simulation, SimulationConfig

Json = dict[str, Any]


def simulate(*args: str, env: dict[str, str] | None = None) -> Result:
    """``connect-hub simulate ARGS`` in process."""
    from hub.cli import main

    return CliRunner().invoke(main, ["simulate", *args], env=env, catch_exceptions=False)


def reference(seed: int, duration: float, agents: int) -> tuple[Simulation, CollectingSink]:
    """The same run as the CLI's, straight through the library: run, then drain."""
    sink = CollectingSink()
    sim = Simulation(SimulationConfig(agents=agents), seed, sink)
    sim.run(duration)
    sim.drain()
    return sim, sink


def test_in_process_summary_matches_the_simulation() -> None:
    result = simulate("--seed", "6", "--agents", "6", "--duration", "1800", "--fast", "--json")
    assert result.exit_code == 0, result.output
    summary: Json = json.loads(result.stdout)
    sim, sink = reference(6, 1800, 6)

    assert summary["seed"] == 6
    assert summary["sim_seconds"] == sim.elapsed
    assert summary["agents"] == len({agent for agent, _ in sink.agent_data_items}) == 6
    assert summary["contacts"] == len(sim.center.contacts) > 10
    assert summary["completed"] == summary["contacts"]  # drained
    assert summary["emitted"] == {
        "agent_data": len(sink.agent_data_items),
        "agent_events": len(sink.agent_events),
        "contact_events": len(sink.contact_events),
        "contact_records": len(sink.contact_records),
    }
    seen = {c["contactId"] for _, data in sink.agent_data_items for c in data["snapshot"]["contacts"]}
    assert summary["hub"] == {"sessions": 6, "contacts seen": len(seen)}

    # the events: what a hub raises on the same agent data, by name
    hub, events = Hub(), Counter[str]()
    hub.subscribe_all(lambda _data, name: events.update([name] if name.count("::") < 2 else []))
    for agent, data in sink.agent_data_items:
        hub.session(agent).apply_agent_data(data)
    assert summary["events"] == dict(events)
    assert summary["events"]["agent::update"] == len(sink.agent_data_items)
    assert summary["events"]["agent::init"] == 6
    assert summary["events"]["contact::connected"] > 0


def test_a_paced_run_prints_a_table() -> None:
    result = simulate("--seed", "1", "--agents", "2", "--duration", "20", "--rate", "1000", "--no-drain")
    assert result.exit_code == 0, result.output
    assert "Connect Hub simulate" in result.stdout and "agents" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--emit", "scenario"], "--emit scenario needs --agent"),
        (["--emit", "scenario", "--agent", "agent01", "--hub-url", "http://x"], "--hub-url cannot be used with --emit"),
        (["--emit", "scenario", "--agent", "agent01", "--fast"], "--fast cannot be used with --emit"),
        (["--emit", "scenario", "--agent", "nobody"], "no simulated agent 'nobody'"),
        (["--emit", "video"], "Invalid value for '--emit'"),
        (["--agent", "agent01"], "--agent only applies with --emit scenario"),
        (["-o", "x.json"], "only applies with --emit scenario"),
        (["--rate", "2", "--fast"], "--rate and --fast are mutually exclusive"),
        (["--rate", "0"], "Invalid value for '--rate'"),
        (["--duration", "-5"], "Invalid value for '--duration'"),
        (["--agents", "0"], "Invalid value for '--agents'"),
        (["--hub-url", "ftp://hub"], "is not an http(s) URL"),
        (["--hub-url", "http://127.0.0.1:9"], "needs the Firehose access key"),
        (["--hub-url", "http://h", "--firehose-access-key", "k", "--persist"], "cannot be used with --hub-url"),
        (["--firehose-access-key", "k"], "--firehose-access-key only applies with --hub-url"),
        (["--workers", "2"], "--workers only applies with --persist"),
        (
            ["--hub-url", "http://h", "--firehose-access-key", "k", "--eventbridge-username", "u"],
            "--eventbridge-username and --eventbridge-password go together",
        ),
        (["--hub-url", "http://h", "--firehose-access-key", "k", "--bridge-token", "agent01"], "is not AGENT=TOKEN"),
        (["--hub-url", "http://h", "--firehose-access-key", "k", "--bridge-secret", "short"], "at least 32"),
    ],
)
def test_bad_options_are_usage_errors(args: list[str], message: str) -> None:
    result = simulate(*args, env={"HUB_INGEST__FIREHOSE__ACCESS_KEY": ""})
    assert result.exit_code == 2, result.output
    assert message in result.stderr, result.stderr


def test_an_unreachable_hub_is_a_clear_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = simulate("--hub-url", f"http://127.0.0.1:{port}", "--firehose-access-key", "k", "--duration", "10")
    assert result.exit_code == 1
    assert f"cannot reach the hub at http://127.0.0.1:{port}" in " ".join(result.stderr.split())


def test_persisted_run_stores_and_dispatches(tmp_path: Path) -> None:
    env = {
        "HUB_DATABASE__URL": f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        "HUB_BROKER__URL": "embedded://",
        "HUB_BROKER__FOLDER": str(tmp_path / "broker"),
        "HUB_PLUGINS__ENABLED": '["example"]',
        "HUB_PLUGINS__EXAMPLE__PATH": str(tmp_path / "example.log"),
    }
    args = ["--persist", "--workers", "1", "--delivery-timeout", "40"]
    result = simulate(*args, "--seed", "2", "--agents", "3", "--duration", "900", "--json", env=env)
    assert result.exit_code == 0, result.output
    summary: Json = json.loads(result.stdout)
    _, sink = reference(2, 900, 3)
    seen = {c["contactId"] for _, data in sink.agent_data_items for c in data["snapshot"]["contacts"]}
    assert summary["emitted"]["agent_data"] == len(sink.agent_data_items)
    assert summary["hub"]["agents"] == 3
    assert summary["hub"]["contacts"] == len(seen) > 5
    assert summary["hub"]["events stored"] > 0
    deliveries = summary["hub"]["deliveries"]
    assert deliveries.get("succeeded", 0) > 0 and set(deliveries) == {"succeeded"}
    assert (tmp_path / "example.log").stat().st_size > 0
