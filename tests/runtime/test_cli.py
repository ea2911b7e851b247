"""The runtime's CLI commands, through click's runner (real settings from HUB_* variables)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from rich.console import Console

from hub.cli._config import config
from hub.cli._db import db
from hub.cli._deliveries import deliveries
from hub.cli._demo import DemoResult, _summary, demo
from hub.cli._plugins import plugins
from hub.db._models import AGENTS, CONTACTS
from hub.runtime import AgentInput, PipelineFeed, scenario_inputs
from hub.simulator import Simulation, SimulationConfig
from hub.testing import load_scenario_file


def test_config_check_lists_every_error_and_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_WORKERS__CONCURRENCY", "0")
    monkeypatch.setenv("HUB_HTTP__PORT", "x")
    result = CliRunner().invoke(config, ["check"])
    assert result.exit_code == 1
    assert "workers.concurrency" in result.output
    assert "http.port" in result.output
    assert "2 error(s)" in result.output


def test_config_check_ok_shows_the_embedded_broker(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HUB_DATABASE__URL", f"sqlite:///{tmp_path / 'hub.sqlite3'}")
    result = CliRunner().invoke(config, ["check"])
    assert result.exit_code == 0, result.output
    assert "embedded:// -> hubfs://" in result.output


def test_plugins_list_shows_enabled_and_why_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_PLUGINS__DISABLED", '["example"]')
    result = CliRunner().invoke(plugins, ["list"])
    assert result.exit_code == 0, result.output
    assert "example" in result.output
    assert "listed in plugins.disabled" in result.output


def test_db_upgrade_then_list_empty_deliveries(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'hub.sqlite3'}"
    result = CliRunner().invoke(db, ["upgrade", "--url", url])
    assert result.exit_code == 0, result.output
    assert "database at revision" in result.output
    listed = CliRunner().invoke(deliveries, ["--url", url, "--status", "dead"])
    assert listed.exit_code == 0, listed.output
    retried = CliRunner().invoke(deliveries, ["--url", url, "retry"])
    assert "0 delivery(ies) back in the outbox" in retried.output


# ---------------------------------------------------------------------------------------------- demo
#: The demo must finish well under a minute on a loaded 2-core machine; this bound leaves room for CI.
DEMO_BOUND_SECONDS = 90.0


def _summary_rows(stdout: str) -> dict[str, int]:
    """The rows of the demo's summary table (``what`` -> ``count``)."""
    return {m[1]: int(m[2]) for m in re.finditer(r"^[│|] (\S.*?)\s+[│|]\s+(\d+) [│|]$", stdout, re.MULTILINE)}


