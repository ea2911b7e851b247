"""Contract tests of the Firehose HTTP endpoints over the ASGI interface, on SQLite and PostgreSQL."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from hub.ingest import AGENT_EVENTS_PATH, CONTACT_RECORDS_PATH, DatabaseSink, IngestLimits, create_app
from hub.sources.firehose import FirehoseLimits

from .conftest import counts, make_settings, rows
from .payloads import (
    ACCESS_KEY,
    aes_record,
    agent_arn,
    b64,
    call_records,
    contact_record,
    firehose_body,
    firehose_request,
    voice_contact,
)


def post(client: TestClient, path: str, body: dict[str, Any], **options: Any) -> Any:
    """POST a Firehose request built from ``body``."""
    content, headers = firehose_request(body, **options)
    return client.post(path, content=content, headers=headers)


def assert_firehose_response(response: Any, request_id: str, status: int = 200) -> dict[str, Any]:
    """The response follows the contract: JSON, uncompressed, requestId echoed, numeric timestamp."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert "content-encoding" not in response.headers
    body: dict[str, Any] = response.json()
    assert body["requestId"] == request_id
    assert isinstance(body["timestamp"], int)
    if status == 200:
        assert set(body) == {"requestId", "timestamp"}
    else:
        assert body["errorMessage"]
    return body


def state_changes(engine: Engine) -> list[tuple[str, str]]:
    """(oldState, newState) of the stored ``agent::state_change`` events, in order."""
    found = rows(engine, "SELECT payload FROM events WHERE name = 'agent::state_change' ORDER BY seq")
    out = []
    for row in found:
        payload = row["payload"] if isinstance(row["payload"], dict) else json.loads(row["payload"])
        out.append((payload["old_state"], payload["new_state"]))
    return out


def test_agent_events_store_the_streams_events(client: TestClient, engine: Engine) -> None:
    body = firehose_body(call_records())
    assert_firehose_response(post(client, AGENT_EVENTS_PATH, body), body["requestId"])
    assert state_changes(engine) == [
        ("Init", "Available"),
        ("Available", "PendingBusy"),
        ("PendingBusy", "Busy"),
        ("Busy", "AfterCallWork"),
        ("AfterCallWork", "Available"),
    ]
    (agent,) = rows(engine, "SELECT key, state_name, state_type, username, last_seq FROM agents")
    assert agent["key"] == agent_arn(1)
    assert (agent["state_name"], agent["state_type"], agent["username"]) == ("Available", "routable", "agent1")
    names = [r["name"] for r in rows(engine, "SELECT name FROM events WHERE contact_id = 'c-1' ORDER BY seq")]
    assert "contact::connected" in names
    assert "contact::ended" in names
    assert counts(engine)["agent_state_history"] == 5
    hooks = rows(engine, "SELECT plugin, hook FROM deliveries")
    assert {(h["plugin"], h["hook"]) for h in hooks} == {("recorder", "on_agent_state_change")}
    assert len(hooks) == 5


def test_same_request_twice_yields_one_set_of_events_and_rows(client: TestClient, engine: Engine) -> None:
    body = firehose_body(call_records())
    ctr_body = firehose_body([contact_record()])
    assert_firehose_response(post(client, AGENT_EVENTS_PATH, body), body["requestId"])
    assert_firehose_response(post(client, CONTACT_RECORDS_PATH, ctr_body), ctr_body["requestId"])
    first = counts(engine)
    # Firehose retries (e.g. our 200 was lost): same requestId, same records
    assert_firehose_response(post(client, AGENT_EVENTS_PATH, body), body["requestId"])
    assert_firehose_response(post(client, CONTACT_RECORDS_PATH, ctr_body), ctr_body["requestId"])
    assert counts(engine) == first
    assert first["events"] > 0
    assert first["contacts"] == 2


