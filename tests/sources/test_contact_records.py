"""Contact records: typed decoding, dedupe key, supersession and the ``contacts`` row columns."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.sources.contact_records import (
    contact_type,
    decode_contact_record,
    dedupe_key,
    supersedes,
    to_contact_fields,
)
from hub.sources.errors import MalformedRequestError

from .builders import INSTANCE, fixture_bytes, fixture_json

Json = dict[str, Any]
CID = "c0ffee00-0000-4000-8000-000000000042"


def at(minute: int, second: int) -> datetime:
    """2026-03-02T09:mm:ssZ."""
    return datetime(2026, 3, 2, 9, minute, second, tzinfo=UTC)


def test_documented_record_gives_every_column() -> None:
    fields = to_contact_fields(decode_contact_record(fixture_bytes("ctr_example.json")))
    assert fields == {
        "contact_id": CID,
        "initial_contact_id": None,
        "previous_contact_id": None,
        "next_contact_id": None,
        "related_contact_id": None,
        "instance_arn": INSTANCE,
        "aws_account_id": "111122223333",
        "channel": "VOICE",
        "type": "voice",
        "initiation_method": "INBOUND",
        "initiation_timestamp": at(15, 2),
        "connected_to_system_timestamp": at(15, 2),
        "disconnect_timestamp": at(21, 10),
        "disconnect_reason": "CUSTOMER_DISCONNECT",
        "queue_arn": f"{INSTANCE}/queue/q-sales",
        "queue_name": "Sales",
        "enqueue_timestamp": at(15, 20),
        "dequeue_timestamp": at(15, 42),
        "queue_duration": 22,
        "agent_arn": f"{INSTANCE}/agent/5b5b5b5b-1111-4222-8333-000000000001",
        "agent_username": "aruiz",
        "connected_to_agent_timestamp": at(15, 42),
        "agent_interaction_duration": 301,
        "customer_hold_duration": 45,
        "number_of_holds": 1,
        "longest_hold_duration": 45,
        "after_contact_work_start_timestamp": at(21, 10),
        "after_contact_work_end_timestamp": at(22, 30),
        "after_contact_work_duration": 80,
        "agent_connection_attempts": 1,
        "customer_endpoint": "+447700900123",
        "system_endpoint": "+442079460000",
        "attributes": {"crmCaseId": "CASE-1001"},
        "recording_location": "connect-bucket/recordings/2026/03/02/c0ffee00_20260302T09:15_UTC.wav",
        "recording_status": "AVAILABLE",
        "voice_id_result": None,
        "source_timestamp": at(22, 31),
    }


def test_dedupe_key_and_supersession() -> None:
    record = decode_contact_record(fixture_bytes("ctr_example.json"))
    assert dedupe_key(record) == (CID, at(22, 31))
    assert supersedes(record, None)
    assert supersedes(record, "2026-03-02T09:22:30Z")
    assert supersedes(record, at(22, 31)), "a re-delivery of the same version rewrites the same data"
    assert not supersedes(record, "2026-03-02T09:22:31.500Z"), "an older copy never replaces a newer one"


def test_minimal_record_has_every_column_none_but_the_keys() -> None:
    fields = to_contact_fields(decode_contact_record(b'{"ContactId":"c","LastUpdateTimestamp":"2026-03-02T09:00:00Z"}'))
    assert fields["contact_id"] == "c"
    assert fields["source_timestamp"] == at(0, 0)
    assert fields["attributes"] == {}
    others = {k: v for k, v in fields.items() if k not in {"contact_id", "source_timestamp", "attributes"}}
    assert set(others.values()) == {None}


def test_voice_id_result_and_recordings_fallback() -> None:
    raw = fixture_json("ctr_example.json")
    raw["Recording"] = None
    raw["Recordings"] = [
        {"Location": None, "MediaStreamType": "VIDEO"},
        {"Location": "bucket/rec.wav", "Status": "AVAILABLE", "MediaStreamType": "AUDIO", "Extra": 1},
    ]
    raw["VoiceIdResult"] = {
        "Authentication": {"ScoreThreshold": 90, "MinimumSpeechInSeconds": 10, "Score": 94, "Result": "Authenticated"},
        "FraudDetection": {
            "ScoreThreshold": 50,
            "Result": "Low Risk",
            "Reasons": [],
            "RiskScoreKnownFraudster": 3,
            "RiskScoreVoiceSpoofing": 1,
            "RiskScoreSyntheticSpeech": None,
            "GeneratedFraudsterID": None,
            "WatchlistID": "WlAbCdEfGhIjKlMnOpQrSt",
        },
        "GeneratedSpeakerId": "id#Ab1Cd2Ef3Gh4Ij5Kl6Mn7O",
        "SpeakerEnrolled": True,
        "SpeakerOptedOut": False,
    }
    fields = to_contact_fields(decode_contact_record(json.dumps(raw)))
    assert (fields["recording_location"], fields["recording_status"]) == ("bucket/rec.wav", "AVAILABLE")
    assert fields["voice_id_result"] == {
        "Authentication": {"ScoreThreshold": 90, "MinimumSpeechInSeconds": 10, "Score": 94, "Result": "Authenticated"},
        "FraudDetection": {
            "ScoreThreshold": 50,
            "Result": "Low Risk",
            "Reasons": [],
            "RiskScoreKnownFraudster": 3,
            "RiskScoreVoiceSpoofing": 1,
            "WatchlistID": "WlAbCdEfGhIjKlMnOpQrSt",
        },
        "GeneratedSpeakerId": "id#Ab1Cd2Ef3Gh4Ij5Kl6Mn7O",
        "SpeakerEnrolled": True,
        "SpeakerOptedOut": False,
    }


def test_agent_details_and_unknown_members() -> None:
    raw = fixture_json("ctr_example.json")
    raw["Agent"]["HierarchyGroups"] = {"Level1": {"ARN": "arn:h1", "GroupName": "EMEA"}}
    raw["Agent"]["stateTransitions"] = [
        {"stateStartTimestamp": "2026-03-02T09:16:00Z", "stateEndTimestamp": "2026-03-02T09:17:00Z", "state": "BARGE"}
    ]
    raw["QualityMetrics"] = {"Agent": {"Audio": {"QualityScore": 4.1}}}
    raw["Channel"] = "voice"
    raw["InitiationMethod"] = "callback"
    record = decode_contact_record(json.dumps(raw))
    assert record.agent is not None
    assert record.agent.hierarchy_groups is not None
    assert record.agent.hierarchy_groups.level1 is not None
    assert record.agent.hierarchy_groups.level1.group_name == "EMEA"
    assert record.agent.state_transitions is not None
    assert record.agent.state_transitions[0].state == "BARGE"
    fields = to_contact_fields(record)
    assert (fields["channel"], fields["type"], fields["initiation_method"]) == ("VOICE", "queue_callback", "CALLBACK")


@pytest.mark.parametrize(
    ("channel", "method", "expected"),
    [
        ("VOICE", "INBOUND", "voice"),
        ("VOICE", "CALLBACK", "queue_callback"),
        ("CHAT", None, "chat"),
        ("TASK", "API", "task"),
        ("TASKS", "API", "task"),
        ("EMAIL", "INBOUND", "email"),
        (None, "INBOUND", None),
    ],
)
def test_contact_type(channel: str | None, method: str | None, expected: str | None) -> None:
    assert contact_type(channel, method) == expected


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("ContactId"), "ContactId"),
        (lambda r: r.pop("LastUpdateTimestamp"), "LastUpdateTimestamp"),
        (lambda r: r.update(LastUpdateTimestamp="later"), "LastUpdateTimestamp"),
        (lambda r: r["Agent"].update(NumberOfHolds="many"), r"\$\.Agent\.NumberOfHolds"),
        (lambda r: r.update(Attributes=["a"]), "Attributes"),
    ],
)
def test_malformed_records_name_the_member(mutate: Any, message: str) -> None:
    raw = fixture_json("ctr_example.json")
    mutate(raw)
    with pytest.raises(MalformedRequestError, match=message):
        decode_contact_record(json.dumps(raw))
