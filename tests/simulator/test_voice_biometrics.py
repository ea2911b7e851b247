"""Voice ID semantics of the simulated voice biometrics provider."""

from __future__ import annotations

import pytest

from hub.simulator import SimulatedVoiceId, VoiceBiometricsProvider, VoiceIdError


class Clock:
    def __init__(self) -> None:
        self.ms = 1_772_442_000_000

    def __call__(self) -> int:
        return self.ms

    def advance(self, seconds: float) -> None:
        self.ms += int(seconds * 1000)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def vid(clock: Clock) -> SimulatedVoiceId:
    return SimulatedVoiceId(3, clock_ms=clock)


def _domain(vid: SimulatedVoiceId) -> str:
    domain_id: str = vid.create_domain("test")["Domain"]["DomainId"]
    return domain_id


def test_is_a_voice_biometrics_provider(vid: SimulatedVoiceId) -> None:
    provider: VoiceBiometricsProvider = vid
    assert provider.create_domain("x")["Domain"]["DomainStatus"] == "ACTIVE"


def test_enrolment_needs_thirty_seconds_of_speech(vid: SimulatedVoiceId, clock: Clock) -> None:
    domain = _domain(vid)
    vid.start_session(domain, "contact-1", "C-1")
    clock.advance(20)  # 12 s of net speech at the default 0.6 ratio
    assert vid.enroll_by_session(domain, "contact-1") == {"Status": "IN_PROGRESS"}
    with pytest.raises(VoiceIdError, match="ResourceNotFoundException"):
        vid.describe_speaker(domain, "C-1")
    clock.advance(40)
    assert vid.enroll_by_session(domain, "contact-1") == {"Status": "COMPLETED"}
    speaker = vid.describe_speaker(domain, "C-1")["Speaker"]
    assert speaker["Status"] == "ENROLLED"
    assert len(speaker["GeneratedSpeakerId"]) == 25 and speaker["GeneratedSpeakerId"].startswith("id#")


def test_genuine_caller_is_accepted_and_impostor_rejected(vid: SimulatedVoiceId, clock: Clock) -> None:
    domain = _domain(vid)
    vid.enroll_speaker(domain, "C-1", "voice-of-C-1")
    vid.start_session(domain, "genuine", "C-1", voice="voice-of-C-1")
    vid.start_session(domain, "impostor", "C-1", voice="someone-else")
    clock.advance(5)
    early = vid.evaluate_session(domain, "genuine")
    assert early["AuthenticationResult"]["Decision"] == "NOT_ENOUGH_SPEECH"
    assert early["FraudDetectionResult"]["Decision"] == "NOT_ENOUGH_SPEECH"
    assert early["StreamingStatus"] == "ONGOING"
    clock.advance(30)
    genuine = vid.evaluate_session(domain, "genuine")["AuthenticationResult"]
    impostor = vid.evaluate_session(domain, "impostor")["AuthenticationResult"]
    assert genuine["Decision"] in {"ACCEPT", "REJECT"} and impostor["Decision"] == "REJECT"
    assert genuine["Score"] > impostor["Score"]
    assert genuine["Configuration"] == {"AcceptanceThreshold": 90}
    assert (genuine["Decision"] == "ACCEPT") == (genuine["Score"] >= 90)


def test_authentication_decisions_for_speaker_status(vid: SimulatedVoiceId, clock: Clock) -> None:
    domain = _domain(vid)
    vid.start_session(domain, "anon", None)
    vid.start_session(domain, "unknown", "C-9")
    vid.enroll_speaker(domain, "C-2", "v2")
    vid.opt_out_speaker(domain, "C-2")
    vid.start_session(domain, "opted", "C-2", voice="v2")
    clock.advance(60)
    decisions = {
        s: vid.evaluate_session(domain, s)["AuthenticationResult"]["Decision"] for s in ("anon", "unknown", "opted")
    }
    assert decisions == {
        "anon": "SPEAKER_ID_NOT_PROVIDED",
        "unknown": "SPEAKER_NOT_ENROLLED",
        "opted": "SPEAKER_OPTED_OUT",
    }
    vid.delete_speaker(domain, "C-2")
    with pytest.raises(VoiceIdError):
        vid.delete_speaker(domain, "C-2")