def test_records_repeated_in_another_request_are_deduplicated(client: TestClient, engine: Engine) -> None:
    records = call_records()
    post(client, AGENT_EVENTS_PATH, firehose_body(records[:3]))
    before = counts(engine)
    # A new request (new requestId) repeating two records and adding the rest.
    response = post(client, AGENT_EVENTS_PATH, firehose_body(records[1:]))
    assert response.status_code == 200
    assert [c[1] for c in state_changes(engine)] == ["Available", "PendingBusy", "Busy", "AfterCallWork", "Available"]
    assert counts(engine)["events"] > before["events"]
    # the whole stream again, in one more request: nothing new
    after = counts(engine)
    post(client, AGENT_EVENTS_PATH, firehose_body(records))
    assert counts(engine) == {**after, "ingest_receipts": after["ingest_receipts"] + 1}


def test_out_of_order_records_never_move_an_agent_backwards(client: TestClient, engine: Engine) -> None:
    records = call_records()
    post(client, AGENT_EVENTS_PATH, firehose_body([records[0], records[2]]))  # Available, then Busy
    post(client, AGENT_EVENTS_PATH, firehose_body([records[1]]))  # the late CONNECTING record
    (agent,) = rows(engine, "SELECT state_name FROM agents")
    assert agent["state_name"] == "Busy"
    assert state_changes(engine) == [("Init", "Available"), ("Available", "Busy")]
    # within one request, records are applied in EventTimestamp order whatever the delivery order
    post(client, AGENT_EVENTS_PATH, firehose_body([records[4], records[3]]))
    assert state_changes(engine)[-2:] == [("Busy", "AfterCallWork"), ("AfterCallWork", "Available")]


def test_heartbeat_causes_no_transition(client: TestClient, engine: Engine) -> None:
    connected = [voice_contact("c-9", "CONNECTED", 20)]
    post(client, AGENT_EVENTS_PATH, firehose_body([aes_record(20, contacts=connected)]))
    before = counts(engine)
    heartbeats = [aes_record(20 + 120 * i, contacts=connected, event_type="HEART_BEAT") for i in range(1, 4)]
    response = post(client, AGENT_EVENTS_PATH, firehose_body(heartbeats))
    assert response.status_code == 200
    after = counts(engine)
    assert after["events"] == before["events"]
    assert after["deliveries"] == before["deliveries"]
    (agent,) = rows(engine, "SELECT state_name, snapshot_at FROM agents")
    assert agent["state_name"] == "Busy"


def test_logout_takes_the_agent_offline(client: TestClient, engine: Engine) -> None:
    logout = aes_record(50, event_type="LOGOUT")
    del logout["CurrentAgentSnapshot"]
    post(client, AGENT_EVENTS_PATH, firehose_body([aes_record(10), logout]))
    assert state_changes(engine)[-1] == ("Available", "Offline")


def test_several_agents_in_one_batch(client: TestClient, engine: Engine) -> None:
    records = [r for agent in (1, 2, 3) for r in call_records(agent=agent, contact_id=f"c-{agent}")]
    response = post(client, AGENT_EVENTS_PATH, firehose_body(records))
    assert response.status_code == 200
    assert counts(engine)["agents"] == 3
    assert counts(engine)["agent_state_history"] == 15


def test_gzip_delivery(client: TestClient, engine: Engine) -> None:
    body = firehose_body(call_records())
    assert_firehose_response(post(client, AGENT_EVENTS_PATH, body, compress=True), body["requestId"])
    assert len(state_changes(engine)) == 5


def test_contact_record_updates_the_contact_row_and_raises_the_hook(client: TestClient, engine: Engine) -> None:
    body = firehose_body([contact_record()])
    assert_firehose_response(post(client, CONTACT_RECORDS_PATH, body, compress=True), body["requestId"])
    (row,) = rows(engine, "SELECT * FROM contacts")
    assert row["agent_key"] == agent_arn(1)
    assert row["queue_name"] == "Sales"
    assert (row["hold_duration_s"], row["acw_duration_s"], row["talk_duration_s"], row["queue_duration_s"]) == (
        45,
        80,
        301,
        22,
    )
    assert row["disconnect_reason"] == "CUSTOMER_DISCONNECT"
    assert row["recording_location"] == "bucket/rec/c.wav"
    assert row["source"] == "ctr"
    (delivery,) = rows(engine, "SELECT plugin, hook, event_id FROM deliveries")
    assert (delivery["plugin"], delivery["hook"]) == ("recorder", "on_contact_record")
    (event,) = rows(engine, "SELECT id, name, payload FROM events")
    assert (event["id"], event["name"]) == (delivery["event_id"], "hub::contact_record")
    payload = event["payload"] if isinstance(event["payload"], dict) else json.loads(event["payload"])
    assert payload["data"] == contact_record()  # the hook receives the record as Connect sent it


