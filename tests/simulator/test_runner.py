"""The runner, the simulated clock and scenario emission."""

from __future__ import annotations

import pytest

from hub.simulator import CollectingSink, Progress, SimulationConfig, emit_scenario, list_agents, run
from hub.simulator.clock import Scheduler, iso_ms, iso_s


def test_scheduler_runs_timers_in_time_then_scheduling_order() -> None:
    scheduler = Scheduler(1000)
    seen: list[str] = []
    scheduler.at(2000, lambda: seen.append("b"))
    scheduler.at(1500, lambda: seen.append("a"))
    cancelled = scheduler.at(1500, lambda: seen.append("never"))
    scheduler.at(2000, lambda: seen.append("c"))
    cancelled.cancel()
    while scheduler.run_next(5000):
        pass
    assert seen == ["a", "b", "c"]
    assert scheduler.now == 5000


def test_timestamp_formats() -> None:
    assert iso_ms(1_772_442_942_318) == "2026-03-02T09:15:42.318Z"
    assert iso_s(1_772_442_942_318) == "2026-03-02T09:15:42Z"


def test_progress_is_reported_per_tick_and_counts_grow() -> None:
    reports: list[Progress] = []
    result = run(SimulationConfig(), 3, 600, progress=reports.append, tick=60)
    assert [p.sim_seconds for p in reports] == [60.0 * i for i in range(1, 11)]
    assert all(p.total_seconds == 600 for p in reports)
    assert reports[-1].agents_logged_in == SimulationConfig().agents
    assert reports[-1].contacts >= reports[0].contacts
    assert result.sim_seconds == 600.0


def test_drain_completes_every_contact() -> None:
    sink = CollectingSink()
    result = run(SimulationConfig(), 8, 1200, sink=sink, drain=True)
    assert result.contacts == result.completed == len(sink.contact_records) > 0


def test_paced_run_follows_the_rate() -> None:
    result = run(SimulationConfig(agents=2), 1, 2.0, rate=20.0, tick=0.5)
    assert result.wall_seconds >= 0.09  # 2 simulated seconds at 20x take at least 0.1 s of wall time


@pytest.mark.parametrize("kwargs", [{"until": -1}, {"until": 10, "rate": 0}, {"until": 10, "tick": 0}])
def test_runner_rejects_bad_arguments(kwargs: dict[str, float]) -> None:
    until = kwargs.pop("until")
    with pytest.raises(ValueError, match="until"):
        run(SimulationConfig(), 1, until, **kwargs)  # type: ignore[arg-type]


def test_emit_scenario_has_the_oracle_shape() -> None:
    scenario = emit_scenario("agent02", 4, 1800)
    config = scenario["configuration"]
    assert set(config) == {
        "name", "username", "softphoneEnabled", "softphoneAutoAccept", "extension", "agentARN",
        "agentPreferences", "routingProfile", "agentStates", "permissions", "dialableCountries",
    }  # fmt: skip
    assert config["username"] == "agent02"
    assert len(scenario["steps"]) > 10
    first = scenario["steps"][0]["snapshot"]
    assert set(first) == {"state", "agentAvailabilityState", "contacts", "snapshotTimestamp"}
    assert set(first["state"]) == {"agentStateARN", "type", "name", "startTimestamp"}
    by_id = emit_scenario(list_agents()[1][0], 4, 1800)
    assert by_id == scenario


def test_emit_scenario_unknown_agent() -> None:
    with pytest.raises(KeyError):
        emit_scenario("nobody", 1, 10)


def test_streams_resend_interval_repeats_the_current_agent_data() -> None:
    plain, resent = CollectingSink(), CollectingSink()
    run(SimulationConfig(agents=2), 5, 900, sink=plain)
    run(SimulationConfig(agents=2, streams_resend_interval=30.0), 5, 900, sink=resent)
    assert len(resent.agent_data_items) > len(plain.agent_data_items)
    duplicates = [(a, b) for a, b in zip(resent.agent_data_items, resent.agent_data_items[1:], strict=False) if a == b]
    assert duplicates  # the very same update again, snapshotTimestamp included
    distinct = [item for i, item in enumerate(resent.agent_data_items) if item not in resent.agent_data_items[:i]]
    assert distinct == plain.agent_data_items  # otherwise nothing changes
