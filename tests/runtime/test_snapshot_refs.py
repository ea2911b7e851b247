"""One snapshot per input: the input's first event stores it, the following ones refer to it.

Both writers (the runtime pipeline and the ingest ``DatabaseSink``), on SQLite and PostgreSQL: the
stored form, the hook arguments a worker rebuilds for the 2nd/3rd event of one input, rows in the old
inline form, a dangling reference, and ``prune_history`` keeping a referenced event.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.config import WorkersSettings, load_settings
from hub.db import create_engine_from_url, prune_history, session_scope, upgrade
from hub.db._models import DELIVERIES, EVENTS
from hub.ingest import DatabaseSink
from hub.plugins import HubPlugins
from hub.runtime import AgentInput, Executor, Pipeline
from hub.runtime._executor import _Claimed

SCENARIO = json.loads(resources.files("hub").joinpath("scenarios", "inbound_voice.json").read_text())
#: The scenario's snapshots by their time: what each input said about the agent and its contacts.
STEPS = {
    dt.datetime.fromisoformat(s["snapshot"]["snapshotTimestamp"].replace("Z", "+00:00")): s["snapshot"]
    for s in SCENARIO["steps"]
    if s.get("snapshot")
}


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated database of each kind."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.sqlite3'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    upgrade(url)
    engine = create_engine_from_url(url)
    yield engine
    engine.dispose()


@pytest.fixture
def plugins(plugin_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HubPlugins:
    """The recorder test plugin, registered in-process."""
    import hubtest_recorder

    monkeypatch.setenv("HUB_PLUGINS__RECORDER__PATH", str(tmp_path / "recorder.jsonl"))
    hub_plugins = HubPlugins()
    hub_plugins.load(load_settings(), entry_points=[])
    hub_plugins.register(hubtest_recorder, name="recorder")
    return hub_plugins


@pytest.fixture(params=["pipeline", "dbsink"])
def written(request: pytest.FixtureRequest, engine: Engine, plugins: HubPlugins) -> Engine:
    """The scenario written by one of the two writers."""
    if request.param == "pipeline":
        items = [AgentInput("jane", "configuration", SCENARIO["configuration"])]
        items += [AgentInput("jane", "snapshot", s) for s in STEPS.values()]
        assert not Pipeline(engine, plugins).ingest(items).errors
    else:
        sink = DatabaseSink(engine, hooks=plugins)
        for snapshot in STEPS.values():
            sink.apply_agent_data("jane", {"snapshot": snapshot, "configuration": SCENARIO["configuration"]})
    return engine


def _events(engine: Engine) -> list[Any]:
    with session_scope(engine, write=False) as db:
        query = sa.select(EVENTS.c.id, EVENTS.c.seq, EVENTS.c.name, EVENTS.c.occurred_at, EVENTS.c.payload)
        return list(db.execute(query.where(EVENTS.c.agent_key == "jane").order_by(EVENTS.c.seq)).all())


def _inputs(engine: Engine) -> dict[dt.datetime, list[Any]]:
    """The stored events grouped by input (one input: one agent, one ``occurred_at``)."""
    groups: dict[dt.datetime, list[Any]] = {}
    for row in _events(engine):
        groups.setdefault(row.occurred_at, []).append(row)
    return groups


def _arguments(engine: Engine, plugins: HubPlugins, event_id: int) -> tuple[str, dict[str, Any]]:
    executor = Executor(engine, plugins, WorkersSettings(2, 3, 0.01, 0.02, 5.0, {}, {}))
    claimed = _Claimed(0, "recorder", "hook", 1, "key", None, event_id, None, None)
    name, _occurred, kwargs = executor.build_arguments(claimed)
    return name, kwargs


def test_only_the_first_event_of_an_input_stores_the_snapshot(written: Engine) -> None:
    groups = _inputs(written)
    assert max(len(g) for g in groups.values()) >= 3  # the test needs an input raising three events
    for rows in groups.values():
        first, *rest = rows
        assert "snapshot" in first.payload
        assert "snapshot_seq" not in first.payload
        for row in rest:
            assert "snapshot" not in row.payload
            assert row.payload["snapshot_seq"] == first.seq


def test_later_events_of_an_input_get_that_input_s_agent_state(written: Engine, plugins: HubPlugins) -> None:
    """E.g. ``contact::connected`` raised after ``agent::state_change`` on the same snapshot."""
    checked = 0
    for at, rows in _inputs(written).items():
        expected = STEPS[at]
        contacts = {c["contactId"]: c["state"]["type"] for c in expected["contacts"]}
        for row in rows:
            name, kwargs = _arguments(written, plugins, row.id)
            assert kwargs["agent"].get_state().name == expected["state"]["name"], (name, at)
            if name == "agent::state_change":
                assert kwargs["change"].new_state == expected["state"]["name"]
            if name == "contact::connected":
                assert kwargs["contact"].get_state().type == contacts[kwargs["contact"].contact_id] == "connected"
            checked += 1 if row is not rows[0] else 0
    assert checked >= 2
    connected_at = next(at for at, rows in _inputs(written).items() if "contact::connected" in [r.name for r in rows])
    names = [r.name for r in _inputs(written)[connected_at]]
    assert names.index("contact::connected") > 0  # not the event holding the snapshot


def test_rows_in_the_old_inline_form_still_work(written: Engine, plugins: HubPlugins) -> None:
    rows = _events(written)
    by_seq = {r.seq: r for r in rows}
    referring = [r for r in rows if "snapshot_seq" in r.payload]
    before = {r.id: _arguments(written, plugins, r.id)[1]["agent"].get_state() for r in referring}
    with session_scope(written) as db:
        for r in referring:
            inline = {k: v for k, v in r.payload.items() if k != "snapshot_seq"}
            inline["snapshot"] = by_seq[r.payload["snapshot_seq"]].payload["snapshot"]
            db.execute(sa.update(EVENTS).where(EVENTS.c.id == r.id).values(payload=inline))
        # The referenced rows are gone: only the inline copies can give the state now.
        db.execute(sa.delete(DELIVERIES))
        db.execute(sa.delete(EVENTS).where(EVENTS.c.id.not_in([r.id for r in referring])))
    assert referring
    for r in referring:
        assert _arguments(written, plugins, r.id)[1]["agent"].get_state() == before[r.id]


def test_a_dangling_reference_fails_the_delivery_rather_than_guessing(written: Engine, plugins: HubPlugins) -> None:
    row = next(r for r in _events(written) if "snapshot_seq" in r.payload)
    with session_scope(written) as db:
        db.execute(sa.update(EVENTS).where(EVENTS.c.id == row.id).values(payload={**row.payload, "snapshot_seq": -1}))
    with pytest.raises(LookupError, match="snapshot_seq"):
        _arguments(written, plugins, row.id)


def test_prune_keeps_the_event_a_kept_event_refers_to(written: Engine, plugins: HubPlugins) -> None:
    rows = _events(written)
    with session_scope(written, write=False) as db:
        delivered = set(db.execute(sa.select(DELIVERIES.c.event_id)).scalars())
    referring = next(r for r in rows if "snapshot_seq" in r.payload and r.id in delivered)
    held = next(r for r in rows if r.seq == referring.payload["snapshot_seq"])
    old = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    with session_scope(written) as db:
        db.execute(sa.update(DELIVERIES).values(status="succeeded", finished_at=old))
        db.execute(sa.update(DELIVERIES).where(DELIVERIES.c.event_id == referring.id).values(status="dead"))
        db.execute(sa.delete(DELIVERIES).where(DELIVERIES.c.event_id == held.id))
        counts = prune_history(db, dt.datetime(2100, 1, 1, tzinfo=dt.UTC))
    kept = {r.id for r in _events(written)}
    assert counts["events"] > 0
    assert {referring.id, held.id} <= kept
    assert _arguments(written, plugins, referring.id)[1]["agent"] is not None
