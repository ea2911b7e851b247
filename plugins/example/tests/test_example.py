"""Tests of the example plugin, through the hub's public API only.

A real agent session replays three snapshots of the Streams oracle's ``inbound_voice`` scenario;
every event it raises is turned into hook calls the way the hub's workers call them (one
delivery per plugin and hook, with a :class:`HookContext`), and the output file is checked.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import connect_hub_example
import pytest
from dynaconf import Dynaconf

from hub import AgentSession
from hub.config import ConfigurationError, load_settings
from hub.hookspecs import CONTACT_EVENT, CONTACT_RECORD_EVENT, EVENT_HOOKS
from hub.plugins import HubPlugins
from hub.simulator import CollectingSink, Simulation, SimulationConfig

SCENARIO = json.loads((Path(__file__).parent / "inbound_voice.json").read_text())


def make_settings(tmp_path: Path, body: str) -> Dynaconf:
    path = tmp_path / "settings.toml"
    path.write_text(body)
    return load_settings([path], environ={})


@pytest.fixture
def out_file(tmp_path: Path) -> Path:
    return tmp_path / "out" / "example.log"


@pytest.fixture
def plugins(tmp_path: Path, out_file: Path) -> HubPlugins:
    """The installed example plugin, found through its entry point like any other."""
    settings = make_settings(
        tmp_path, f'[default.plugins]\nenabled = ["example"]\n[default.plugins.example]\npath = "{out_file}"\n'
    )
    hub_plugins = HubPlugins()
    hub_plugins.load(settings)
    hub_plugins.validate(settings)
    return hub_plugins


def replay(plugins: HubPlugins, *, repeat_each_delivery: int = 1) -> list[str]:
    """Run the scenario; call the plugin's hook for every mapped event. Returns the events seen."""
    session = AgentSession("agent-1", clock=lambda: 1740819610.0)
    delivered: list[str] = []

    def on_event(data: Any, name: str) -> None:
        if name not in EVENT_HOOKS:
            return
        for plugin, hook in plugins.deliveries_for(name):
            if name == "agent::state_change":
                kwargs = {"agent": data.agent, "change": data}
            elif name.startswith("contact::"):
                kwargs = {"contact": data, "agent": session.agent}
            else:
                kwargs = {"agent": data}
            key = f"{plugin}:{hook}:{len(delivered)}"
            for attempt in range(1, repeat_each_delivery + 1):
                ctx = plugins.context(
                    plugin,
                    event=name,
                    idempotency_key=key,
                    attempt=attempt,
                    occurred_at=datetime(2025, 3, 1, 9, 0, len(delivered), tzinfo=UTC),
                )
                plugins.call(plugin, hook, ctx=ctx, **kwargs)
            delivered.append(name)

    session.bus.subscribe_all(on_event)
    session.apply_configuration(SCENARIO["configuration"])
    for step in SCENARIO["steps"]:
        session.apply_snapshot(step["snapshot"])
    return delivered


def test_plugin_is_found_through_its_entry_point(plugins: HubPlugins) -> None:
    [record] = [r for r in plugins.list_plugins() if r.name == "example"]
    assert record.enabled
    assert record.distribution == "connect-hub-example"
    assert record.api_version == connect_hub_example.CONNECT_HUB_API
    hooks = {"on_contact_connected", "on_agent_state_change", "on_contact_record", "on_contact_event", "hub_check"}
    assert hooks <= set(record.hooks)


def test_writes_one_line_per_connected_contact_and_state_change(plugins: HubPlugins, out_file: Path) -> None:
    delivered = replay(plugins)

    rows = connect_hub_example.read_lines(out_file)
    assert [event for _, _, event, _ in rows] == delivered
    assert delivered.count("contact::connected") == 1
    assert delivered.count("agent::state_change") == 3
    texts = [text for _, _, _, text in rows]
    assert "contact c-in-1 (voice) connected to Jane Doe" in texts
    assert "agent Jane Doe: PendingBusy -> Busy" in texts
    assert len({key for key, _, _, _ in rows}) == len(rows)


