"""Fuzzing the bridge endpoints: schemathesis from the OpenAPI and hypothesis payloads mutated from real ones.

Zero 5xx on malformed input; a refused request applies and records nothing.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.checks import not_a_server_error, status_code_conformance

from hub.db import create_engine_from_url, upgrade
from hub.ingest._bridge import AGENT_DATA_PATH, LOGS_PATH
from hub.ingest._credentials import BridgeCredentials

from .conftest import ARN_A, PAGE_ORIGIN, RecordingSink, bridge_settings_for, make_app

SCENARIO = json.loads((Path(__file__).parents[2] / "hub" / "scenarios" / "inbound_voice.json").read_text())
CONFIG = copy.deepcopy(SCENARIO["configuration"]) | {"agentARN": ARN_A}
SNAPSHOTS = [step["snapshot"] for step in SCENARIO["steps"] if "snapshot" in step]


class Fuzzed:
    """The bridge app on a throw-away SQLite database, with a valid token."""

    def __init__(self, folder: Path) -> None:
        url = f"sqlite:///{folder / 'fuzz.db'}"
        upgrade(url)
        self.engine = create_engine_from_url(url)
        self.sink = RecordingSink()
        self.credentials = BridgeCredentials(bridge_settings_for(PAGE_ORIGIN), self.engine)
        self.app = make_app(self.sink, self.credentials)
        self.headers = {"Authorization": f"Bearer {self.credentials.mint(ARN_A).token}"}

    def receipts(self) -> int:
        """Rows in ingest_receipts."""
        with self.engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT count(*) FROM ingest_receipts")).scalar_one())


_FOLDER = Path(tempfile.mkdtemp(prefix="hub-bridge-fuzz-"))
_FUZZED = Fuzzed(_FOLDER)
schema = schemathesis.openapi.from_asgi("/openapi.json", _FUZZED.app)


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[Fuzzed]:
    """One app and database for the module."""
    yield _FUZZED
    _FUZZED.engine.dispose()
    shutil.rmtree(_FOLDER, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_openapi_fuzz(case: Case, fuzzed: Fuzzed) -> None:
    """Schema-driven and schema-violating requests: no 5xx, only documented statuses."""
    before = (len(fuzzed.sink.applied), len(fuzzed.sink.logs), fuzzed.receipts())
    response = case.call_and_validate(headers=fuzzed.headers, checks=[not_a_server_error, status_code_conformance])
    if response.status_code != 200:
        assert (len(fuzzed.sink.applied), len(fuzzed.sink.logs), fuzzed.receipts()) == before


def _valid_body(seq: int) -> dict[str, Any]:
    return {
        "agent": {"agentARN": ARN_A, "username": CONFIG["username"]},
        "items": [
            {"seq": seq, "key": f"{ARN_A}#{seq}", "agentData": {"snapshot": SNAPSHOTS[1], "configuration": CONFIG}}
        ],
    }


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _paths(child, (*prefix, index))
    return out


_TEMPLATE_PATHS = _paths(_valid_body(1))[1:]


@given(path=st.sampled_from(_TEMPLATE_PATHS), value=_JSON, seq=st.integers(1, 10**6))
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
def test_mutated_agent_data_never_5xx_and_refusals_apply_nothing(
    fuzzed: Fuzzed, path: tuple[Any, ...], value: Any, seq: int
) -> None:
    """One member of a real request replaced by arbitrary JSON."""
    body = copy.deepcopy(_valid_body(seq + 10**9))
    node: Any = body
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    before = (len(fuzzed.sink.applied), fuzzed.receipts())
    with TestClient(fuzzed.app) as client:
        response = client.post(AGENT_DATA_PATH, json=body, headers=fuzzed.headers)
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert response.status_code in {400, 403, 413}
        assert (len(fuzzed.sink.applied), fuzzed.receipts()) == before


@given(raw=st.binary(max_size=300) | _JSON.map(lambda v: json.dumps(v).encode()))
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_arbitrary_bodies_are_refused_cleanly(fuzzed: Fuzzed, raw: bytes) -> None:
    """Any bytes on either endpoint: a 4xx with a reason, nothing stored."""
    before = (len(fuzzed.sink.applied), len(fuzzed.sink.logs), fuzzed.receipts())
    with TestClient(fuzzed.app) as client:
        for path in (AGENT_DATA_PATH, LOGS_PATH):
            response = client.post(path, content=raw, headers=fuzzed.headers | {"Content-Type": "application/json"})
            assert response.status_code == 400, response.text
            assert response.json()["error"]
    assert (len(fuzzed.sink.applied), len(fuzzed.sink.logs), fuzzed.receipts()) == before
