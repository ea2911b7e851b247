"""The ingest pipeline on SQLite, in-process: events, contacts, agents and the outbox in one transaction."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.config import load_settings
from hub.db import (
    create_engine_from_url,
    get_contact,
    list_deliveries,
    list_events,
    load_agents,
    session_scope,
    upgrade,
)
from hub.db._models import DELIVERIES
from hub.plugins import HubPlugins
from hub.runtime import (
    AgentInput,
    Executor,
    Pipeline,
    PipelineResetError,
    agent_token,
    backoff_delay,
    ordering_key,
    pack_groups,
)
from hub.runtime._pipeline import _utc

SCENARIO = json.loads(resources.files("hub").joinpath("scenarios", "inbound_voice.json").read_text())


def inputs_for(key: str, scenario: dict[str, Any] = SCENARIO) -> list[AgentInput]:
    """Configuration then every snapshot step of a scenario."""
    items = [AgentInput(key, "configuration", scenario["configuration"])]
    items += [AgentInput(key, "snapshot", s["snapshot"]) for s in scenario["steps"] if "snapshot" in s]
    return items


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    """A migrated SQLite database."""
    url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    upgrade(url)
    return create_engine_from_url(url)


@pytest.fixture
def plugins(plugin_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HubPlugins:
    """The recorder test plugin, registered in-process, writing to ``tmp_path/recorder.jsonl``."""
    import hubtest_recorder

    monkeypatch.setenv("HUB_PLUGINS__RECORDER__PATH", str(tmp_path / "recorder.jsonl"))
    hub_plugins = HubPlugins()
    hub_plugins.load(load_settings(), entry_points=[])
    hub_plugins.register(hubtest_recorder, name="recorder")
    return hub_plugins


def test_ingest_writes_events_contacts_agent_and_outbox(engine: Engine, plugins: HubPlugins) -> None:
    result = Pipeline(engine, plugins).ingest(inputs_for("jane"))
    assert not result.errors
    with session_scope(engine, write=False) as db:
        names = [e.name for e in list_events(db)]
        contact = get_contact(db, "c-in-1")
        (agent,) = load_agents(db)
        deliveries = list_deliveries(db, limit=1000)
        seqs = {e.id: e.seq for e in list_events(db)}
    # No refresh/update noise, no per-contact twins.
    assert "agent::update" not in names
    assert not any("refresh" in n or n.count("::") > 1 for n in names)
    assert {"agent::state_change", "contact::connected", "contact::destroyed"} <= set(names)
    assert contact is not None
    assert (contact.channel, contact.contact_type, contact.state) == ("VOICE", "voice", "ended")
    assert contact.agent_key == "jane"
    assert agent.agent_data is not None
    assert agent.last_seq == len(names)
    hooks = [(d.hook, d.ordering_key) for d in deliveries]
    token = agent_token("jane")
    assert len(token) == 16
    assert ("on_contact_connected", f"{token}|c-in-1") in hooks
    assert ("on_agent_state_change", token) in hooks
    assert all(d.idempotency_key == f"{token}/{seqs[d.event_id]}/recorder" for d in deliveries)
    assert result.deliveries == len(deliveries) == len(result.delivery_keys)


def test_stale_input_never_overwrites_newer_contact_data(engine: Engine, plugins: HubPlugins) -> None:
    pipeline = Pipeline(engine, plugins)
    pipeline.ingest(inputs_for("jane"))
    # An older snapshot of the same contact arrives through another session: the row keeps "ended".
    first_with_contact = next(s for s in SCENARIO["steps"] if s.get("snapshot", {}).get("contacts"))
    pipeline.ingest(
        [
            AgentInput("late", "configuration", SCENARIO["configuration"]),
            AgentInput("late", "snapshot", first_with_contact["snapshot"]),
        ]
    )
    with session_scope(engine, write=False) as db:
        contact = get_contact(db, "c-in-1")
    assert contact is not None
    assert contact.state == "ended"


def test_sessions_are_rebuilt_after_a_restart_and_numbering_continues(engine: Engine, plugins: HubPlugins) -> None:
    items = inputs_for("jane")
    Pipeline(engine, plugins).ingest(items[:4])
    with session_scope(engine, write=False) as db:
        before = list_events(db)
    restarted = Pipeline(engine, plugins)  # a new hub process: sessions come from the agents table
    restarted.ingest(items[4:])
    with session_scope(engine, write=False) as db:
        after = list_events(db)
        keys = [d.idempotency_key for d in list_deliveries(db, limit=1000)]
    new = after[len(before) :]
    assert "agent::init" not in [e.name for e in new]  # the restored session was already initialised
    assert [e.seq for e in after] == list(range(1, len(after) + 1))
    assert len(keys) == len(set(keys))


def test_malformed_input_is_reported_and_the_rest_written(engine: Engine, plugins: HubPlugins) -> None:
    items = inputs_for("jane")
    items.insert(2, AgentInput("jane", "snapshot", {"state": "not a state"}))
    result = Pipeline(engine, plugins).ingest(items)
    assert [i for i, _ in result.errors] == [2]
    assert result.deliveries > 0


def test_executor_runs_in_order_and_retries_with_backoff(engine: Engine, plugins: HubPlugins, tmp_path: Path) -> None:
    """The executor (no broker): a group runs in id order; a blocked delivery is deferred untouched."""
    from hubtest_common import read

    from hub.config import WorkersSettings

    Pipeline(engine, plugins).ingest(inputs_for("jane"))
    out = tmp_path / "recorder.jsonl"
    workers = WorkersSettings(2, 3, 0.01, 0.02, 5.0, {}, {})
    executor = Executor(engine, plugins, workers)
    with session_scope(engine) as db:
        ids = [d.id for d in list_deliveries(db, ordering_key=ordering_key("jane", None), limit=100)]
        db.execute(sa.update(DELIVERIES).where(DELIVERIES.c.id.in_(ids[:2])).values(status="queued"))
    # The second delivery first: it is blocked by the first and goes back to pending, attempt untouched.
    blocked = executor.run_message([[ids[1]]])
    assert blocked.deferred == 1
    assert blocked.succeeded == 0
    outcome = executor.run_message([[ids[0]]])  # runs, then drains the rest of the key (pending) in order
    assert outcome.succeeded == len(ids)
    recorded = [line["key"] for line in read(out)]
    with session_scope(engine, write=False) as db:
        expected = [d.idempotency_key for d in list_deliveries(db, ordering_key=ordering_key("jane", None), limit=100)]
        attempts = {d.attempts for d in list_deliveries(db, ordering_key=ordering_key("jane", None), limit=100)}
    assert recorded == expected
    assert attempts == {1}


def test_backoff_is_exponential_with_full_jitter_and_packing_keeps_groups() -> None:
    assert backoff_delay(1, 1.0, 300.0, rng=lambda: 1.0) == 1.0
    assert backoff_delay(4, 1.0, 300.0, rng=lambda: 1.0) == 8.0
    assert backoff_delay(20, 1.0, 300.0, rng=lambda: 1.0) == 300.0
    assert backoff_delay(4, 1.0, 300.0, rng=lambda: 0.0) == 0.0
    assert pack_groups([[1, 2], [3], [4, 5, 6], [7]], 3) == [[[1, 2], [3]], [[4, 5, 6]], [[7]]]
    assert _utc(0).tzinfo is not None


def test_replay_one_contact_to_one_plugin(engine: Engine, plugins: HubPlugins, tmp_path: Path) -> None:
    """``deliveries replay``: a contact's stored events become new deliveries, run in event order."""
    from hubtest_common import read

    from hub.cli._deliveries import replay_contact
    from hub.config import WorkersSettings

    Pipeline(engine, plugins).ingest(inputs_for("jane"))
    implemented = set(plugins.list_plugins()[0].hooks)
    ids = replay_contact(engine, "c-in-1", "recorder", implemented=implemented)
    with session_scope(engine) as db:
        db.execute(sa.update(DELIVERIES).where(DELIVERIES.c.id.in_(ids[:1])).values(status="queued"))
    outcome = Executor(engine, plugins, WorkersSettings(2, 3, 0.01, 0.02, 5.0, {}, {})).run_message([ids[:1]])
    assert outcome.succeeded == len(ids)
    replayed = [line for line in read(tmp_path / "recorder.jsonl") if line["key"].startswith("replay:")]
    assert [line["hook"] for line in replayed] == [
        "on_contact_connecting",
        "on_contact_connected",
        "on_contact_acw",
        "on_contact_ended",
        "on_contact_destroyed",
    ]
    assert {line["contact"] for line in replayed} == {"c-in-1"}


