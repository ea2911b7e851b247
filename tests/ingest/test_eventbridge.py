"""Contract tests of the EventBridge API-destination endpoint (contact events)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from hub.config import load_settings
from hub.ingest import CONTACT_EVENTS_PATH, DatabaseSink, create_app
from hub.sources.contact_events import basic_auth_header, eventbridge_retries

from .conftest import counts, make_settings, rows
from .payloads import API_KEY, BASIC, contact_event

KEY = {"X-Api-Key": API_KEY}


def test_contact_event_is_stored_once_and_raises_the_hook(client: TestClient, engine: Engine) -> None:
    event = contact_event()
    response = client.post(CONTACT_EVENTS_PATH, json=event, headers=KEY)
    assert response.status_code == 200
    assert response.json() == {"id": event["id"], "status": "accepted"}
    # EventBridge redelivers (at-least-once): idempotent on the envelope id
    response = client.post(CONTACT_EVENTS_PATH, json=event, headers=KEY)
    assert response.json() == {"id": event["id"], "status": "duplicate"}
    assert counts(engine)["events"] == 1
    (contact,) = rows(engine, "SELECT contact_id, queue_arn, agent_key, source FROM contacts")
    assert contact["contact_id"] == "c-ev-1"
    assert contact["source"] == "eventbridge"
    (delivery,) = rows(engine, "SELECT hook, event_id FROM deliveries")
    assert delivery["hook"] == "on_contact_event"
    (stored,) = rows(engine, "SELECT id, payload FROM events")
    assert stored["id"] == delivery["event_id"]
    payload = stored["payload"] if isinstance(stored["payload"], dict) else json.loads(stored["payload"])
    assert payload["data"] == event


def test_basic_auth(client: TestClient) -> None:
    headers = {"Authorization": basic_auth_header(*BASIC)}
    assert client.post(CONTACT_EVENTS_PATH, json=contact_event(), headers=headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Api-Key": "wrong"},
        {"X-Api-Key": ""},
        {"Authorization": basic_auth_header(BASIC[0], "wrong")},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Bearer " + API_KEY},
    ],
)
def test_bad_credentials_are_401_without_reason(client: TestClient, engine: Engine, headers: dict[str, str]) -> None:
    response = client.post(CONTACT_EVENTS_PATH, json=contact_event(), headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert not eventbridge_retries(401)
    assert counts(engine)["ingest_receipts"] == 0


def test_nothing_configured_refuses_everything(sink: DatabaseSink) -> None:
    settings = make_settings(eventbridge_api_key="", eventbridge_basic_username="", eventbridge_basic_password="")
    with TestClient(create_app(settings, sink)) as client:
        assert client.post(CONTACT_EVENTS_PATH, json=contact_event(), headers=KEY).status_code == 401


def test_custom_api_key_header(sink: DatabaseSink) -> None:
    with TestClient(create_app(make_settings(), sink, api_key_header="X-Connect-Hub-Key")) as client:
        assert client.post(CONTACT_EVENTS_PATH, json=contact_event(), headers=KEY).status_code == 401
        headers = {"x-connect-hub-key": API_KEY}
        assert client.post(CONTACT_EVENTS_PATH, json=contact_event(), headers=headers).status_code == 200


def _without(event: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != key}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{", "malformed JSON"),
        (b"[1]", "expected a JSON object"),
        (json.dumps(_without(contact_event(), "id")).encode(), "id"),
        (json.dumps({**contact_event(), "detail-type": "Metrics Rules Matched"}).encode(), "unsupported event"),
        (json.dumps({**contact_event(), "source": "aws.ec2"}).encode(), "unsupported event"),
        (json.dumps({**contact_event(), "detail": {"eventType": "QUEUED"}}).encode(), "contactId"),
        (json.dumps({**contact_event(), "id": "x" * 300}).encode(), "id must be"),
        (json.dumps({**contact_event(), "id": "a\u0000b"}).encode(), "NUL"),
    ],
)
def test_malformed_events_are_400(client: TestClient, engine: Engine, body: bytes, reason: str) -> None:
    response = client.post(CONTACT_EVENTS_PATH, content=body, headers={**KEY, "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]
    assert not eventbridge_retries(400)
    assert all(n == 0 for n in counts(engine).values())


def test_oversize_and_wrong_media_type(client: TestClient, engine: Engine) -> None:
    event = contact_event()
    event["detail"]["padding"] = "x" * 70_000  # the test app's limit is 64 KiB
    assert client.post(CONTACT_EVENTS_PATH, json=event, headers=KEY).status_code == 413
    response = client.post(CONTACT_EVENTS_PATH, content=b"id=1", headers={**KEY, "Content-Type": "text/plain"})
    assert response.status_code == 415
    assert all(n == 0 for n in counts(engine).values())


def test_mixed_case_detail_keys_and_unknown_event_types(client: TestClient, engine: Engine) -> None:
    event = contact_event(event_type="SOMETHING_NEW")
    event["detail"]["AgentInfo"] = {"AgentArn": "arn:aws:connect:x:1:instance/i/agent/a"}
    del event["detail"]["agentInfo"]
    event["detail"]["unknownMember"] = {"nested": True}
    assert client.post(CONTACT_EVENTS_PATH, json=event, headers=KEY).status_code == 200
    (contact,) = rows(engine, "SELECT agent_key FROM contacts")
    assert contact["agent_key"] == "arn:aws:connect:x:1:instance/i/agent/a"


def test_api_key_header_and_key_from_the_environment(sink: DatabaseSink, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_INGEST__EVENTBRIDGE__API_KEY", "from-env")
    monkeypatch.setenv("HUB_INGEST__EVENTBRIDGE__API_KEY_HEADER", "X-Custom-Key")
    with TestClient(create_app(load_settings([]), sink)) as client:
        assert (
            client.post(CONTACT_EVENTS_PATH, json=contact_event(), headers={"X-Custom-Key": "from-env"}).status_code
            == 200
        )
        assert (
            client.post(CONTACT_EVENTS_PATH, json=contact_event(), headers={"X-Api-Key": "from-env"}).status_code == 401
        )
