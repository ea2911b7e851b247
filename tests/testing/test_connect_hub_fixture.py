"""The fixtures plugin authors get from ``hub.testing`` (a pytest11 plugin), used as they would use them."""

from __future__ import annotations

import pytest
from connect_hub_example import read_lines

from hub import AgentSession
from hub.testing import HubHarness, load_scenario_file


@pytest.mark.connect_hub(plugins=["example"], settings={"plugins.example.path": "{folder}/example.log"})
def test_a_plugin_gets_its_hook_calls_from_a_scenario(connect_hub: HubHarness) -> None:
    connect_hub.feed(connect_hub.scenario("inbound_voice"), agent="jane")
    counts = connect_hub.wait(timeout=90)
    assert counts.total_deliveries > 0
    assert counts.deliveries == {"succeeded": counts.total_deliveries}
    hooks = {d.hook for d in connect_hub.deliveries(plugin="example")}
    assert {"on_contact_connected", "on_agent_state_change"} <= hooks
    assert "contact::connected" in connect_hub.event_names()
    lines = read_lines(connect_hub.folder / "example.log")
    events = [event for _key, _at, event, _text in lines]
    assert "contact::connected" in events
    assert len({key for key, *_ in lines}) == len(lines)  # one line per delivery, none twice


def test_agent_session_fixture_is_a_bare_session(agent_session: AgentSession) -> None:
    scenario = load_scenario_file("inbound_voice")
    agent_session.apply_configuration(scenario["configuration"])
    agent_session.apply_snapshot(scenario["steps"][0]["snapshot"])
    assert agent_session.agent.get_state().name == "Available"