def test_demo_runs_a_simulated_center_through_the_worker_and_the_plugin(tmp_path: Path) -> None:
    """``connect-hub demo`` as ``make demo`` runs it: simulator, pipeline, relay, worker, example plugin; exit 0."""
    cli = Path(sys.executable).parent / "connect-hub"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")} | {"COLUMNS": "120"}
    started = time.monotonic()
    result = subprocess.run(
        [str(cli), "demo", "--var-dir", str(tmp_path / "demo")],
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_BOUND_SECONDS,
        check=False,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _summary_rows(result.stdout)
    assert rows["agents"] == 10, result.stdout
    assert rows["contacts"] > 10
    assert rows["events stored"] > rows["contacts"]
    assert rows["deliveries succeeded"] > 0
    assert rows["deliveries dead"] == 0
    assert rows["dead letters open"] == 0
    assert not {k for k in rows if k.startswith("deliveries ")} - {"deliveries succeeded", "deliveries dead"}
    top = [k for k in rows if k.startswith("event ")]
    assert "event agent::state_change" in top
    assert 0 < len(top) <= 5
    assert "seed 1: 30 simulated min" in result.stdout
    # contact records and contact events went through the ingest store: every contact got its record
    assert rows["contact records"] >= rows["contacts"]
    assert rows["contact events"] > rows["contacts"]
    assert rows["contacts with a contact record"] == rows["contacts"]
    assert f"{rows['contact records']} contact records, {rows['contact events']} contact events" in result.stdout
    plugin_lines = (tmp_path / "demo" / "example-plugin.log").read_text(encoding="utf-8").splitlines()
    keys = {line.split("\t", 1)[0] for line in plugin_lines}  # at least once: count idempotency keys
    assert len(keys) == rows["deliveries succeeded"]
    keys_by_event = {event: {k for k, _, e, _ in map(_plugin_line, plugin_lines) if e == event} for event in _CONTACT}
    assert len(keys_by_event["hub::contact_record"]) == rows["contact records"]
    assert len(keys_by_event["hub::contact_event"]) == rows["contact events"]
    _assert_contact_rows_hold_contact_records(tmp_path / "demo" / "hub.sqlite3", rows["contacts"])
    assert elapsed < DEMO_BOUND_SECONDS


_CONTACT = ("hub::contact_record", "hub::contact_event")


def _plugin_line(line: str) -> tuple[str, str, str, str]:
    key, occurred_at, event, text = line.split("\t", 3)
    return key, occurred_at, event, text


def _assert_contact_rows_hold_contact_records(path: Path, contacts: int) -> None:
    """Every contact row of the demo's database has its contact record's data and names a stored agent."""
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as db:
            rows = db.execute(
                sa.select(CONTACTS, AGENTS.c.key.label("agent")).outerjoin(AGENTS, AGENTS.c.key == CONTACTS.c.agent_key)
            ).all()
    finally:
        engine.dispose()
    assert len(rows) == contacts
    for row in rows:
        assert row.state == "ended", row
        assert row.queue_name, row
        assert row.disconnect_reason, row
        assert row.initiated_at is not None, row
        assert row.disconnected_at is not None, row
        assert row.agent_key is None or row.agent == row.agent_key, row
    connected = [row for row in rows if row.connected_to_agent_at is not None]
    assert connected
    assert all(row.talk_duration_s is not None for row in connected)
    assert any(row.queue_duration_s for row in rows)
    assert any(row.acw_duration_s for row in rows)
    assert any(row.voice_id_result for row in rows if row.channel == "VOICE")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenarios", "--seed", "3"], "--seed only applies to the simulator"),
        (["--scenarios", "--agents", "3", "--duration", "60"], "--agents, --duration only applies"),
        (["--repeat", "2"], "--repeat only applies with --scenarios"),
        (["--scenario", "inbound_voice"], "--scenario only applies with --scenarios"),
    ],
)
def test_demo_refuses_options_of_the_other_mode(args: list[str], message: str) -> None:
    result = CliRunner().invoke(demo, args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_demo_refuses_an_unknown_scenario() -> None:
    result = CliRunner().invoke(demo, ["--scenarios", "--scenario", "no_such_thing"])
    assert result.exit_code == 2, result.output
    assert "inbound_voice" in result.output


def _rendered(result: DemoResult) -> dict[str, int]:
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(_summary(result))
    return _summary_rows(console.export_text())


def test_demo_summary_counts_contact_data_only_when_it_was_fed() -> None:
    fed = _rendered(
        DemoResult("t", "n", contacts=3, contacts_with_record=2, contact_records=3, contact_events=9, contact_data=True)
    )
    assert (fed["contacts with a contact record"], fed["contact records"], fed["contact events"]) == (2, 3, 9)
    scenarios = DemoResult("t", "n", contacts=3)
    assert not {"contacts with a contact record", "contact records", "contact events"} & _rendered(scenarios).keys()


def test_demo_is_incomplete_when_contact_data_was_refused() -> None:
    ok = DemoResult("t", "n", deliveries={"succeeded": 4}, contact_data=True)
    assert ok.complete
    refused = DemoResult("t", "n", deliveries={"succeeded": 4}, contact_data=True, contact_rejected=1)
    assert not refused.complete
    assert _rendered(refused)["contact inputs rejected"] == 1


# ---------------------------------------------------------------------------------------------- feeding
def test_scenario_inputs_follow_the_scenario_in_order() -> None:
    scenario = {
        "configuration": {"name": "c0"},
        "steps": [
            {"label": "first", "snapshot": {"n": 1}},
            {"action": "agent.setState", "args": []},
            {"configuration": {"name": "c1"}},
            {"configuration": {"name": "c2"}, "snapshot": {"n": 2}},
            {"inject": "some::event"},
            {"comment": "nothing to feed"},
        ],
    }
    inputs = scenario_inputs("jane", scenario, source="demo")
    assert [(i.kind, i.data) for i in inputs] == [
        ("configuration", {"name": "c0"}),
        ("snapshot", {"n": 1}),
        ("configuration", {"name": "c1"}),
        ("configuration", {"name": "c2"}),
        ("snapshot", {"n": 2}),
    ]
    assert {(i.key, i.source) for i in inputs} == {("jane", "demo")}


def test_scenario_inputs_of_a_bundled_scenario() -> None:
    scenario = load_scenario_file("inbound_voice")
    inputs = scenario_inputs("agent-1", scenario)
    snapshots = [s["snapshot"] for s in scenario["steps"] if s.get("snapshot")]
    assert [i.data for i in inputs if i.kind == "snapshot"] == snapshots
    assert inputs[0].kind == "configuration"
    assert all(i.source == "streams" for i in inputs)


def test_pipeline_feed_ingests_the_agent_data_of_each_tick_as_one_batch() -> None:
    batches: list[list[AgentInput]] = []
    feed = PipelineFeed(batches.append)
    sim = Simulation(SimulationConfig(agents=3), 5, feed)
    sim.run(600)
    assert batches, "ten simulated minutes produce agent data"
    fed: list[AgentInput] = [item for batch in batches for item in batch]
    assert feed.ingested == len(fed)
    assert feed.agents == {i.key for i in fed}
    assert len(feed.agents) == 3
    assert {(i.kind, i.source) for i in fed} == {("agent_data", "simulator")}
    data: dict[str, Any] = fed[0].data
    assert set(data) >= {"snapshot", "configuration"}
    # Keyed by the agent's ARN, as the bridge, the Agent Event Stream and contact records name agents.
    assert all(i.key == i.data["configuration"]["agentARN"] for i in fed)
    assert all(key.startswith("arn:aws:connect:") and "/agent/" in key for key in feed.agents)
    feed.agent_event({"EventType": "HEART_BEAT"})
    feed.contact_record({})
    feed.contact_event({})
    feed.flush()
    assert sum(len(b) for b in batches) == len(fed)
