"""Bridge settings, mounting in ``create_app``, token expiry/revocation, and the ``connect-hub bridge`` CLI."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from hub.cli import main
from hub.config import load_settings
from hub.ingest import DatabaseSink, create_app
from hub.ingest._bridge import AGENT_DATA_PATH, BRIDGE_SCRIPT_PATH, LOGS_PATH
from hub.ingest._credentials import BridgeCredentials, BridgeSettings, bridge_settings
from hub.sources.errors import UnauthorizedError

from .conftest import ARN_A, PAGE_ORIGIN, SECRET, bridge_settings_for


def _settings(**bridge: Any) -> Any:
    settings = load_settings([])
    for key, value in bridge.items():
        settings.set(f"ingest.bridge.{key}", value)
    return settings


def test_bridge_settings_defaults_and_parsing() -> None:
    assert bridge_settings(_settings()) == BridgeSettings()
    parsed = bridge_settings(
        _settings(secret=SECRET, token_ttl=60, allowed_origins="https://CRM.example.com/, http://a:8080")
    )
    assert parsed == BridgeSettings(SECRET, 60, ("https://crm.example.com", "http://a:8080"))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"secret": "short"}, "at least 32"),
        ({"secret": 5}, "must be a string"),
        ({"secret": SECRET, "token_ttl": 0}, "positive integer"),
        ({"secret": SECRET, "allowed_origins": ["https://crm.example.com/path"]}, "is not an origin"),
        ({"secret": SECRET, "allowed_origins": ["crm.example.com"]}, "is not an origin"),
    ],
)
def test_bad_bridge_settings(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        bridge_settings(_settings(**values))


def test_create_app_mounts_the_bridge_only_with_a_secret(engine: Engine) -> None:
    url = str(engine.url)
    without = create_app(_settings(), DatabaseSink(engine))
    assert AGENT_DATA_PATH not in without.openapi()["paths"]
    settings = _settings(secret=SECRET, allowed_origins=[PAGE_ORIGIN])
    settings.set("database.url", url)
    app = create_app(settings, DatabaseSink(engine))
    assert {AGENT_DATA_PATH, LOGS_PATH, BRIDGE_SCRIPT_PATH} <= set(app.openapi()["paths"])
    token = BridgeCredentials(bridge_settings(settings), engine).mint(ARN_A).token
    body = {
        "agent": {"agentARN": ARN_A},
        "items": [{"seq": 1, "key": f"{ARN_A}#1", "entries": [{"level": "INFO", "text": "hello"}]}],
    }
    with TestClient(app) as client:
        assert client.get(BRIDGE_SCRIPT_PATH).status_code == 200
        response = client.post(LOGS_PATH, json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200
        assert response.json()["applied"] == 1


def test_tokens_expire_by_the_credentials_clock(engine: Engine) -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    clock = {"now": now}
    credentials = BridgeCredentials(bridge_settings_for(), engine, clock=lambda: clock["now"])
    issued = credentials.mint(ARN_A, ttl=60)
    # PyJWT checks exp against the wall clock, long after 2026-01-01: such a token is always expired.
    with pytest.raises(UnauthorizedError):
        credentials.verify(f"Bearer {issued.token}")
    real = BridgeCredentials(bridge_settings_for(), engine)
    fresh = real.mint(ARN_A, ttl=60)
    assert real.verify(f"Bearer {fresh.token}").agent == ARN_A
    assert real.verify(f"bearer {fresh.token}").token_id == fresh.token_id
    with pytest.raises(ValueError, match="ttl"):
        real.mint(ARN_A, ttl=0)
    with pytest.raises(ValueError, match="agent"):
        real.mint(" ")


def test_cli_mints_and_revokes(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DATABASE__URL", str(engine.url))
    monkeypatch.setenv("HUB_INGEST__BRIDGE__SECRET", SECRET)
    runner = CliRunner()
    minted = runner.invoke(main, ["bridge", "token", ARN_A, "--ttl", "600", "--json"])
    assert minted.exit_code == 0, minted.output
    issued = json.loads(minted.output)
    assert issued["agent"] == ARN_A
    credentials = BridgeCredentials(bridge_settings_for(), engine)
    assert credentials.verify(f"Bearer {issued['token']}").token_id == issued["token_id"]

    revoked = runner.invoke(main, ["bridge", "revoke", issued["token_id"]])
    assert revoked.exit_code == 0, revoked.output
    assert "revoked" in revoked.output
    with pytest.raises(UnauthorizedError):
        credentials.verify(f"Bearer {issued['token']}")
    again = runner.invoke(main, ["bridge", "revoke", issued["token_id"]])
    assert "already revoked" in again.output


def test_cli_without_a_secret_explains(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DATABASE__URL", str(engine.url))
    monkeypatch.delenv("HUB_INGEST__BRIDGE__SECRET", raising=False)
    result = CliRunner().invoke(main, ["bridge", "token", ARN_A])
    assert result.exit_code != 0
    assert "ingest.bridge.secret is not set" in result.output
