"""Fixtures for the Streams browser bridge tests: a migrated database, credentials, a recording sink, the app.

:class:`RecordingSink` is a real :class:`hub.ingest._bridge.AgentDataSink`: it applies agent data to
core :class:`hub.AgentSession` objects (the engine derives the events) and records what it applied and
what the engine derived, so the tests can compare it with what the library did in the page.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from hub import Hub
from hub.db import create_engine_from_url, upgrade
from hub.ingest._bridge import BridgeLimits, bridge_router
from hub.ingest._credentials import BridgeCredentials, BridgeSettings
from hub.replay import HIDDEN_EVENTS, summarize_payload
from hub.sources.errors import SourceUnavailableError

SECRET = "test-bridge-secret-0123456789abcdef-xyz"
PAGE_ORIGIN = "http://crm.example.test"
ARN_A = "arn:aws:connect:us-west-2:123456789012:instance/11111111-2222-3333-4444-555555555555/agent/aaaa"
ARN_B = "arn:aws:connect:us-west-2:123456789012:instance/11111111-2222-3333-4444-555555555555/agent/bbbb"


class RecordingSink:
    """Applies agent data on the core engine and records it; ``down = True`` makes storage fail (503)."""

    def __init__(self) -> None:
        self.hub = Hub()
        self.applied: list[tuple[str, dict[str, Any]]] = []
        self.events: list[list[tuple[str, Any]]] = []
        self.logs: list[tuple[str, list[dict[str, Any]]]] = []
        self.down = False
        self._lock = threading.Lock()
        self._captured: list[tuple[str, Any]] = []

    def _capture(self, data: Any, name: str) -> None:
        if name not in HIDDEN_EVENTS:
            self._captured.append((name, summarize_payload(data, name)))

    def apply_agent_data(self, agent_key: str, data: Mapping[str, Any]) -> None:
        """Dispatch ``agent::update`` on the agent's session; record the data and the derived events."""
        if self.down:
            raise SourceUnavailableError()
        with self._lock:
            session = self.hub.get_session(agent_key)
            if session is None:
                session = self.hub.session(agent_key)
                session.bus.subscribe_all(self._capture)
            self._captured = []
            session.apply_agent_data(dict(data))
            self.applied.append((agent_key, dict(data)))
            self.events.append(self._captured)

    def store_streams_logs(self, agent_key: str, entries: Sequence[Mapping[str, Any]]) -> None:
        """Record Streams log entries."""
        if self.down:
            raise SourceUnavailableError()
        with self._lock:
            self.logs.append((agent_key, [dict(e) for e in entries]))

    def is_healthy(self) -> bool:
        """Healthy unless ``down``."""
        return not self.down


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite database file, copied for each test (migrating once is the slow part)."""
    path = tmp_path_factory.mktemp("bridge-db") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def engine(migrated_template: Path, tmp_path: Path) -> Iterator[Engine]:
    """An engine on a fresh copy of the migrated database."""
    path = tmp_path / "hub.sqlite3"
    shutil.copy(migrated_template, path)
    engine = create_engine_from_url(f"sqlite:///{path}")
    yield engine
    engine.dispose()


def bridge_settings_for(*origins: str, ttl: int = 3600) -> BridgeSettings:
    """Bridge settings with the test secret and the given allowed origins."""
    return BridgeSettings(secret=SECRET, token_ttl=ttl, allowed_origins=tuple(o.lower() for o in origins))


@pytest.fixture
def credentials(engine: Engine) -> BridgeCredentials:
    """Credentials allowing :data:`PAGE_ORIGIN`."""
    return BridgeCredentials(bridge_settings_for(PAGE_ORIGIN), engine)


@pytest.fixture
def sink() -> RecordingSink:
    """A fresh recording sink."""
    return RecordingSink()


def make_app(sink: Any, credentials: BridgeCredentials, limits: BridgeLimits | None = None) -> FastAPI:
    """A minimal app with only the bridge router (as ``create_app`` mounts it)."""
    app = FastAPI()
    app.include_router(bridge_router(sink, credentials, limits=limits))
    return app


@pytest.fixture
def client(sink: RecordingSink, credentials: BridgeCredentials) -> Iterator[TestClient]:
    """The bridge app over ASGI."""
    with TestClient(make_app(sink, credentials)) as test_client:
        yield test_client
