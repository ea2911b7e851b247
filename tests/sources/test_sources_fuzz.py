"""Property tests: malformed input only ever raises :class:`SourceError` (a 4xx), never anything else,
and random but plausible Agent Event Stream records convert to agent data the real library accepts."""

from __future__ import annotations

import contextlib
import copy
import gzip
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub._data import decode_snapshot
from hub.sources.agent_events import decode_agent_event, to_agent_data, to_engine_snapshot, to_snapshot
from hub.sources.contact_events import decode_contact_event
from hub.sources.contact_events import to_contact_fields as event_fields
from hub.sources.contact_records import decode_contact_record
from hub.sources.contact_records import to_contact_fields as record_fields
from hub.sources.errors import SourceError
from hub.sources.firehose import decode_batch, decode_record, parse_request
from hub.testing.oracle import OracleRunner, oracle_unavailable_reason
from hub.testing.oracle_setup import default_oracle_dir

from .builders import contact, encode, fixture_json, record, snapshot, status

Json = dict[str, Any]
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@st.composite
def mutated(draw: st.DrawFn, document: Json) -> Json:
    """``document`` with one randomly chosen member (at any depth) replaced, removed or retyped."""
    doc = copy.deepcopy(document)
    node: Any = doc
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            return doc
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, dict | list) and child and draw(st.booleans()):
            node = child
            continue
        if isinstance(node, dict) and draw(st.booleans()):
            del node[key]
        else:
            node[key] = draw(json_values)
        return doc


@SETTINGS
@given(raw=st.binary(max_size=300), gz=st.booleans())
def test_random_bodies_raise_only_source_errors(raw: bytes, gz: bool) -> None:
    try:
        request = parse_request(gzip.compress(raw) if gz else raw, content_encoding="gzip" if gz else None)
    except SourceError:
        return
    decode_batch(request, dict)


@SETTINGS
@given(data=st.binary(max_size=200))
def test_random_record_bytes_raise_only_source_errors(data: bytes) -> None:
    with contextlib.suppress(SourceError):
        decode_record(data, dict)


@SETTINGS
@given(doc=mutated(fixture_json("aes_state_change_connected.json")))
def test_mutated_agent_events_convert_or_are_rejected(doc: Json) -> None:
    try:
        data = to_agent_data(decode_agent_event(json.dumps(doc)))
    except SourceError:
        return
    json.dumps(data)
    assert isinstance(data["snapshot"]["state"]["name"], str)
    assert all(c["state"]["timestamp"] for c in data["snapshot"]["contacts"])


@SETTINGS
@given(doc=mutated(fixture_json("aes_state_change_connected.json")))
def test_mutated_agent_events_convert_to_the_same_engine_snapshot(doc: Json) -> None:
    """The typed conversion equals the wire conversion decoded, or both refuse the record."""
    try:
        event = decode_agent_event(json.dumps(doc))
        wire = to_snapshot(event)
    except SourceError:
        with contextlib.suppress(SourceError):
            to_engine_snapshot(decode_agent_event(json.dumps(doc)))
            pytest.fail("the typed conversion accepted a record the wire conversion refuses")
        return
    assert to_engine_snapshot(event) == decode_snapshot(wire)


@SETTINGS
@given(doc=mutated(fixture_json("ctr_example.json")))
def test_mutated_contact_records_convert_or_are_rejected(doc: Json) -> None:
    with contextlib.suppress(SourceError):
        record_fields(decode_contact_record(json.dumps(doc)))


@SETTINGS
@given(doc=mutated(fixture_json("contact_event_connected_to_agent.json")))
def test_mutated_contact_events_convert_or_are_rejected(doc: Json) -> None:
    with contextlib.suppress(SourceError):
        event_fields(decode_contact_event(json.dumps(doc)))


STATES = ["INCOMING", "PENDING", "CONNECTING", "CONNECTED", "CONNECTED_ONHOLD", "MISSED", "ERROR", "ENDED",
          "REJECTED", "PAUSED"]  # fmt: skip
CHANNELS = ["VOICE", "CHAT", "TASK", "TASKS"]
METHODS = ["INBOUND", "OUTBOUND", "TRANSFER", "CALLBACK", "API", "QUEUE_TRANSFER"]
STATUSES = [("Available", "ROUTABLE"), ("Lunch", "CUSTOM"), ("Offline", "OFFLINE")]


@st.composite
def agent_day(draw: st.DrawFn) -> list[Json]:
    """A random sequence of plausible records for one agent (ids reused so contacts persist)."""
    records: list[Json] = []
    for step in range(draw(st.integers(1, 8))):
        at = 10.0 * (step + 1)
        contacts = []
        for cid in draw(st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=3)):
            connected = draw(st.none() | st.just(at - 5))
            contacts.append(
                contact(
                    cid,
                    draw(st.sampled_from(STATES)),
                    at - draw(st.integers(0, 9)),
                    channel=draw(st.sampled_from(CHANNELS)),
                    method=draw(st.sampled_from(METHODS)),
                    connected=connected,
                )
            )
        name, type_ = draw(st.sampled_from(STATUSES))
        kind = draw(st.sampled_from(["STATE_CHANGE", "HEART_BEAT", "LOGIN", "LOGOUT"]))
        nxt = draw(st.none() | st.just({"ARN": "arn:lunch", "Name": "Lunch", "EnqueuedTimestamp": None}))
        records.append(record(kind, at, snapshot(status(name, type_, at - 1), contacts, nxt)))
    return records


@SETTINGS
@given(day=agent_day(), micros=st.integers(0, 999_999), offset=st.sampled_from(["Z", "+02:00", "-05:30"]))
def test_random_days_convert_to_the_same_engine_snapshot(day: list[Json], micros: int, offset: str) -> None:
    """Every rule of the typed conversion matches the wire one, sub-millisecond and offset timestamps too."""
    for doc in day:
        event = decode_agent_event(encode(doc).replace(b".000Z", f".{micros:06d}{offset}".encode()))
        assert to_engine_snapshot(event) == decode_snapshot(to_snapshot(event))


@pytest.fixture(scope="module")
def oracle() -> Iterator[OracleRunner]:
    """The real Streams library (skipped without Node/oracle, a failure under CI=true)."""
    reason = oracle_unavailable_reason(default_oracle_dir())
    if reason is not None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"the oracle is needed under CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    with OracleRunner(default_oracle_dir()) as runner:
        yield runner


@pytest.mark.oracle
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(day=agent_day())
def test_converted_random_days_run_through_the_real_library_without_errors(
    oracle: OracleRunner, day: list[Json]
) -> None:
    data = [to_agent_data(decode_agent_event(encode(r))) for r in day]
    scenario = {"configuration": data[0]["configuration"], "steps": [{"snapshot": d["snapshot"]} for d in data]}
    lines = oracle.run(scenario)
    assert [line for line in lines if line.get("kind") == "library_error"] == [], json.dumps(scenario)
    updates = [line for line in lines if line.get("event") == "agent::update"]
    assert len(updates) == len(day), "every converted record reaches the page"
    for update, d in zip(updates, data, strict=True):
        payload = update["payload"]
        assert (payload["state"], payload["stateType"]) == (
            d["snapshot"]["state"]["name"],
            d["snapshot"]["state"]["type"],
        )
