"""``DatabaseSink`` used directly: Streams agent data (the browser bridge's path) and session rebuilds."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from hub.db._models import CONTACTS
from hub.ingest import DatabaseSink, IngestSink
from hub.sources.agent_events import decode_agent_event, to_agent_data
from hub.sources.errors import MalformedRequestError

from .conftest import counts, rows
from .payloads import SALES, agent_arn, call_records

BASE = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def streams_data(index: int) -> dict[str, object]:
    """The Streams agent data of the ``index``-th record of a call (what the bridge would post)."""
    record = call_records()[index]
    return to_agent_data(decode_agent_event(json.dumps(record)))


def test_database_sink_is_an_ingest_sink(sink: DatabaseSink) -> None:
    assert isinstance(sink, IngestSink)
    assert sink.is_healthy()


def test_streams_agent_data_raises_the_same_events(sink: DatabaseSink, engine: Engine) -> None:
    key = agent_arn(1)
    results = [sink.apply_agent_data(key, streams_data(i)) for i in range(5)]
    assert [r.accepted for r in results] == [1] * 5
    changes = rows(engine, "SELECT old_state, new_state FROM agent_state_history ORDER BY occurred_at")
    assert [c["new_state"] for c in changes] == ["Available", "PendingBusy", "Busy", "AfterCallWork", "Available"]
    sources = {r["source"] for r in rows(engine, "SELECT DISTINCT source FROM events")}
    assert sources == {"streams"}
    # an older snapshot arriving late is not applied
    before = counts(engine)
    assert sink.apply_agent_data(key, streams_data(2)).stale == 1
    assert counts(engine) == before


def test_a_new_sink_continues_from_the_stored_agent(engine: Engine, sink: DatabaseSink) -> None:
    key = agent_arn(1)
    for i in range(3):
        sink.apply_agent_data(key, streams_data(i))
    # another hub process (or a restart): its session is rebuilt from the stored agent data
    restarted = DatabaseSink(engine)
    restarted.apply_agent_data(key, streams_data(3))
    changes = rows(engine, "SELECT new_state FROM agent_state_history ORDER BY occurred_at")
    assert [c["new_state"] for c in changes] == ["Available", "PendingBusy", "Busy", "AfterCallWork"]
    seqs = [r["seq"] for r in rows(engine, "SELECT seq FROM events ORDER BY id")]
    assert seqs == list(range(1, len(seqs) + 1))
    # and the first sink notices the row moved on: it rebuilds instead of reusing its stale session
    sink.apply_agent_data(key, streams_data(4))
    changes = rows(engine, "SELECT new_state FROM agent_state_history ORDER BY occurred_at")
    assert changes[-1]["new_state"] == "Available"
    assert len(changes) == 5


def test_malformed_streams_data_is_refused(sink: DatabaseSink, engine: Engine) -> None:
    with pytest.raises(MalformedRequestError):
        sink.apply_agent_data(agent_arn(1), {"snapshot": "nope"})
    with pytest.raises(MalformedRequestError):
        sink.apply_agent_data(agent_arn(1), {"snapshot": {"state": 3}, "configuration": {}})
    assert all(n == 0 for n in counts(engine).values())


def _contact_row(engine: Engine, contact_id: str) -> dict[str, Any]:
    with engine.connect() as connection:
        (row,) = connection.execute(sa.select(CONTACTS).where(CONTACTS.c.contact_id == contact_id))
    return dict(row._mapping)


#: Columns that name the contact, its agent or its writer, or say when the row was written.
_IDENTITY = {"contact_id", "initial_contact_id", "agent_key", "source", "created_at", "updated_at"}


def test_streams_agent_data_upserts_contact_rows_like_aes_records(sink: DatabaseSink, engine: Engine) -> None:
    """Bridge agent data writes the contact rows an AES record telling the same story writes."""
    key, twin = agent_arn(1), agent_arn(2)
    expected = [
        # (state, state_at, connected_to_agent_at, disconnected_at) after each record, from the snapshot
        ("connecting", BASE + dt.timedelta(seconds=15), None, None),
        ("connected", BASE + dt.timedelta(seconds=18), BASE + dt.timedelta(seconds=18), None),
        ("ended", BASE + dt.timedelta(seconds=70), BASE + dt.timedelta(seconds=18), BASE + dt.timedelta(seconds=70)),
    ]
    for index, (state, state_at, connected_at, disconnected_at) in zip(range(1, 4), expected, strict=True):
        sink.apply_agent_data(key, streams_data(index))
        record = call_records(agent=2, contact_id="c-2")[index]
        sink.ingest_agent_events(None, [decode_agent_event(json.dumps(record))])
        bridge, aes = _contact_row(engine, "c-1"), _contact_row(engine, "c-2")
        assert bridge["source"] == "streams"
        assert (bridge["agent_key"], bridge["initial_contact_id"]) == (key, "c-1")
        assert (aes["agent_key"], aes["initial_contact_id"]) == (twin, "c-2")
        assert (bridge["state"], bridge["state_at"], bridge["connected_to_agent_at"]) == (state, state_at, connected_at)
        assert bridge["disconnected_at"] == disconnected_at  # the live feed's end; a contact record refines it
        assert bridge["channel"] == "VOICE"
        assert bridge["contact_type"] == "voice"
        assert bridge["initiation_method"] == "INBOUND"
        assert (bridge["queue_arn"], bridge["queue_name"]) == (SALES["ARN"], "Sales")
        assert bridge["enqueued_at"] == state_at - dt.timedelta(seconds=5)  # the records' QueueTimestamp
        # AES does not say when the contact disconnected; every other column is the same
        same = set(bridge) - _IDENTITY - {"disconnected_at"}
        assert {c: bridge[c] for c in same} == {c: aes[c] for c in same}
    # the same rules (ContactUpsert): an older snapshot changes nothing, ``ended`` stays
    before = _contact_row(engine, "c-1")
    assert sink.apply_agent_data(key, streams_data(2)).stale == 1
    assert _contact_row(engine, "c-1") == before
    assert sink.apply_agent_data(key, streams_data(4)).accepted == 1  # no contact left: the row stays
    assert _contact_row(engine, "c-1")["state"] == "ended"
