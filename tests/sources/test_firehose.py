"""Firehose HTTP endpoint delivery: envelope, gzip, records, access key, responses, status policy."""

from __future__ import annotations

import base64
import gzip
import json
from typing import Any

import msgspec
import pytest

from hub.sources import firehose
from hub.sources.agent_events import AgentEvent
from hub.sources.contact_records import ContactTraceRecord
from hub.sources.errors import (
    InvalidRecordError,
    MalformedRequestError,
    PayloadTooLargeError,
    SourceError,
    SourceUnavailableError,
    UnauthorizedError,
    UnsupportedEncodingError,
)
from hub.sources.firehose import (
    FirehoseLimits,
    check_access_key,
    decode_batch,
    decode_record,
    error_body,
    error_response,
    firehose_outcome,
    parse_common_attributes,
    parse_request,
    success_body,
)

from .builders import fixture_bytes, fixture_json

REQUEST_ID = "3b0f6c2e-7d41-4c55-9f0e-0c2b8d7e6a11"


class Named(msgspec.Struct):
    """A tiny record type for the decoding tests."""

    ContactId: str


def body(*records: bytes, request_id: str = REQUEST_ID, timestamp: Any = 1772442153000) -> bytes:
    """A delivery request body carrying ``records`` (raw bytes, base64-encoded here)."""
    data = [{"data": base64.b64encode(r).decode()} for r in records]
    return json.dumps({"requestId": request_id, "timestamp": timestamp, "records": data}).encode()


def test_documented_request_parses_and_its_record_decodes() -> None:
    headers = fixture_json("firehose_request_headers.json")
    request = parse_request(
        fixture_bytes("firehose_request_body.json"),
        content_encoding=headers.get("Content-Encoding"),
        request_id_header=headers[firehose.REQUEST_ID_HEADER],
    )
    assert request.request_id == REQUEST_ID
    assert request.timestamp == 1772442153000
    assert request.record_data(0) == b'{"ContactId":"c0ffee00-0000-4000-8000-000000000042"}'
    batch = decode_batch(request, Named)
    assert [(item.index, item.value.ContactId) for item in batch.items] == [(0, "c0ffee00-0000-4000-8000-000000000042")]
    assert batch.errors == []
    check_access_key(headers[firehose.ACCESS_KEY_HEADER], "hub-shared-secret-value")
    assert parse_common_attributes(headers[firehose.COMMON_ATTRIBUTES_HEADER]) == {"feed": "ctr", "env": "prod"}


def test_success_body_is_exactly_the_documented_response() -> None:
    assert success_body(REQUEST_ID, 1772442153412) == fixture_bytes("firehose_response_body.json").strip()
    assert firehose.RESPONSE_HEADERS == {"Content-Type": "application/json"}


def test_success_body_timestamp_is_a_current_number_by_default() -> None:
    decoded = json.loads(success_body("r"))
    assert set(decoded) == {"requestId", "timestamp"}
    assert isinstance(decoded["timestamp"], int)
    assert decoded["timestamp"] > 1_700_000_000_000


def test_error_body_has_exactly_the_three_members_and_caps_the_message() -> None:
    decoded = json.loads(error_body("r", "x" * 10_000, 5))
    assert decoded == {"requestId": "r", "timestamp": 5, "errorMessage": "x" * 8192}
    status, raw = error_response(SourceUnavailableError(), "r", 7)
    assert status == 503
    assert json.loads(raw) == {"requestId": "r", "timestamp": 7, "errorMessage": "temporarily unavailable, retry later"}
    status, raw = error_response(UnauthorizedError(), None, 7)
    assert (status, json.loads(raw)["requestId"]) == (401, "")


def test_gzip_bodies_decode_to_the_same_request() -> None:
    raw = body(b'{"ContactId":"a"}', b'{"ContactId":"b"}')
    plain = parse_request(raw)
    assert parse_request(gzip.compress(raw), content_encoding="gzip") == plain
    assert parse_request(gzip.compress(raw), content_encoding=" GZIP ") == plain
    assert parse_request(raw, content_encoding="identity") == plain


