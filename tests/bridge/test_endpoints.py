"""The bridge endpoints over ASGI: CORS, authentication, validation, limits, idempotency, storage failures."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from hub.db import create_engine_from_url
from hub.ingest._bridge import AGENT_DATA_PATH, BRIDGE_SCRIPT_PATH, LOGS_PATH, BridgeLimits
from hub.ingest._credentials import BridgeCredentials

from .conftest import ARN_A, ARN_B, PAGE_ORIGIN, SECRET, RecordingSink, bridge_settings_for, make_app

SCENARIO = json.loads((Path(__file__).parents[2] / "hub" / "scenarios" / "inbound_voice.json").read_text())
SNAPSHOTS = [step["snapshot"] for step in SCENARIO["steps"] if "snapshot" in step]


def configuration(arn: str = ARN_A, username: str = "jane.doe") -> dict[str, Any]:
    """The scenario's configuration for another agent."""
    cfg = copy.deepcopy(SCENARIO["configuration"])
    cfg["agentARN"], cfg["username"] = arn, username
    return cfg


def data_body(seqs: list[int], *, arn: str = ARN_A, username: str = "jane.doe", cfg: Any = None) -> dict[str, Any]:
    """An agent-data request with one scenario snapshot per seq."""
    config = cfg if cfg is not None else configuration(arn, username)
    items = [
        {"seq": s, "key": f"{arn or username}#{s}", "agentData": {"snapshot": SNAPSHOTS[i], "configuration": config}}
        for i, s in enumerate(seqs)
    ]
    return {"agent": {"agentARN": arn, "username": username}, "items": items, "bridgeVersion": "1"}


def log_body(seq: int, entries: list[dict[str, Any]], arn: str = ARN_A) -> dict[str, Any]:
    """A logs request with one item."""
    return {
        "agent": {"agentARN": arn, "username": "jane.doe"},
        "items": [{"seq": seq, "key": f"{arn}#{seq}", "entries": entries}],
    }


def auth(credentials: BridgeCredentials, agent: str = ARN_A) -> dict[str, str]:
    """Headers with a fresh token for ``agent`` from the allowed page origin."""
    return {"Authorization": f"Bearer {credentials.mint(agent).token}", "Origin": PAGE_ORIGIN}


ENTRY = {"component": "ccp", "level": "WARN", "text": "hub test", "time": "2026-03-02T09:00:00.004Z", "line": 3}


