"""EventBridge contact events: envelope, case-insensitive detail, partial fields, API-destination auth."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.sources.contact_events import (
    basic_auth_header,
    check_api_key,
    check_basic_auth,
    decode_contact_event,
    dedupe_key,
    eventbridge_retries,
    to_contact_fields,
)
from hub.sources.errors import MalformedRequestError, UnauthorizedError, UnsupportedEventError

from .builders import INSTANCE, fixture_bytes, fixture_json

Json = dict[str, Any]
CID = "c0ffee00-0000-4000-8000-000000000042"
AGENT = f"{INSTANCE}/agent/5b5b5b5b-1111-4222-8333-000000000001"


def test_documented_event_decodes_and_gives_its_columns() -> None:
    event = decode_contact_event(fixture_bytes("contact_event_connected_to_agent.json"))
    assert dedupe_key(event) == "5e2b6c1a-8f7d-4d0e-b9a3-7a1c2d3e4f50"
    assert event.region == "eu-west-2"
    assert event.resources is not None
    assert len(event.resources) == 2
    assert event.detail.queue_info is not None
    assert event.detail.queue_info.queue_type == "STANDARD"
    assert to_contact_fields(event) == {
        "contact_id": CID,
        "initial_contact_id": CID,
        "instance_arn": INSTANCE,
        "aws_account_id": "111122223333",
        "channel": "VOICE",
        "type": "voice",
        "initiation_method": "INBOUND",
        "initiation_timestamp": datetime(2026, 3, 2, 9, 15, 2, tzinfo=UTC),
        "queue_arn": f"{INSTANCE}/queue/q-sales",
        "enqueue_timestamp": datetime(2026, 3, 2, 9, 15, 20, tzinfo=UTC),
        "agent_arn": AGENT,
        "connected_to_agent_timestamp": datetime(2026, 3, 2, 9, 15, 42, tzinfo=UTC),
        "last_event_type": "CONNECTED_TO_AGENT",
        "source_timestamp": datetime(2026, 3, 2, 9, 15, 43, tzinfo=UTC),
    }


def test_detail_keys_match_case_insensitively_like_the_mixed_case_sample() -> None:
    raw = fixture_json("contact_event_connected_to_agent.json")
    raw["detail"] = {
        "EventType": "DISCONNECTED",
        "ContactId": CID,
        "channel": "Voice",
        "AgentInfo": {"AgentArn": AGENT},
        "QueueInfo": {"QueueArn": "arn:q", "type": "STANDARD"},
        "DisconnectTimestamp": "2026-03-02T09:21:10.000Z",
        "somethingNew": {"a": 1},
    }
    fields = to_contact_fields(decode_contact_event(json.dumps(raw)))
    assert fields["last_event_type"] == "DISCONNECTED"
    assert fields["channel"] == "VOICE"
    assert fields["agent_arn"] == AGENT
    assert fields["queue_arn"] == "arn:q"
    assert fields["disconnect_timestamp"] == datetime(2026, 3, 2, 9, 21, 10, tzinfo=UTC)


def test_partial_events_only_carry_what_they_know() -> None:
    raw = fixture_json("contact_event_connected_to_agent.json")
    raw["detail"] = {"eventType": "QUEUED", "contactId": CID, "queueInfo": {"queueArn": "arn:q"}}
    fields = to_contact_fields(decode_contact_event(json.dumps(raw)))
    assert set(fields) == {"contact_id", "aws_account_id", "queue_arn", "last_event_type", "source_timestamp"}


def test_completed_event_carries_after_contact_work_and_unknown_types_pass() -> None:
    raw = fixture_json("contact_event_connected_to_agent.json")
    raw["detail"]["eventType"] = "COMPLETED"
    raw["detail"]["agentInfo"].update(
        afterContactWorkStartTimestamp="2026-03-02T09:21:10.000Z",
        afterContactWorkEndTimestamp="2026-03-02T09:22:30.000Z",
        afterContactWorkDuration=80,
    )
    fields = to_contact_fields(decode_contact_event(json.dumps(raw)))
    assert fields["after_contact_work_duration"] == 80
    assert fields["after_contact_work_end_timestamp"] == datetime(2026, 3, 2, 9, 22, 30, tzinfo=UTC)
    raw["detail"]["eventType"] = "SOMETHING_NEW"
    assert to_contact_fields(decode_contact_event(json.dumps(raw)))["last_event_type"] == "SOMETHING_NEW"


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"detail-type": "Amazon Connect Contact Lens Rule"}, UnsupportedEventError, "detail-type"),
        ({"source": "aws.voiceid"}, UnsupportedEventError, "aws.voiceid"),
        ({"id": None}, MalformedRequestError, r"\$\.id"),
        ({"detail": {"eventType": "QUEUED"}}, MalformedRequestError, "contactId"),
        ({"detail": "x"}, MalformedRequestError, r"\$\.detail"),
        ({"time": "noon"}, MalformedRequestError, r"\$\.time"),
    ],
)
def test_rejected_events_are_400(change: Json, error: type[Exception], message: str) -> None:
    raw = fixture_json("contact_event_connected_to_agent.json")
    raw.update(change)
    with pytest.raises(error, match=message) as info:
        decode_contact_event(json.dumps(raw))
    assert getattr(info.value, "status_code", None) == 400


@pytest.mark.parametrize("raw", [b"{", b"[1]", b'"x"'])
def test_non_objects_are_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedRequestError):
        decode_contact_event(raw)


def test_api_key_header_name_is_configurable_and_case_insensitive() -> None:
    check_api_key({"x-hub-key": "k1"}, header_name="X-Hub-Key", expected="k1")
    check_api_key({"X-Hub-Key": "k2"}, header_name="x-hub-key", expected=["k1", "k2"])
    for headers in ({"X-Hub-Key": "nope"}, {}, {"Authorization": "k1"}):
        with pytest.raises(UnauthorizedError) as info:
            check_api_key(headers, header_name="X-Hub-Key", expected="k1")
        assert (info.value.status_code, info.value.reason) == (401, "unauthorized")


def test_basic_auth() -> None:
    header = basic_auth_header("eventbridge", "p:ss")
    assert header == "Basic " + base64.b64encode(b"eventbridge:p:ss").decode()
    check_basic_auth(header, username="eventbridge", password="p:ss")
    check_basic_auth("basic " + header.split(" ")[1], username="eventbridge", password="p:ss")
    bad = [
        None,
        "",
        "Bearer abc",
        "Basic",
        "Basic ###",
        "Basic " + base64.b64encode(b"eventbridge").decode(),
        basic_auth_header("eventbridge", "wrong"),
        basic_auth_header("other", "p:ss"),
    ]
    for value in bad:
        with pytest.raises(UnauthorizedError):
            check_basic_auth(value, username="eventbridge", password="p:ss")


def test_eventbridge_retry_policy() -> None:
    assert [s for s in (200, 204, 301, 400, 401, 403, 404, 413, 429, 500, 503, 599) if eventbridge_retries(s)] == [
        429,
        500,
        503,
        599,
    ]