def test_multi_member_gzip_is_concatenated() -> None:
    raw = body(b'{"ContactId":"a"}')
    half = len(raw) // 2
    assert parse_request(gzip.compress(raw[:half]) + gzip.compress(raw[half:]), content_encoding="gzip") == (
        parse_request(raw)
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not gzip at all", "corrupt gzip"),
        (gzip.compress(b'{"requestId":"r"}')[:-12], "truncated gzip"),
    ],
)
def test_broken_gzip_is_a_400(payload: bytes, message: str) -> None:
    with pytest.raises(MalformedRequestError, match=message) as info:
        parse_request(payload, content_encoding="gzip")
    assert info.value.status_code == 400


def test_gzip_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(b" " * 5_000_000)
    with pytest.raises(PayloadTooLargeError, match="exceeds 1000000 bytes") as info:
        parse_request(bomb, content_encoding="gzip", limits=FirehoseLimits(max_body_bytes=1_000_000))
    assert info.value.status_code == 413


def test_plain_body_over_the_limit_is_413() -> None:
    with pytest.raises(PayloadTooLargeError):
        parse_request(body(b"{}"), limits=FirehoseLimits(max_body_bytes=10))


def test_unknown_content_encoding_is_415() -> None:
    with pytest.raises(UnsupportedEncodingError, match="'br'") as info:
        parse_request(body(b"{}"), content_encoding="br")
    assert info.value.status_code == 415


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "malformed JSON"),
        (b"[]", "Expected `object`"),
        (b'{"timestamp": 1, "records": [{"data": ""}]}', "requestId"),
        (b'{"requestId": "r", "records": [{"data": ""}]}', "timestamp"),
        (b'{"requestId": "r", "timestamp": "soon", "records": [{"data": ""}]}', r"\$\.timestamp"),
        (b'{"requestId": "r", "timestamp": 1}', "records"),
        (b'{"requestId": "r", "timestamp": 1, "records": []}', "records is empty"),
        (b'{"requestId": "", "timestamp": 1, "records": [{"data": ""}]}', "requestId is empty"),
        (b'{"requestId": "r", "timestamp": 1, "records": [{"data": 5}]}', r"\$\.records\[0\]\.data"),
    ],
)
def test_malformed_envelopes_are_400_with_a_clear_reason(raw: bytes, message: str) -> None:
    with pytest.raises(MalformedRequestError, match=message) as info:
        parse_request(raw)
    assert info.value.status_code == 400


def test_numeric_string_timestamp_is_accepted_leniently() -> None:
    assert parse_request(body(b"{}", timestamp="1578090903599")).timestamp == 1578090903599


def test_request_id_must_match_the_header() -> None:
    with pytest.raises(MalformedRequestError, match="does not match"):
        parse_request(body(b"{}"), request_id_header="another-id")


def test_record_count_and_record_size_limits() -> None:
    limits = FirehoseLimits(max_records=2, max_record_bytes=30)
    parse_request(body(b"{}", b"{}"), limits=limits)
    with pytest.raises(MalformedRequestError, match="too many records: 3 > 2"):
        parse_request(body(b"{}", b"{}", b"{}"), limits=limits)
    parse_request(body(b"x" * 30), limits=limits)
    with pytest.raises(PayloadTooLargeError, match="record 0 exceeds 30 bytes"):
        parse_request(body(b"x" * 31), limits=limits)


def test_a_bad_record_is_reported_and_the_others_still_decode() -> None:
    raw = json.dumps(
        {
            "requestId": "r",
            "timestamp": 1,
            "records": [
                {"data": base64.b64encode(b'{"ContactId":"a"}').decode()},
                {"data": "%%% not base64 %%%"},
                {"data": base64.b64encode(b'{"ContactId": 3}').decode()},
                {"data": base64.b64encode(b"<xml/>").decode()},
                {"data": base64.b64encode(b'{"ContactId":"e"}').decode()},
            ],
        }
    ).encode()
    batch = decode_batch(parse_request(raw), Named)
    assert [(i.index, i.value.ContactId) for i in batch.items] == [(0, "a"), (4, "e")]
    assert [(e.index, e.reason) for e in batch.errors] == [
        (1, "record 1: data is not valid base64"),
        (2, "record 2: Expected `str`, got `int` - at `$.ContactId`"),
        (3, "record 3: data is not JSON"),
    ]
    assert all(isinstance(e, InvalidRecordError) and e.status_code == 400 for e in batch.errors)