def test_a_retried_delivery_writes_nothing_more(plugins: HubPlugins, out_file: Path) -> None:
    delivered = replay(plugins, repeat_each_delivery=3)

    assert len(connect_hub_example.read_lines(out_file)) == len(delivered)


@pytest.fixture(scope="module")
def contact_data() -> CollectingSink:
    """Ten simulated minutes of a contact center (seed 3), every contact finished: its contact records and events."""
    sink = CollectingSink()
    sim = Simulation(SimulationConfig(agents=3), 3, sink)
    sim.run(600)
    sim.drain()
    return sink


def deliver_contact_data(plugins: HubPlugins, name: str, items: list[dict[str, Any]], *, attempts: int = 1) -> None:
    """Call the hook of ``name`` (a contact record or contact event) for each item, as a worker does."""
    argument = "record" if name == CONTACT_RECORD_EVENT else "event"
    for index, item in enumerate(items):
        for plugin, hook in plugins.deliveries_for(name):
            for attempt in range(1, attempts + 1):
                ctx = plugins.context(
                    plugin,
                    event=name,
                    idempotency_key=f"{name}:{index}:{plugin}:{hook}",
                    attempt=attempt,
                    occurred_at=datetime(2025, 3, 1, 9, 0, index % 60, tzinfo=UTC),
                )
                plugins.call(plugin, hook, ctx=ctx, **{argument: item})


def test_writes_one_line_per_contact_record_and_contact_event(
    plugins: HubPlugins, out_file: Path, contact_data: CollectingSink
) -> None:
    records, events = contact_data.contact_records, contact_data.contact_events
    assert records
    assert events

    deliver_contact_data(plugins, CONTACT_RECORD_EVENT, records)
    deliver_contact_data(plugins, CONTACT_EVENT, events, attempts=2)  # a retry writes nothing more

    rows = connect_hub_example.read_lines(out_file)
    assert [event for _, _, event, _ in rows] == [CONTACT_RECORD_EVENT] * len(records) + [CONTACT_EVENT] * len(events)
    first = records[0]
    assert rows[0][3] == (
        f"contact record {first['ContactId']} ({first['Channel']}, queue {first['Queue']['Name']}, "
        f"agent {(first.get('Agent') or {}).get('Username') or '-'}): {first['DisconnectReason']}"
    )
    detail = events[0]["detail"]
    assert rows[len(records)][3] == f"contact event {detail['contactId']}: {detail['eventType']} ({detail['channel']})"


def test_check_reports_a_writable_and_an_unwritable_path(tmp_path: Path, plugins: HubPlugins) -> None:
    [result] = plugins.check()
    assert result.ok
    assert result.name == "example"

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings = make_settings(
        tmp_path,
        f'[default.plugins]\nenabled = ["example"]\n[default.plugins.example]\npath = "{blocker}/sub/out.log"\n',
    )
    other = HubPlugins()
    other.load(settings)
    [result] = other.check()
    assert not result.ok
    assert "cannot write" in result.message


def test_a_path_that_is_not_a_string_stops_a_strict_hub(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, '[default.plugins]\nenabled = ["example"]\nstrict = true\n[default.plugins.example]\npath = 42\n'
    )
    hub_plugins = HubPlugins()
    hub_plugins.load(settings)

    with pytest.raises(ConfigurationError) as caught:
        hub_plugins.validate(settings)

    assert caught.value.errors == ["plugin example: plugins.example.path must be a string path, got 42"]


def test_a_path_that_is_not_a_string_disables_the_plugin_when_not_strict(tmp_path: Path) -> None:
    # Only this plugin: other installed plugins must not change what this test sees.
    settings = make_settings(
        tmp_path, '[default.plugins]\nenabled = ["example"]\n[default.plugins.example]\npath = 42\n'
    )
    hub_plugins = HubPlugins()
    hub_plugins.load(settings)

    hub_plugins.validate(settings)

    [record] = [r for r in hub_plugins.list_plugins() if r.name == "example"]
    assert not record.enabled
    assert record.error == "invalid settings: plugins.example.path must be a string path, got 42"
    assert hub_plugins.deliveries_for("contact::connected") == []