def test_fraudster_on_the_watchlist_is_high_risk(vid: SimulatedVoiceId, clock: Clock) -> None:
    domain = _domain(vid)
    vid.start_session(domain, "first-call", "C-3", voice="crook")
    clock.advance(30)
    fraudster = vid.register_fraudster(domain, "first-call", [])["Fraudster"]
    vid.start_session(domain, "second-call", "C-3", voice="crook")
    vid.start_session(domain, "honest-call", "C-4", voice="C-4")
    clock.advance(30)
    fraud = vid.evaluate_session(domain, "second-call")["FraudDetectionResult"]
    assert fraud["Decision"] == "HIGH_RISK" and fraud["Reasons"] == ["KNOWN_FRAUDSTER"]
    risk = fraud["RiskDetails"]["KnownFraudsterRisk"]
    assert risk["RiskScore"] >= fraud["Configuration"]["RiskThreshold"]
    assert risk["GeneratedFraudsterId"] == fraudster["GeneratedFraudsterId"]
    honest = vid.evaluate_session(domain, "honest-call")["FraudDetectionResult"]
    assert honest["Decision"] == "LOW_RISK" and honest["Reasons"] == []


def test_watchlist_membership_decides_detection(vid: SimulatedVoiceId, clock: Clock) -> None:
    domain = _domain(vid)
    other = vid.create_watchlist(domain, "VIP fraud")["Watchlist"]["WatchlistId"]
    fid = vid.register_voice(domain, "crook", [other])["Fraudster"]["GeneratedFraudsterId"]
    vid.start_session(domain, "call", "C-5", voice="crook")
    clock.advance(30)
    assert vid.evaluate_session(domain, "call")["FraudDetectionResult"]["Decision"] == "LOW_RISK"  # not on default
    default = vid.evaluate_session(domain, "call")["FraudDetectionResult"]["Configuration"]["WatchlistId"]
    vid.associate_fraudster(domain, default, fid)
    assert vid.evaluate_session(domain, "call")["FraudDetectionResult"]["Decision"] == "HIGH_RISK"
    assert vid.disassociate_fraudster(domain, other, fid)["Fraudster"]["WatchlistIds"] == [default]
    with pytest.raises(VoiceIdError, match="ValidationException"):
        vid.disassociate_fraudster(domain, default, fid)  # a fraudster stays on at least one watchlist


def test_synthetic_voice_is_flagged_as_spoofing(vid: SimulatedVoiceId, clock: Clock) -> None:
    domain = _domain(vid)
    vid.start_session(domain, "tts", "C-6", voice="synthetic:tts")
    clock.advance(30)
    fraud = vid.evaluate_session(domain, "tts")["FraudDetectionResult"]
    assert "VOICE_SPOOFING" in fraud["Reasons"] and fraud["Decision"] == "HIGH_RISK"


def test_scores_are_reproducible_per_seed(clock: Clock) -> None:
    def score(seed: int) -> int:
        vid = SimulatedVoiceId(seed, clock_ms=clock)
        domain = _domain(vid)
        vid.enroll_speaker(domain, "C-1", "v")
        vid.start_session(domain, "s", "C-1", voice="v")
        clock.advance(30)
        value: int = vid.evaluate_session(domain, "s")["AuthenticationResult"]["Score"]
        return value

    assert score(1) == score(1)
    assert len({score(seed) for seed in range(8)}) > 1


def test_ended_session_and_contact_record_result(vid: SimulatedVoiceId, clock: Clock) -> None:
    domain = _domain(vid)
    vid.enroll_speaker(domain, "C-7", "C-7")
    vid.start_session(domain, "c-7-call", "C-7")
    clock.advance(40)
    vid.end_session(domain, "c-7-call")
    clock.advance(100)
    assert vid.evaluate_session(domain, "c-7-call")["StreamingStatus"] == "ENDED"
    result = vid.ctr_result(domain, "c-7-call")
    assert result is not None
    assert result["Authentication"]["Result"] in {"Authenticated", "Not Authenticated"}
    assert result["FraudDetection"]["Result"] == "Low Risk"
    assert result["SpeakerEnrolled"] is True and result["SpeakerOptedOut"] is False
    assert vid.ctr_result(domain, "no-session") is None
