"""Migrations: upgrade, downgrade, single head, and models equal to the migrated schema on both databases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL, make_url

from hub.db import (
    Base,
    EventRecord,
    alembic_config,
    create_engine_from_url,
    current_revision,
    downgrade,
    head_revision,
    session_scope,
    upgrade,
    write_batch,
)
from hub.runtime import agent_token


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> URL:
    """A database that was never migrated."""
    if request.param == "sqlite":
        return make_url(f"sqlite:///{tmp_path / 'empty.db'}")
    url: URL = request.getfixturevalue("fresh_postgres_url")
    return url


def _tables(url: URL) -> set[str]:
    engine = create_engine_from_url(url, poolclass=sa.NullPool)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_single_head_revision() -> None:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1
    assert head_revision() == heads[0]


def test_upgrade_creates_every_table_and_records_the_head(empty_url: URL) -> None:
    assert current_revision(empty_url) is None
    upgrade(empty_url)
    assert current_revision(empty_url) == head_revision()
    assert _tables(empty_url) == {*Base.metadata.tables, "alembic_version"}


def test_upgrade_does_not_depend_on_the_working_directory(
    empty_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    upgrade(empty_url)
    assert current_revision(empty_url) == head_revision()


def test_downgrade_to_base_drops_everything_and_upgrade_again_works_with_data(empty_url: URL) -> None:
    upgrade(empty_url)
    engine = create_engine_from_url(empty_url)
    event = EventRecord(
        name="agent::state_change", occurred_at=dt.datetime.now(dt.UTC), source="t", agent_key="a", seq=1
    )
    with session_scope(engine) as session:
        write_batch(session, events=[event])
    engine.dispose()
    downgrade(empty_url, "base")
    assert current_revision(empty_url) is None
    assert _tables(empty_url) == {"alembic_version"}
    upgrade(empty_url)
    assert current_revision(empty_url) == head_revision()
    upgrade(empty_url)  # idempotent at head
    assert current_revision(empty_url) == head_revision()


def test_models_match_migrations(empty_url: URL) -> None:
    """The ``alembic check`` equivalent: autogenerate finds nothing to do after upgrading to head."""
    upgrade(empty_url)
    engine = create_engine_from_url(empty_url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_upgrade_an_in_memory_database_through_its_engine() -> None:
    engine = create_engine_from_url("sqlite://", poolclass=sa.StaticPool, connect_args={"check_same_thread": False})
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with session_scope(engine) as session:
        result = write_batch(session, events=[EventRecord(name="x", occurred_at=dt.datetime.now(dt.UTC), source="t")])
    assert result.events_inserted == 1
    engine.dispose()


def test_stored_payloads_survive_the_move_to_json_and_back(empty_url: URL) -> None:
    """0002 turns ``jsonb`` event payloads and agent data into ``json`` on PostgreSQL; data is kept both ways."""
    upgrade(empty_url, "0001")
    engine = create_engine_from_url(empty_url, poolclass=sa.NullPool)
    as_stored_by_0001 = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    payload = {"snapshot_seq": 7, "old_state": "Available", "new_state": "Busy", "nested": {"a": [1, 2.5, None]}}
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO events (agent_key, seq, name, occurred_at, payload, source) "
                    "VALUES ('a', 1, 'agent::state_change', CURRENT_TIMESTAMP, :p, 't')"
                ).bindparams(sa.bindparam("p", type_=as_stored_by_0001)),
                {"p": payload},
            )
        for revision in ("head", "0001", "head"):
            (downgrade if revision == "0001" else upgrade)(empty_url, revision)
            with engine.connect() as connection:
                stored = connection.execute(
                    sa.text("SELECT payload ->> 'new_state', CAST(payload ->> 'snapshot_seq' AS INTEGER) FROM events")
                ).one()
            assert tuple(stored) == ("Busy", 7)
        if empty_url.get_backend_name() == "postgresql":
            with engine.connect() as connection:
                types = dict(
                    connection.execute(
                        sa.text(
                            "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                            "WHERE (table_name, column_name) IN (('events', 'payload'), ('agents', 'agent_data'))"
                        )
                    ).all()
                )
            assert types == {"events.payload": "json", "agents.agent_data": "json"}
    finally:
        engine.dispose()


def test_unfinished_deliveries_get_agent_tokens_in_their_ordering_keys(empty_url: URL) -> None:
    """0003 rewrites the agent-based ordering keys of unfinished deliveries only; downgrade restores them."""
    upgrade(empty_url, "0002")
    engine = create_engine_from_url(empty_url, poolclass=sa.NullPool)
    agent = "arn:aws:connect:eu-west-2:111122223333:instance/i-1/agent/a-1"
    # (id, status, ordering key): agent-based ones, a contact record's (the contact id), a replay's
    deliveries = [
        (1, "queued", f"{agent}|c-1"),
        (2, "retrying", agent),
        (3, "dead", f"{agent}|c-2"),
        (4, "succeeded", f"{agent}|c-1"),
        (5, "pending", "c-3"),
        (6, "queued", f"replay:2026:1:{agent}|c-1"),
    ]
    try:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO events (id, agent_key, seq, name, occurred_at, source) "
                    "VALUES (1, :agent, 1, 'contact::connected', CURRENT_TIMESTAMP, 't')"
                ),
                {"agent": agent},
            )
            connection.execute(
                sa.text(
                    "INSERT INTO deliveries (id, plugin, hook, event_id, ordering_key, idempotency_key, status) "
                    "VALUES (:id, 'p', 'h', 1, :key, :ikey, :status)"
                ),
                [{"id": i, "status": s, "key": k, "ikey": f"{agent}/1/{i}"} for i, s, k in deliveries],
            )

        def stored() -> dict[int, tuple[str, str]]:
            with engine.connect() as connection:
                rows = connection.execute(sa.text("SELECT id, ordering_key, idempotency_key FROM deliveries"))
                return {i: (k, ik) for i, k, ik in rows}

        upgrade(empty_url, "0003")
        token = agent_token(agent)
        after = stored()
        assert {i: k for i, (k, _) in after.items()} == {
            1: f"{token}|c-1",
            2: token,
            3: f"{token}|c-2",
            4: f"{agent}|c-1",
            5: "c-3",
            6: f"replay:2026:1:{agent}|c-1",
        }
        assert all(ikey == f"{agent}/1/{i}" for i, (_, ikey) in after.items())  # never rewritten
        downgrade(empty_url, "0002")
        assert {i: k for i, (k, _) in stored().items()} == {i: k for i, _, k in deliveries}
    finally:
        engine.dispose()