def test_a_failed_write_resets_sessions_so_a_retry_writes_the_same_events(
    engine: Engine, plugins: HubPlugins, tmp_path: Path
) -> None:
    items = inputs_for("jane")
    pipeline = Pipeline(engine, plugins)
    pipeline.ingest(items[:3])
    with engine.begin() as conn:  # the database refuses the next write
        conn.execute(sa.text("CREATE TRIGGER refuse BEFORE INSERT ON deliveries BEGIN SELECT RAISE(ABORT, 'no'); END"))
    with pytest.raises(sa.exc.IntegrityError):
        pipeline.ingest(items[3:])
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER refuse"))
    pipeline.ingest(items[3:])  # the caller retries the same inputs
    with session_scope(engine, write=False) as db:
        keys = sorted(d.idempotency_key for d in list_deliveries(db, limit=1000))
        seqs = [e.seq for e in list_events(db)]
    reference_url = f"sqlite:///{tmp_path / 'reference.sqlite3'}"
    upgrade(reference_url)
    reference = Pipeline(create_engine_from_url(reference_url), plugins).ingest(items)  # no failure at all
    assert seqs == list(range(1, len(seqs) + 1))
    assert keys == sorted(reference.delivery_keys)


def test_batches_in_flight_after_a_failed_write_are_refused_then_resubmitted(
    engine: Engine, plugins: HubPlugins, tmp_path: Path
) -> None:
    """The writer thread commits in order; a failed write fails the later in-flight batches too."""
    items = inputs_for("jane")
    first, second, third = items[:3], items[3:5], items[5:]
    reference_url = f"sqlite:///{tmp_path / 'reference.sqlite3'}"
    upgrade(reference_url)
    reference = Pipeline(create_engine_from_url(reference_url), plugins)
    numbered = reference.ingest(first).events_written
    expected_keys = sorted(reference.ingest(second + third).delivery_keys)
    with engine.begin() as conn:  # the database refuses every event after the first batch's
        conn.execute(
            sa.text(
                f"CREATE TRIGGER refuse BEFORE INSERT ON events WHEN NEW.seq > {numbered}"
                " BEGIN SELECT RAISE(ABORT, 'no'); END"
            )
        )
    pipeline = Pipeline(engine, plugins, max_in_flight=3)
    blocker = engine.raw_connection()
    blocker.driver_connection.execute("BEGIN IMMEDIATE")  # the write lock: the writer waits on the first batch
    futures = [pipeline.submit(batch) for batch in (first, second, third)]
    assert not any(f.done() for f in futures)
    blocker.driver_connection.execute("COMMIT")
    blocker.close()
    assert futures[0].result(timeout=60).events_written == numbered
    with pytest.raises(sa.exc.IntegrityError):
        futures[1].result(timeout=60)
    with pytest.raises(PipelineResetError):
        futures[2].result(timeout=60)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER refuse"))
    resubmitted = [pipeline.submit(batch) for batch in (second, third)]
    keys = sorted(k for f in resubmitted for k in f.result(timeout=60).delivery_keys)
    pipeline.close()
    assert keys == expected_keys
    with session_scope(engine, write=False) as db:
        seqs = [e.seq for e in list_events(db)]
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_publisher_gets_each_batch_queued_and_grouped_per_ordering_key_and_plugin(
    engine: Engine, plugins: HubPlugins
) -> None:
    published: list[list[int]] = []
    pipeline = Pipeline(engine, plugins)
    pipeline.publisher = published.extend
    result = pipeline.ingest(inputs_for("jane"))
    pipeline.close()
    with session_scope(engine, write=False) as db:
        rows = {d.id: d for d in list_deliveries(db, limit=1000)}
    assert result.deliveries == len(rows) > 0
    assert sorted(i for g in published for i in g) == sorted(rows)
    assert {d.status.value for d in rows.values()} == {"queued"}
    for group in published:
        assert group == sorted(group)
        assert len({(rows[i].ordering_key, rows[i].plugin) for i in group}) == 1
    firsts = [(rows[g[0]].ordering_key, rows[g[0]].plugin) for g in published]
    assert len(firsts) == len(set(firsts))  # one group per (ordering key, plugin) in a batch