# ------------------------------------------------------------------------------------------- script, CORS
def test_script_is_served_as_javascript(client: TestClient) -> None:
    response = client.get(BRIDGE_SCRIPT_PATH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert "ConnectHubBridge" in response.text


@pytest.mark.parametrize("path", [AGENT_DATA_PATH, LOGS_PATH])
def test_preflight_from_an_allowed_origin(client: TestClient, path: str) -> None:
    headers = {
        "Origin": PAGE_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    response = client.options(path, headers=headers)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == PAGE_ORIGIN
    assert response.headers["access-control-allow-headers"] == "authorization, content-type"
    assert "POST" in response.headers["access-control-allow-methods"]


@pytest.mark.parametrize(
    ("origin", "method"), [("http://evil.example.test", "POST"), (PAGE_ORIGIN, "DELETE"), (None, "POST")]
)
def test_preflight_refused(client: TestClient, origin: str | None, method: str) -> None:
    headers = {"Access-Control-Request-Method": method} | ({"Origin": origin} if origin else {})
    response = client.options(AGENT_DATA_PATH, headers=headers)
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


def test_post_from_another_origin_is_forbidden(client: TestClient, sink: RecordingSink, credentials: Any) -> None:
    headers = auth(credentials) | {"Origin": "http://evil.example.test"}
    response = client.post(AGENT_DATA_PATH, json=data_body([1]), headers=headers)
    assert response.status_code == 403
    assert sink.applied == []


# ------------------------------------------------------------------------------------------- 401
def _foreign_token(key: str = SECRET, **changes: Any) -> str:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {"sub": ARN_A, "jti": "x", "iat": now, "exp": now + 600, "iss": "connect-hub", "aud": "connect-hub-bridge"}
    return jwt.encode(claims | changes, key, algorithm="HS256")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic dXNlcjpwYXNz",
        "Bearer ",
        "Bearer not-a-jwt",
        f"Bearer {_foreign_token(aud='something-else')}",
        f"Bearer {_foreign_token(iss='someone-else')}",
        f"Bearer {_foreign_token(key='another-secret-of-enough-length-0123456789')}",
    ],
    ids=["missing", "basic", "empty", "garbage", "audience", "issuer", "signature"],
)
def test_bad_credentials_get_a_generic_401(client: TestClient, sink: RecordingSink, authorization: str | None) -> None:
    headers = {"Origin": PAGE_ORIGIN} | ({"Authorization": authorization} if authorization else {})
    response = client.post(AGENT_DATA_PATH, json=data_body([1]), headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert response.headers["access-control-allow-origin"] == PAGE_ORIGIN  # the page can read the status
    assert sink.applied == []


def test_expired_token_gets_401(client: TestClient, engine: Engine, sink: RecordingSink) -> None:
    past = BridgeCredentials(
        bridge_settings_for(PAGE_ORIGIN), engine, clock=lambda: dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    )
    token = past.mint(ARN_A, ttl=60).token
    response = client.post(AGENT_DATA_PATH, json=data_body([1]), headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}


def test_revoked_token_gets_401(client: TestClient, credentials: BridgeCredentials, sink: RecordingSink) -> None:
    issued = credentials.mint(ARN_A)
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert client.post(AGENT_DATA_PATH, json=data_body([1]), headers=headers).status_code == 200
    assert credentials.revoke(issued.token_id) is True
    assert credentials.revoke(issued.token_id) is False
    response = client.post(AGENT_DATA_PATH, json=data_body([1, 2]), headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "unauthorized"}
    assert len(sink.applied) == 1


# ------------------------------------------------------------------------------------------- 403
def test_token_of_agent_b_cannot_post_agent_a_data(
    client: TestClient, credentials: BridgeCredentials, sink: RecordingSink
) -> None:
    response = client.post(AGENT_DATA_PATH, json=data_body([1]), headers=auth(credentials, ARN_B))
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden"}
    response = client.post(LOGS_PATH, json=log_body(1, [ENTRY]), headers=auth(credentials, ARN_B))
    assert response.status_code == 403
    assert sink.applied == [] and sink.logs == []


def test_items_of_another_agent_inside_an_own_batch_are_forbidden(
    client: TestClient, credentials: BridgeCredentials, sink: RecordingSink
) -> None:
    body = data_body([1], cfg=configuration(ARN_B))  # the envelope says A, the agent data says B
    response = client.post(AGENT_DATA_PATH, json=body, headers=auth(credentials, ARN_A))
    assert response.status_code == 403
    assert sink.applied == []


def test_username_bound_token(client: TestClient, credentials: BridgeCredentials, sink: RecordingSink) -> None:
    ok = client.post(AGENT_DATA_PATH, json=data_body([1]), headers=auth(credentials, "jane.doe"))
    assert ok.status_code == 200
    other = client.post(AGENT_DATA_PATH, json=data_body([2], username="john"), headers=auth(credentials, "jane.doe"))
    assert other.status_code == 403
    assert [key for key, _ in sink.applied] == [ARN_A]


# ------------------------------------------------------------------------------------------- 4xx validation
def _mutate(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    node: Any = body
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is KeyError:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("items", [], "1-100 items"),
        ("items", KeyError, "items"),
        ("extra", 1, "extra"),
        ("items.0.seq", 0, "seq must be"),
        ("items.0.seq", 2**53, "seq must be"),
        ("items.1.seq", 1, "greater than the previous"),
        ("items.0.key", "someone#1", "key must be"),
        ("items.0.agentData.snapshot.state", "Available", "$.snapshot.state"),
        ("items.0.agentData.configuration", KeyError, "configuration"),
        ("agent", {}, "agentARN or username"),
    ],
)
def test_malformed_bodies_get_400_with_a_reason(
    client: TestClient, credentials: BridgeCredentials, sink: RecordingSink, *, path: str, value: Any, reason: str
) -> None:
    body = _mutate(data_body([1, 2]), path, value)
    response = client.post(AGENT_DATA_PATH, json=body, headers=auth(credentials))
    assert response.status_code == 400, response.text
    assert reason in response.json()["error"]
    assert sink.applied == []


def test_not_json(client: TestClient, credentials: BridgeCredentials) -> None:
    headers = auth(credentials) | {"Content-Type": "application/json"}
    assert client.post(AGENT_DATA_PATH, content=b"{nope", headers=headers).status_code == 400
    headers["Content-Type"] = "text/plain"
    response = client.post(AGENT_DATA_PATH, content=json.dumps(data_body([1])), headers=headers)
    assert response.status_code == 415


def test_size_limits(sink: RecordingSink, credentials: BridgeCredentials) -> None:
    with TestClient(make_app(sink, credentials, BridgeLimits(max_body_bytes=1024, max_items=2))) as small:
        big = small.post(AGENT_DATA_PATH, json=data_body([1]), headers=auth(credentials))
        assert big.status_code == 413
        many = small.post(
            LOGS_PATH,
            json=log_body(1, [ENTRY])
            | {"items": [{"seq": s, "key": f"{ARN_A}#{s}", "entries": []} for s in (1, 2, 3)]},
            headers=auth(credentials),
        )
        assert many.status_code == 400
        assert "1-2 items" in many.json()["error"]
    assert sink.applied == []


@pytest.mark.parametrize(
    "entry",
    [
        {"level": "LOUD", "text": "x"},
        {"level": "INFO"},
        {"level": "INFO", "text": 5},
        {"level": "INFO", "text": "x" * 40000},
    ],
    ids=["level", "no-text", "text-type", "text-size"],
)
def test_malformed_log_entries(
    client: TestClient, credentials: BridgeCredentials, sink: RecordingSink, entry: Any
) -> None:
    response = client.post(LOGS_PATH, json=log_body(1, [entry]), headers=auth(credentials))
    assert response.status_code == 400
    assert "entries[0]" in response.json()["error"]
    assert sink.logs == []


