"""``connect-hub serve`` as a subprocess on a free port, configured by environment variables only,
receiving real Firehose requests over a socket; graceful shutdown on SIGTERM."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from hub.db import create_engine_from_url
from hub.ingest import AGENT_EVENTS_PATH, CONTACT_RECORDS_PATH

from .conftest import counts, rows
from .payloads import ACCESS_KEY, call_records, contact_record, firehose_body, firehose_request
from .test_storage_failures import EXPECTED_CHANGES, failing_inserts

CLI = Path(sys.executable).with_name("connect-hub")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_healthy(base: str, process: subprocess.Popen[bytes], deadline_s: float = 30) -> None:
    """Poll ``/healthz`` until it answers 200 (fail fast if the server process exits)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if process.poll() is not None:
            raise AssertionError(f"connect-hub serve exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # readiness polling, not synchronisation between test steps
    raise AssertionError("connect-hub serve did not become healthy")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def server_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[URL]:
    """An empty (never migrated) database: ``serve`` migrates it at start."""
    if request.param == "sqlite":
        yield make_url(f"sqlite:///{tmp_path / 'var' / 'served.db'}")
        return
    with request.getfixturevalue("fresh_postgres_database")() as url:
        yield url


@pytest.fixture
def server(server_db: URL, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``connect-hub serve`` on a free port; yields its base URL and process."""
    port = free_port()
    env = {
        **os.environ,
        "HUB_HTTP__PORT": str(port),
        "HUB_DATABASE__URL": server_db.render_as_string(hide_password=False),
        "HUB_INGEST__FIREHOSE__ACCESS_KEY": ACCESS_KEY,
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([str(CLI), "serve"], env=env, cwd=tmp_path, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process)
        yield base, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def published_delivery_ids(folder: Path) -> set[int]:
    """Delivery ids in the embedded broker's message files under ``folder`` (Celery protocol 2 bodies)."""
    found: set[int] = set()
    for path in folder.rglob("*.msg"):
        message = json.loads(path.read_text())
        args = json.loads(base64.b64decode(message["body"]))[0]
        found.update(i for group in args[0] for i in group)
    return found


def test_serve_receives_a_real_firehose_delivery(
    server: tuple[str, subprocess.Popen[bytes]], server_db: URL, tmp_path: Path
) -> None:
    base, process = server
    body = firehose_body(call_records())
    content, headers = firehose_request(body, compress=True)
    engine = create_engine_from_url(server_db, poolclass=sa.NullPool)
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            openapi = client.get("/openapi.json").json()["paths"]
            assert AGENT_EVENTS_PATH in openapi
            assert CONTACT_RECORDS_PATH in openapi

            # storage fails: Firehose gets a status it retries, nothing is stored
            with failing_inserts(engine, "events"):
                response = client.post(AGENT_EVENTS_PATH, content=content, headers=headers)
                assert response.status_code == 503
                assert response.json()["requestId"] == body["requestId"]
            assert all(n == 0 for n in counts(engine).values())

            # the retry succeeds; a further redelivery of the same request changes nothing
            for _ in range(2):
                response = client.post(AGENT_EVENTS_PATH, content=content, headers=headers)
                assert response.status_code == 200
                assert response.json()["requestId"] == body["requestId"]
                assert isinstance(response.json()["timestamp"], int)
            ctr_content, ctr_headers = firehose_request(firehose_body([contact_record()]))
            for _ in range(2):
                assert client.post(CONTACT_RECORDS_PATH, content=ctr_content, headers=ctr_headers).status_code == 200
            bad_key = {**headers, "X-Amz-Firehose-Access-Key": "nope"}
            assert client.post(AGENT_EVENTS_PATH, content=content, headers=bad_key).status_code == 401

        # the serve process publishes each request's deliveries to the (embedded) broker right after the
        # commit; no worker consumes here, so every delivery id must turn up in a message file
        ids = {r["id"] for r in rows(engine, "SELECT id FROM deliveries")}
        assert ids  # the example plugin hooks state changes and connected contacts
        assert {r["status"] for r in rows(engine, "SELECT DISTINCT status FROM deliveries")} == {"queued"}
        deadline = time.monotonic() + 30
        while (published := published_delivery_ids(tmp_path)) != ids:
            assert time.monotonic() < deadline, f"not published: {sorted(ids - published)}"
            time.sleep(0.05)  # polling the broker folder for the publisher's progress

        changes = rows(engine, "SELECT old_state, new_state FROM agent_state_history ORDER BY occurred_at")
        assert [(r["old_state"], r["new_state"]) for r in changes] == EXPECTED_CHANGES
        assert counts(engine)["contacts"] == 2  # c-1 from the agent events, the CTR's contact

        # graceful shutdown: uvicorn finishes, then re-raises the signal (systemd counts that as success)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) in (0, -signal.SIGTERM)
        assert "Finished server process" in (tmp_path / "serve.log").read_text()
    finally:
        engine.dispose()
