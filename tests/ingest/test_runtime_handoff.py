"""The hand-off to the runtime: deliveries written by the ingest endpoints run on the runtime's executor
(the code Celery workers run), and the hooks receive what the sources sent."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from hub.config import WorkersSettings
from hub.db import session_scope
from hub.db._models import DELIVERIES
from hub.ingest import AGENT_EVENTS_PATH, CONTACT_EVENTS_PATH, CONTACT_RECORDS_PATH, DatabaseSink
from hub.plugins import HubPlugins
from hub.runtime import Executor

from .conftest import RecordingPlugin
from .payloads import API_KEY, call_records, contact_event, contact_record, firehose_body, firehose_request


def run_every_delivery(engine: Engine, plugins: HubPlugins) -> int:
    """Run all deliveries in id order with the runtime's executor; returns how many succeeded."""
    with session_scope(engine) as db:
        ids = list(db.scalars(sa.select(DELIVERIES.c.id).order_by(DELIVERIES.c.id)))
        db.execute(sa.update(DELIVERIES).values(status="queued"))
    outcome = Executor(engine, plugins, WorkersSettings(2, 3, 0.01, 0.02, 5.0, {}, {})).run_message([ids])
    assert outcome.dead == 0
    return outcome.succeeded


def test_deliveries_run_on_the_runtime_executor(client: TestClient, engine: Engine, plugins: HubPlugins) -> None:
    recorder = plugins.pm.get_plugin("recorder")
    assert isinstance(recorder, RecordingPlugin)
    for path, body in (
        (AGENT_EVENTS_PATH, firehose_body(call_records())),
        (CONTACT_RECORDS_PATH, firehose_body([contact_record()])),
    ):
        content, headers = firehose_request(body)
        assert client.post(path, content=content, headers=headers).status_code == 200
    event = contact_event()
    assert client.post(CONTACT_EVENTS_PATH, json=event, headers={"X-Api-Key": API_KEY}).status_code == 200

    assert run_every_delivery(engine, plugins) == 7
    changes = [args for hook, args in recorder.calls if hook == "on_agent_state_change"]
    assert changes == [
        ("Init", "Available", "Available"),
        ("Available", "PendingBusy", "PendingBusy"),
        ("PendingBusy", "Busy", "Busy"),
        ("Busy", "AfterCallWork", "AfterCallWork"),
        ("AfterCallWork", "Available", "Available"),
    ]
    assert [args for hook, args in recorder.calls if hook == "on_contact_record"] == [contact_record()]
    assert [args for hook, args in recorder.calls if hook == "on_contact_event"] == [event]


def test_a_publisher_gets_each_requests_deliveries_queued_after_the_commit(
    client: TestClient, sink: DatabaseSink, engine: Engine
) -> None:
    """With a publisher (``connect-hub serve`` sets the relay's), deliveries skip the relay's claim."""
    published: list[list[list[int]]] = []
    sink.publisher = published.append
    content, headers = firehose_request(firehose_body(call_records()))
    assert client.post(AGENT_EVENTS_PATH, content=content, headers=headers).status_code == 200
    event = contact_event()
    assert client.post(CONTACT_EVENTS_PATH, json=event, headers={"X-Api-Key": API_KEY}).status_code == 200
    # The same Firehose request again: a duplicate, nothing written, nothing published.
    assert client.post(AGENT_EVENTS_PATH, content=content, headers=headers).status_code == 200
    with session_scope(engine, write=False) as db:
        rows = {r.id: (r.status, r.ordering_key, r.plugin) for r in db.execute(sa.select(DELIVERIES))}
    assert len(published) == 2  # one call per committed request that wrote deliveries
    ids = [i for groups in published for group in groups for i in group]
    assert sorted(ids) == sorted(rows) and len(ids) == len(set(ids))
    assert {status for status, _, _ in rows.values()} == {"queued"}
    for groups in published:
        for group in groups:
            assert group == sorted(group)
            assert len({rows[i][1:] for i in group}) == 1