# ------------------------------------------------------------------------------------------- idempotency, order
def test_duplicates_are_acknowledged_not_reapplied_and_older_seq_never_moves_back(
    client: TestClient, credentials: BridgeCredentials, sink: RecordingSink
) -> None:
    headers = auth(credentials)
    first = client.post(AGENT_DATA_PATH, json=data_body([10, 11]), headers=headers)
    assert first.status_code == 200
    assert first.json()["applied"] == 2
    again = client.post(AGENT_DATA_PATH, json=data_body([10, 11]), headers=headers)
    assert again.json() | {"results": None} == {"applied": 0, "duplicate": 2, "stale": 0, "results": None}
    older = client.post(AGENT_DATA_PATH, json=data_body([5]), headers=headers)
    assert older.json()["results"] == [{"seq": 5, "status": "stale"}]
    body = data_body([11, 12])
    mixed = client.post(AGENT_DATA_PATH, json=body, headers=headers)
    assert mixed.json()["results"] == [{"seq": 11, "status": "duplicate"}, {"seq": 12, "status": "applied"}]
    assert [data["snapshot"] for _, data in sink.applied] == [SNAPSHOTS[0], SNAPSHOTS[1], SNAPSHOTS[1]]
    assert sink.hub.get_session(ARN_A) is not None
    assert sink.hub.get_session(ARN_A).agent.get_state().name == SNAPSHOTS[1]["state"]["name"]  # type: ignore[union-attr]


def test_logs_are_stored_once(client: TestClient, credentials: BridgeCredentials, sink: RecordingSink) -> None:
    headers = auth(credentials)
    body = log_body(7, [ENTRY, ENTRY | {"level": "ERROR", "time": 1772442941000}])
    assert client.post(LOGS_PATH, json=body, headers=headers).json()["applied"] == 1
    assert client.post(LOGS_PATH, json=body, headers=headers).json()["duplicate"] == 1
    assert sink.logs == [(ARN_A, body["items"][0]["entries"])]


def test_logs_go_to_the_python_logger_without_a_log_store(
    credentials: BridgeCredentials, caplog: pytest.LogCaptureFixture
) -> None:
    class DataOnly:
        def apply_agent_data(self, agent_key: str, data: Any) -> None:
            """Unused."""

        def is_healthy(self) -> bool:
            return True

    with (
        TestClient(make_app(DataOnly(), credentials)) as plain,
        caplog.at_level(logging.INFO, "connect_hub.bridge.streams"),
    ):
        response = plain.post(LOGS_PATH, json=log_body(1, [ENTRY]), headers=auth(credentials))
    assert response.status_code == 200
    assert any(r.levelno == logging.WARNING and "hub test" in r.getMessage() for r in caplog.records)


def test_sink_without_agent_data_support_gets_501(credentials: BridgeCredentials) -> None:
    class LogsOnly:
        def is_healthy(self) -> bool:
            return True

    with TestClient(make_app(LogsOnly(), credentials)) as plain:
        assert plain.post(AGENT_DATA_PATH, json=data_body([1]), headers=auth(credentials)).status_code == 501


# ------------------------------------------------------------------------------------------- storage down
def test_sink_down_gives_503_and_the_retry_applies_once(
    client: TestClient, credentials: BridgeCredentials, sink: RecordingSink
) -> None:
    headers = auth(credentials)
    sink.down = True
    response = client.post(AGENT_DATA_PATH, json=data_body([1, 2]), headers=headers)
    assert response.status_code == 503
    assert response.headers["retry-after"]
    assert sink.applied == []
    sink.down = False
    retry = client.post(AGENT_DATA_PATH, json=data_body([1, 2]), headers=headers)
    assert retry.json()["applied"] == 2
    assert client.post(AGENT_DATA_PATH, json=data_body([1, 2]), headers=headers).json()["duplicate"] == 2
    assert len(sink.applied) == 2


def test_database_down_gives_503(tmp_path: Path, sink: RecordingSink) -> None:
    missing = create_engine_from_url(f"sqlite:///{tmp_path / 'no-such-dir' / 'hub.sqlite3'}")
    credentials = BridgeCredentials(bridge_settings_for(PAGE_ORIGIN), missing)
    with TestClient(make_app(sink, credentials)) as down:
        response = down.post(AGENT_DATA_PATH, json=data_body([1]), headers=auth(credentials))
    assert response.status_code == 503
    assert response.json() == {"error": "temporarily unavailable, retry later"}
    assert sink.applied == []
    missing.dispose()


def test_openapi_lists_the_bridge_paths(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {AGENT_DATA_PATH, LOGS_PATH, BRIDGE_SCRIPT_PATH} <= set(paths)