@pytest.mark.parametrize(
    ("data", "ids"),
    [
        (b'{"ContactId":"a"}\n', ["a"]),
        (b'{"ContactId":"a"}\n{"ContactId":"b"}\n', ["a", "b"]),
        (b'{"ContactId":"a"}{"ContactId":"b"}', ["a", "b"]),
        (b'{\n  "ContactId": "a"\n}\n', ["a"]),
        (b"", []),
        (b"  \n", []),
    ],
)
def test_record_data_may_hold_zero_one_or_several_documents(data: bytes, ids: list[str]) -> None:
    assert [item.ContactId for item in decode_record(data, Named)] == ids


def test_a_bad_document_among_several_fails_the_record() -> None:
    with pytest.raises(InvalidRecordError, match="record 7: Expected `str`"):
        decode_record(b'{"ContactId":"a"}\n{"ContactId":1}\n', Named, 7)


def test_gzip_batch_of_real_record_types() -> None:
    raw = body(fixture_bytes("aes_state_change_connected.json"), fixture_bytes("ctr_example.json"))
    request = parse_request(gzip.compress(raw), content_encoding="gzip")
    events = decode_batch(request, AgentEvent)
    assert [i.index for i in events.items] == [0]
    assert [e.index for e in events.errors] == [1], "a CTR is not an agent event"
    records = decode_batch(request, ContactTraceRecord)
    assert [i.index for i in records.items] == [1]


@pytest.mark.parametrize(
    ("provided", "expected", "ok"),
    [
        ("secret", "secret", True),
        ("secret", ["old", "secret"], True),
        ("Secret", "secret", False),
        ("secre", "secret", False),
        ("secret-and-more", "secret", False),
        (None, "secret", False),
        ("", "", False),
        (None, "", False),
        ("ключ", "ключ", True),
        ("anything", [], False),
    ],
)
def test_access_key_check(provided: str | None, expected: str | list[str], ok: bool) -> None:
    if ok:
        check_access_key(provided, expected)
        return
    with pytest.raises(UnauthorizedError) as info:
        check_access_key(provided, expected)
    assert info.value.status_code == 401
    assert info.value.reason == "unauthorized", "401 must not say why"


def test_status_policy_table_matches_the_documentation() -> None:
    policy = firehose.FIREHOSE_STATUS_POLICY
    assert policy[200].outcome == "delivered"
    assert policy[413].outcome == "dropped"
    assert {s for s, p in policy.items() if p.outcome == "retried"} == {400, 401, 403, 415, 429, 500, 503}
    for status, entry in policy.items():
        assert firehose_outcome(status) == entry.outcome
    assert firehose_outcome(201) == "retried", "only 200 counts as success"
    assert firehose_outcome(302) == "retried", "redirects are not followed"
    assert firehose_outcome(504) == "retried"


def test_every_error_carries_its_status_code() -> None:
    for error, status in [
        (MalformedRequestError("x"), 400),
        (InvalidRecordError("x", 2), 400),
        (UnauthorizedError(), 401),
        (PayloadTooLargeError("x"), 413),
        (UnsupportedEncodingError("x"), 415),
        (SourceUnavailableError(), 503),
    ]:
        assert isinstance(error, SourceError)
        assert error.status_code == status
        assert str(error) == error.reason


def test_common_attributes_header_errors_are_400() -> None:
    assert parse_common_attributes(None) == {}
    with pytest.raises(MalformedRequestError, match="Common-Attributes"):
        parse_common_attributes('{"commonAttributes": [1]}')
