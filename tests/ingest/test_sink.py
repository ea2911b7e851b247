"""``DatabaseSink`` used directly: Streams agent data (the browser bridge's path) and session rebuilds."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine

from hub.ingest import DatabaseSink, IngestSink
from hub.sources.agent_events import decode_agent_event, to_agent_data
from hub.sources.errors import MalformedRequestError

from .conftest import counts, rows
from .payloads import agent_arn, call_records


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
