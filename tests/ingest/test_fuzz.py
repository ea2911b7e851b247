"""Fuzzing every ingest endpoint: schemathesis from ``/openapi.json`` (in-process ASGI, SQLite) and
hypothesis payloads mutated from real ones (SQLite and PostgreSQL, which refuses more: over-long
strings, NUL characters). Zero 5xx on malformed input; nothing persisted from a rejected request.

Example counts are bounded so the file runs in well under 90 s.
"""

from __future__ import annotations

import atexit
import base64
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.engine import Engine, make_url

from hub.db import create_engine_from_url, upgrade
from hub.ingest import AGENT_EVENTS_PATH, CONTACT_EVENTS_PATH, CONTACT_RECORDS_PATH, DatabaseSink, create_app
from hub.plugins import HubPlugins

from .conftest import TEST_LIMITS, RecordingPlugin, counts, make_settings
from .payloads import ACCESS_KEY, API_KEY, call_records, contact_event, contact_record, firehose_body, firehose_request

AUTH = {"X-Amz-Firehose-Access-Key": ACCESS_KEY, "X-Api-Key": API_KEY}
ACCEPTED_REFUSALS = {400, 401, 413, 415}


class Fuzzed:
    """The app on a SQLite database shared by the fuzz examples of one test."""

    def __init__(self, folder: Path) -> None:
        url = make_url(f"sqlite:///{folder / 'fuzz.db'}")
        upgrade(url)
        self.engine: Engine = create_engine_from_url(url)
        plugins = HubPlugins()
        plugins.register(RecordingPlugin(), "recorder")
        self.app = create_app(make_settings(), DatabaseSink(self.engine, hooks=plugins), limits=TEST_LIMITS)


# schemathesis parametrizes at collection time, so the app (on a throw-away SQLite file) exists then.
_FOLDER = Path(tempfile.mkdtemp(prefix="hub-ingest-fuzz-"))
atexit.register(shutil.rmtree, _FOLDER, ignore_errors=True)  # also when the tests are deselected
_FUZZED = Fuzzed(_FOLDER)
schema = schemathesis.openapi.from_asgi("/openapi.json", _FUZZED.app)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    """One app and database for the module (removed afterwards)."""
    yield _FUZZED
    _FUZZED.engine.dispose()
    shutil.rmtree(_FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_fuzz(case: Case, fuzzed: Fuzzed) -> None:
    """Schema-driven (and schema-violating) requests: no 5xx, documented statuses, nothing half-stored."""
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "x-amz-firehose-request-id"}
    before = counts(fuzzed.engine)
    response = case.call_and_validate(
        headers=AUTH,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            negative_data_rejection,
        ],
    )
    if response.status_code != 200:
        assert counts(fuzzed.engine) == before


# ------------------------------------------------------------------------------------ hypothesis

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=300),
    st.sampled_from(["", "\u0000", "9999-12-31T23:59:59+14:00", "0001-01-01T00:00:00-05:00", "2026-13-40T99:99:99Z"]),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found += _paths(value, (*prefix, index))
    return found


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy: Any = list(doc) if isinstance(doc, list) else dict(doc)
    copy[path[0]] = _replace(doc[path[0]], path[1:], value)
    return copy


@st.composite
def mutated(draw: st.DrawFn, original: Any, rounds: int = 3) -> Any:
    """``original`` with up to ``rounds`` members replaced by arbitrary JSON (or deleted)."""
    doc = original
    for _ in range(draw(st.integers(min_value=1, max_value=rounds))):
        path = draw(st.sampled_from(_paths(doc)))
        if path and draw(st.booleans()) and isinstance(_parent(doc, path), dict):
            parent = dict(_parent(doc, path))
            del parent[path[-1]]
            doc = _replace(doc, path[:-1], parent)
        else:
            doc = _replace(doc, path, draw(json_value))
    return doc


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


def _check(client: TestClient, engine: Engine, path: str, content: bytes, headers: dict[str, str]) -> int:
    before = counts(engine)
    response = client.post(path, content=content, headers=headers)
    assert response.status_code < 500, response.text
    assert response.status_code == 200 or response.status_code in ACCEPTED_REFUSALS, response.text
    if response.status_code != 200:
        assert counts(engine) == before
    status: int = response.status_code
    return status


FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(st.data())
def test_mutated_agent_event_records(client: TestClient, engine: Engine, data: st.DataObject) -> None:
    """Mutated AES records (and the Firehose envelope around them) are stored or refused cleanly."""
    records = [data.draw(mutated(r), label="record") if data.draw(st.booleans()) else r for r in call_records(agent=9)]
    body = firehose_body(records)
    body = data.draw(st.one_of(st.just(body), mutated(body, rounds=1)), label="body")
    content = json.dumps(body).encode()
    headers = {**AUTH, "Content-Type": "application/json"}
    _check(client, engine, AGENT_EVENTS_PATH, content, headers)


@FUZZ
@given(st.data())
def test_mutated_contact_records(client: TestClient, engine: Engine, data: st.DataObject) -> None:
    """Mutated contact records are stored or refused cleanly."""
    record = data.draw(mutated(contact_record(contact_id=data.draw(st.text(min_size=1, max_size=20)))), label="ctr")
    content, headers = firehose_request(firehose_body([record]), compress=data.draw(st.booleans()))
    _check(client, engine, CONTACT_RECORDS_PATH, content, {**headers, **AUTH})


@FUZZ
@given(st.data())
def test_mutated_contact_events(client: TestClient, engine: Engine, data: st.DataObject) -> None:
    """Mutated EventBridge events are stored or refused cleanly."""
    event = data.draw(mutated(contact_event()), label="event")
    content = json.dumps(event).encode()
    _check(client, engine, CONTACT_EVENTS_PATH, content, {**AUTH, "Content-Type": "application/json"})


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=2000), st.sampled_from([AGENT_EVENTS_PATH, CONTACT_RECORDS_PATH, CONTACT_EVENTS_PATH]))
def test_arbitrary_bytes(client: TestClient, engine: Engine, blob: bytes, path: str) -> None:
    """Arbitrary bytes as the body, or as a record's data: refused with a 4xx, never a 5xx."""
    headers = {**AUTH, "Content-Type": "application/json"}
    record_body = json.dumps(
        {"requestId": "fuzz", "timestamp": 1, "records": [{"data": base64.b64encode(blob).decode()}]}
    )
    _check(client, engine, path, blob, headers)
    if path != CONTACT_EVENTS_PATH:
        _check(client, engine, path, record_body.encode(), headers)
