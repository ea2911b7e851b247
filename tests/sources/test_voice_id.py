"""Voice ID result shapes and the API → Streams decision mapping."""

from __future__ import annotations

import msgspec
import pytest

from hub.sources.voice_id import (
    AUTHENTICATION_RESULTS,
    FRAUD_RESULTS,
    VoiceIdResult,
    streams_authentication_decision,
    streams_fraud_decision,
)


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        ("ACCEPT", "Authenticated"),
        ("REJECT", "NotAuthenticated"),
        ("SPEAKER_OPTED_OUT", "OptedOut"),
        ("SPEAKER_NOT_ENROLLED", "NotEnrolled"),
        ("NOT_ENOUGH_SPEECH", "Inconclusive"),
        ("SPEAKER_EXPIRED", "Error"),
        ("SPEAKER_ID_NOT_PROVIDED", "Error"),
        (None, "NotEnabled"),
    ],
)
def test_authentication_decisions(decision: str | None, expected: str) -> None:
    assert streams_authentication_decision(decision) == expected


@pytest.mark.parametrize(
    ("decision", "expected"),
    [("HIGH_RISK", "HighRisk"), ("LOW_RISK", "LowRisk"), ("NOT_ENOUGH_SPEECH", "Inconclusive"), ("X", "Error"),
     (None, "NotEnabled")],
)  # fmt: skip
def test_fraud_decisions(decision: str | None, expected: str) -> None:
    assert streams_fraud_decision(decision) == expected


def test_result_strings_are_the_documented_ones() -> None:
    assert "Not Authenticated" in AUTHENTICATION_RESULTS
    assert "High Risk" in FRAUD_RESULTS


def test_result_decodes_with_documented_names_and_round_trips() -> None:
    raw = {
        "Authentication": {"ScoreThreshold": 90, "Score": 12, "Result": "Not Authenticated", "New": 1},
        "FraudDetection": {
            "Result": "High Risk",
            "Reasons": ["KNOWN_FRAUDSTER"],
            "RiskScoreKnownFraudster": 97,
            "GeneratedFraudsterID": "id#fraudster0000000000000",
            "WatchlistID": "wl",
        },
        "SpeakerEnrolled": False,
    }
    result = msgspec.convert(raw, VoiceIdResult)
    assert result.fraud_detection is not None
    assert result.fraud_detection.generated_fraudster_id == "id#fraudster0000000000000"
    assert result.authentication is not None
    assert result.authentication.result == "Not Authenticated"
    expected = {**raw, "Authentication": {"ScoreThreshold": 90, "Score": 12, "Result": "Not Authenticated"}}
    assert result.to_dict() == expected