def test_contact_record_versions(client: TestClient, engine: Engine) -> None:
    newer = contact_record(last_update=900, Attributes={"crmCaseId": "CASE-2"})
    older = contact_record(last_update=600)
    post(client, CONTACT_RECORDS_PATH, firehose_body([newer]))
    post(client, CONTACT_RECORDS_PATH, firehose_body([older]))  # late re-delivery of an older version
    (row,) = rows(engine, "SELECT attributes FROM contacts")
    attributes = row["attributes"] if isinstance(row["attributes"], dict) else json.loads(row["attributes"])
    assert attributes == {"crmCaseId": "CASE-2"}
    assert counts(engine)["deliveries"] == 1  # only the newest copy raised the hook
    post(client, CONTACT_RECORDS_PATH, firehose_body([newer]))  # the same version again, new request
    assert counts(engine)["deliveries"] == 1


# ---------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("key", [None, "", "wrong", ACCESS_KEY + "x"])
def test_bad_access_key_is_401_without_reason(client: TestClient, engine: Engine, key: str | None) -> None:
    body = firehose_body(call_records())
    response = post(client, AGENT_EVENTS_PATH, body, key=key)
    assert assert_firehose_response(response, body["requestId"], 401)["errorMessage"] == "unauthorized"
    assert counts(engine)["ingest_receipts"] == 0


def test_no_access_key_configured_refuses_everything(sink: DatabaseSink) -> None:
    app = create_app(make_settings(firehose_access_key=""), sink)
    with TestClient(app) as client:
        for key in ("", ACCESS_KEY):
            response = post(client, CONTACT_RECORDS_PATH, firehose_body([contact_record()]), key=key)
            assert response.status_code == 401


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "malformed JSON"),
        (b"[]", "invalid Firehose request"),
        (b'{"requestId": "r", "timestamp": "soon", "records": []}', "invalid Firehose request"),
        (b'{"requestId": "r", "timestamp": 1, "records": []}', "records is empty"),
        (b'{"requestId": "", "timestamp": 1, "records": [{"data": ""}]}', "requestId is empty"),
        (b'{"requestId": "r", "timestamp": 1, "records": [{"data": "%%%"}]}', "base64"),
        (b'{"requestId": "r", "timestamp": 1, "records": [{"data": "bm90IGpzb24="}]}', "not JSON"),
    ],
)
def test_malformed_requests_are_400(client: TestClient, engine: Engine, content: bytes, reason: str) -> None:
    response = client.post(
        AGENT_EVENTS_PATH,
        content=content,
        headers={"X-Amz-Firehose-Access-Key": ACCESS_KEY, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert reason in response.json()["errorMessage"]
    assert isinstance(response.json()["timestamp"], int)
    assert counts(engine)["ingest_receipts"] == 0


def test_one_bad_record_refuses_the_whole_request(client: TestClient, engine: Engine) -> None:
    records = [json.dumps(r).encode() for r in call_records()]
    records.insert(3, b'{"AgentARN": "x"}')
    body = firehose_body(records)
    response = post(client, AGENT_EVENTS_PATH, body)
    assert assert_firehose_response(response, body["requestId"], 400)["errorMessage"].startswith("record 3")
    assert all(n == 0 for n in counts(engine).values())


def test_contact_record_on_the_agent_event_endpoint_is_400(client: TestClient, engine: Engine) -> None:
    response = post(client, AGENT_EVENTS_PATH, firehose_body([contact_record()]))
    assert response.status_code == 400
    response = post(client, CONTACT_RECORDS_PATH, firehose_body([aes_record(1)]))
    assert response.status_code == 400
    assert all(n == 0 for n in counts(engine).values())


def test_request_id_must_match_the_header(client: TestClient) -> None:
    content, headers = firehose_request(firehose_body([aes_record(1)], request_id="a"))
    response = client.post(AGENT_EVENTS_PATH, content=content, headers={**headers, "X-Amz-Firehose-Request-Id": "b"})
    assert response.status_code == 400
    assert response.json()["requestId"] == "b"  # the header value: the body was refused


def test_values_too_long_for_the_database_are_400(client: TestClient, engine: Engine) -> None:
    response = post(client, CONTACT_RECORDS_PATH, firehose_body([contact_record(DisconnectReason="X" * 65)]))
    assert response.status_code == 400
    assert "disconnect_reason" in response.json()["errorMessage"]
    response = post(client, CONTACT_RECORDS_PATH, firehose_body([contact_record(Attributes={"a": "b\u0000"})]))
    assert response.status_code == 400
    assert all(n == 0 for n in counts(engine).values())


def test_unsupported_encoding_and_content_type(client: TestClient) -> None:
    content, headers = firehose_request(firehose_body([aes_record(1)]))
    assert (
        client.post(AGENT_EVENTS_PATH, content=content, headers={**headers, "Content-Encoding": "br"}).status_code
        == 415
    )
    assert (
        client.post(AGENT_EVENTS_PATH, content=content, headers={**headers, "Content-Type": "text/csv"}).status_code
        == 415
    )
    corrupt = {**headers, "Content-Encoding": "gzip"}
    assert client.post(AGENT_EVENTS_PATH, content=content, headers=corrupt).status_code == 400


def test_oversize_requests_are_413(sink: DatabaseSink, engine: Engine) -> None:
    limits = IngestLimits(firehose=FirehoseLimits(max_body_bytes=20_000, max_records=50, max_record_bytes=5_000))
    with TestClient(create_app(make_settings(), sink, limits=limits)) as client:
        big = firehose_body([aes_record(i) for i in range(40)])  # > 20 kB uncompressed
        content, headers = firehose_request(big)
        assert len(content) > 20_000
        assert client.post(AGENT_EVENTS_PATH, content=content, headers=headers).status_code == 413
        # small once compressed, too big once decompressed (a gzip bomb is stopped early)
        content, headers = firehose_request(big, compress=True)
        assert len(content) < 20_000
        assert client.post(AGENT_EVENTS_PATH, content=content, headers=headers).status_code == 413
        bomb = gzip.compress(b" " * 50_000_000)
        assert client.post(AGENT_EVENTS_PATH, content=bomb, headers=headers).status_code == 413
        # one record over the per-record limit
        body = firehose_body([b"x" * 6_000])
        assert post(client, AGENT_EVENTS_PATH, body).status_code == 413
        # too many records is a malformed request (400), not 413
        body = firehose_body([b""] * 51)
        assert post(client, AGENT_EVENTS_PATH, body).status_code == 400
    assert all(n == 0 for n in counts(engine).values())


def test_empty_records_are_accepted(client: TestClient, engine: Engine) -> None:
    body = {"requestId": "r-empty", "timestamp": 1, "records": [{"data": ""}, {"data": b64(b"\n")}]}
    assert_firehose_response(post(client, AGENT_EVENTS_PATH, body), "r-empty")


def test_openapi_lists_every_ingest_path(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {AGENT_EVENTS_PATH, CONTACT_RECORDS_PATH, "/ingest/eventbridge/contact-events", "/healthz"} <= set(paths)
    assert "agent-events" in AGENT_EVENTS_PATH
    assert "contact-records" in CONTACT_RECORDS_PATH
    schema = paths[AGENT_EVENTS_PATH]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["requestId", "timestamp", "records"]


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}


def test_many_records_in_one_request(client: TestClient, engine: Engine) -> None:
    records = [aes_record(i, status="Available" if i % 2 else "Lunch", agent=i % 7) for i in range(1, 501)]
    assert post(client, AGENT_EVENTS_PATH, firehose_body(records), compress=True).status_code == 200
    with engine.connect() as connection:
        total = connection.execute(sa.text("SELECT count(*) FROM agent_state_history")).scalar_one()
    assert total == 500
