"""A seeded simulated voice biometrics provider with Amazon Connect Voice ID's semantics.

The interface and its result types live in :mod:`hub.voice_biometrics` (re-exported here for
compatibility). AWS ended Voice ID on 2026-05-20, so the hub talks to a
:class:`~hub.voice_biometrics.VoiceBiometricsProvider`: domains,
speakers (enrolled from a call session, opted out, deleted), sessions named after the contact's
``InitialContactId``, evaluation returning an ``AuthenticationResult`` (``ACCEPT`` / ``REJECT`` with
a 0-100 score against an acceptance threshold, ``NOT_ENOUGH_SPEECH``, ``SPEAKER_NOT_ENROLLED``,
``SPEAKER_OPTED_OUT``, ``SPEAKER_ID_NOT_PROVIDED``) and a ``FraudDetectionResult`` (``HIGH_RISK`` /
``LOW_RISK`` / ``NOT_ENOUGH_SPEECH`` with known-fraudster and voice-spoofing risk scores against a
risk threshold and a watchlist). Responses use the Voice ID API's field names.

:class:`SimulatedVoiceId` has no audio: each session knows which *voice* is really speaking (a
label such as a customer id, or a fraudster's voice), the simulated clock gives the net speech
collected so far, and scores are derived from a hash of seed, session and speaker, so they are
reproducible regardless of call order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hub.simulator.ids import IdSource
from hub.voice_biometrics import (
    AuthenticationResult,
    DomainResponse,
    EnrollmentResponse,
    EvaluationResponse,
    FraudDetectionReason,
    FraudDetectionResult,
    FraudsterResponse,
    SessionDescriptionResponse,
    SessionResponse,
    Speaker,
    SpeakerResponse,
    SpeakerStatus,
    VoiceBiometricsProvider,
    VoiceIdError,
    WatchlistResponse,
)

__all__ = ["SimulatedVoiceId", "VoiceBiometricsProvider", "VoiceIdError"]  # the last two: from hub.voice_biometrics

JSON = dict[str, Any]
ENROLLMENT_SPEECH_S = 30.0
AUTHENTICATION_SPEECH_S = 10.0


@dataclass
class _Speaker:
    customer_id: str
    generated_id: str
    status: SpeakerStatus
    voice: str | None
    created_ms: int
    updated_ms: int


@dataclass
class _Session:
    session_id: str
    name: str
    voice: str
    speaker_id: str | None
    started_ms: int
    ended_ms: int | None = None


@dataclass
class _Domain:
    domain_id: str
    name: str
    default_watchlist: str
    speakers: dict[str, _Speaker] = field(default_factory=dict)
    sessions: dict[str, _Session] = field(default_factory=dict)
    watchlists: dict[str, str] = field(default_factory=dict)  # id -> name
    fraudsters: dict[str, tuple[str, set[str]]] = field(default_factory=dict)  # id -> (voice, watchlists)


class SimulatedVoiceId:
    """A seeded in-memory :class:`VoiceBiometricsProvider`."""

    def __init__(
        self,
        seed: int,
        clock_ms: Callable[[], int],
        acceptance_threshold: int = 90,
        risk_threshold: int = 50,
        speech_ratio: float = 0.6,
    ) -> None:
        """``speech_ratio``: the share of call time that is net customer speech."""
        self._seed = seed
        self._ids = IdSource(seed, "voiceid")
        self._clock = clock_ms
        self.acceptance_threshold = acceptance_threshold
        self.risk_threshold = risk_threshold
        self.speech_ratio = speech_ratio
        self._domains: dict[str, _Domain] = {}

    # ------------------------------------------------------------------ internals
    def _domain(self, domain_id: str) -> _Domain:
        try:
            return self._domains[domain_id]
        except KeyError:
            raise VoiceIdError("ResourceNotFoundException", f"domain {domain_id} not found") from None

    def _session(self, domain: _Domain, name: str) -> _Session:
        for session in reversed(domain.sessions.values()):  # a restarted session replaces the older one
            if name in {session.name, session.session_id}:
                return session
        raise VoiceIdError("ResourceNotFoundException", f"session {name} not found")

    def _speech(self, session: _Session) -> float:
        end = session.ended_ms if session.ended_ms is not None else self._clock()
        return max(0.0, (end - session.started_ms) / 1000 * self.speech_ratio)

    def _score(self, *parts: str) -> int:
        digest = hashlib.sha256("|".join((str(self._seed), *parts)).encode()).digest()
        return digest[0] * 256 + digest[1]

    def _speaker_json(self, domain: _Domain, sp: _Speaker) -> Speaker:
        return {
            "DomainId": domain.domain_id,
            "CustomerSpeakerId": sp.customer_id,
            "GeneratedSpeakerId": sp.generated_id,
            "Status": sp.status,
            "CreatedAt": sp.created_ms / 1000,
            "UpdatedAt": sp.updated_ms / 1000,
            "LastAccessedAt": sp.updated_ms / 1000,
        }

    def _new_id(self) -> str:
        return "id#" + self._ids.token(22)

    # ------------------------------------------------------------------ domains and speakers
    def create_domain(self, name: str) -> DomainResponse:
        """Create a domain and its default watchlist."""
        domain = _Domain(self._ids.token(22), name, self._ids.token(22))
        domain.watchlists[domain.default_watchlist] = "Default"
        self._domains[domain.domain_id] = domain
        return {
            "Domain": {
                "DomainId": domain.domain_id,
                "Name": name,
                "DomainStatus": "ACTIVE",
                "WatchlistDetails": {"DefaultWatchlistId": domain.default_watchlist},
            }
        }

    def describe_speaker(self, domain_id: str, speaker_id: str) -> SpeakerResponse:
        """Describe a speaker by customer or generated id."""
        domain = self._domain(domain_id)
        for sp in domain.speakers.values():
            if speaker_id in {sp.customer_id, sp.generated_id}:
                return {"Speaker": self._speaker_json(domain, sp)}
        raise VoiceIdError("ResourceNotFoundException", f"speaker {speaker_id} not found")

    def opt_out_speaker(self, domain_id: str, speaker_id: str) -> SpeakerResponse:
        """Opt a speaker out (its voiceprint is dropped)."""
        domain = self._domain(domain_id)
        now = self._clock()
        sp = domain.speakers.get(speaker_id)
        if sp is None:
            sp = _Speaker(speaker_id, self._new_id(), "OPTED_OUT", None, now, now)
            domain.speakers[speaker_id] = sp
        sp.status, sp.voice, sp.updated_ms = "OPTED_OUT", None, now
        return {"Speaker": self._speaker_json(domain, sp)}

    def delete_speaker(self, domain_id: str, speaker_id: str) -> None:
        """Delete a speaker."""
        domain = self._domain(domain_id)
        if domain.speakers.pop(speaker_id, None) is None:
            raise VoiceIdError("ResourceNotFoundException", f"speaker {speaker_id} not found")

    def enroll_speaker(self, domain_id: str, speaker_id: str, voice: str) -> SpeakerResponse:
        """Enrol ``speaker_id`` with ``voice`` directly (what a batch enrolment job does)."""
        domain = self._domain(domain_id)
        now = self._clock()
        sp = domain.speakers.get(speaker_id)
        if sp is None:
            sp = domain.speakers[speaker_id] = _Speaker(speaker_id, self._new_id(), "ENROLLED", voice, now, now)
        sp.status, sp.voice, sp.updated_ms = "ENROLLED", voice, now
        return {"Speaker": self._speaker_json(domain, sp)}

    # ------------------------------------------------------------------ sessions
    def start_session(
        self, domain_id: str, session_name: str, speaker_id: str | None, voice: str | None = None
    ) -> SessionResponse:
        """Start a session; ``voice`` (simulation only) is who really speaks, default ``speaker_id``."""
        domain = self._domain(domain_id)
        actual = voice or speaker_id or f"anonymous:{session_name}"
        session = _Session(self._new_id(), session_name, actual, speaker_id, self._clock())
        domain.sessions[session.session_id] = session
        return {"Session": {"SessionId": session.session_id, "SessionName": session_name, "DomainId": domain_id}}

    def update_session(self, domain_id: str, session_name: str, speaker_id: str) -> SessionResponse:
        """Set the claimed speaker id of a session."""
        session = self._session(self._domain(domain_id), session_name)
        session.speaker_id = speaker_id
        return {"Session": {"SessionId": session.session_id, "SessionName": session.name, "DomainId": domain_id}}

    def describe_session(self, domain_id: str, session_name: str) -> SessionDescriptionResponse:
        """``DescribeSession``-like: the session, its claimed speaker and streaming status."""
        session = self._session(self._domain(domain_id), session_name)
        return {
            "Session": {
                "DomainId": domain_id,
                "SessionId": session.session_id,
                "SessionName": session.name,
                "CustomerSpeakerId": session.speaker_id,
                "StreamingStatus": "ENDED" if session.ended_ms is not None else "ONGOING",
            }
        }

    def restart_session(self, domain_id: str, session_name: str) -> SessionResponse:
        """Start collecting audio afresh for the same call (Streams' ``startNew`` evaluation)."""
        old = self._session(self._domain(domain_id), session_name)
        return self.start_session(domain_id, old.name, old.speaker_id, voice=old.voice)

    def end_session(self, domain_id: str, session_name: str) -> None:
        """Stop collecting audio."""
        session = self._session(self._domain(domain_id), session_name)
        if session.ended_ms is None:
            session.ended_ms = self._clock()

    def enroll_by_session(self, domain_id: str, session_name: str) -> EnrollmentResponse:
        """Enrol the session's claimed speaker with the session's voice (needs 30 s of net speech)."""
        domain = self._domain(domain_id)
        session = self._session(domain, session_name)
        if session.speaker_id is None:
            raise VoiceIdError("ConflictException", "SPEAKER_NOT_SET")
        if self._speech(session) < ENROLLMENT_SPEECH_S:
            return {"Status": "NOT_ENOUGH_SPEECH" if session.ended_ms is not None else "IN_PROGRESS"}
        self.enroll_speaker(domain_id, session.speaker_id, session.voice)
        return {"Status": "COMPLETED"}

    def evaluate_session(self, domain_id: str, session_name: str) -> EvaluationResponse:
        """Authenticate the claimed speaker and check the voice against the watchlist."""
        domain = self._domain(domain_id)
        session = self._session(domain, session_name)
        speech = self._speech(session)
        now = self._clock()
        started, ended = session.started_ms / 1000, now / 1000
        auth: AuthenticationResult = {
            "AuthenticationResultId": self._ids.token(32),
            "CustomerSpeakerId": session.speaker_id,
            "GeneratedSpeakerId": None,
            "Configuration": {"AcceptanceThreshold": self.acceptance_threshold},
            "AudioAggregationStartedAt": started,
            "AudioAggregationEndedAt": ended,
            "Decision": "SPEAKER_ID_NOT_PROVIDED",
        }
        speaker = domain.speakers.get(session.speaker_id or "")
        if session.speaker_id is None:
            auth["Decision"] = "SPEAKER_ID_NOT_PROVIDED"
        elif speaker is None or speaker.status == "PENDING":
            auth["Decision"] = "SPEAKER_NOT_ENROLLED"
        elif speaker.status == "OPTED_OUT":
            auth["Decision"] = "SPEAKER_OPTED_OUT"
        elif speaker.status == "EXPIRED":
            auth["Decision"] = "SPEAKER_EXPIRED"
        elif speech < AUTHENTICATION_SPEECH_S:
            auth["Decision"] = "NOT_ENOUGH_SPEECH"
        else:
            h = self._score("auth", session.session_id, speaker.customer_id)
            genuine = speaker.voice == session.voice
            score = 88 + h % 12 if genuine else 5 + h % 40
            auth["Decision"] = "ACCEPT" if score >= self.acceptance_threshold else "REJECT"
            auth["Score"] = score
            auth["GeneratedSpeakerId"] = speaker.generated_id
        fraud = self._fraud(domain, session, speech, started, ended)
        return {
            "DomainId": domain_id,
            "SessionId": session.session_id,
            "SessionName": session.name,
            "StreamingStatus": "ENDED" if session.ended_ms is not None else "ONGOING",
            "AuthenticationResult": auth,
            "FraudDetectionResult": fraud,
        }

    def _fraud(
        self, domain: _Domain, session: _Session, speech: float, started: float, ended: float
    ) -> FraudDetectionResult:
        watchlist = domain.default_watchlist
        result: FraudDetectionResult = {
            "FraudDetectionResultId": self._ids.token(32),
            "Configuration": {"RiskThreshold": self.risk_threshold, "WatchlistId": watchlist},
            "Reasons": [],
            "AudioAggregationStartedAt": started,
            "AudioAggregationEndedAt": ended,
            "Decision": "NOT_ENOUGH_SPEECH",
        }
        if speech < AUTHENTICATION_SPEECH_S:
            return result
        match = next(
            (fid for fid, (voice, lists) in domain.fraudsters.items() if voice == session.voice and watchlist in lists),
            None,
        )
        h = self._score("fraud", session.session_id)
        known = 85 + h % 15 if match else h % 20
        spoof = 70 + h % 30 if session.voice.startswith("synthetic:") else h % 10
        risks: tuple[tuple[FraudDetectionReason, int], ...] = (("KNOWN_FRAUDSTER", known), ("VOICE_SPOOFING", spoof))
        reasons = [reason for reason, score in risks if score >= self.risk_threshold]
        result["Decision"] = "HIGH_RISK" if reasons else "LOW_RISK"
        result["Reasons"] = reasons
        result["RiskDetails"] = {
            "KnownFraudsterRisk": {"RiskScore": known, "GeneratedFraudsterId": match},
            "VoiceSpoofingRisk": {"RiskScore": spoof},
        }
        return result

    # ------------------------------------------------------------------ fraudsters
    def create_watchlist(self, domain_id: str, name: str) -> WatchlistResponse:
        """Create a watchlist."""
        domain = self._domain(domain_id)
        wid = self._ids.token(22)
        domain.watchlists[wid] = name
        return {"Watchlist": {"DomainId": domain_id, "WatchlistId": wid, "Name": name, "DefaultWatchlist": False}}

    def register_fraudster(self, domain_id: str, session_name: str, watchlist_ids: list[str]) -> FraudsterResponse:
        """Register the voice heard in a session as a fraudster (default watchlist when none given)."""
        domain = self._domain(domain_id)
        session = self._session(domain, session_name)
        return self.register_voice(domain_id, session.voice, watchlist_ids)

    def register_voice(self, domain_id: str, voice: str, watchlist_ids: list[str]) -> FraudsterResponse:
        """Register a voice label as a fraudster (simulation set-up)."""
        domain = self._domain(domain_id)
        lists = set(watchlist_ids or [domain.default_watchlist])
        for wid in lists:
            if wid not in domain.watchlists:
                raise VoiceIdError("ResourceNotFoundException", f"watchlist {wid} not found")
        fid = self._ids.token(25)
        domain.fraudsters[fid] = (voice, lists)
        return {"Fraudster": {"DomainId": domain_id, "GeneratedFraudsterId": fid, "WatchlistIds": sorted(lists)}}

    def _fraudster_lists(self, domain_id: str, watchlist_id: str, fraudster_id: str) -> set[str]:
        domain = self._domain(domain_id)
        if watchlist_id not in domain.watchlists:
            raise VoiceIdError("ResourceNotFoundException", f"watchlist {watchlist_id} not found")
        if fraudster_id not in domain.fraudsters:
            raise VoiceIdError("ResourceNotFoundException", f"fraudster {fraudster_id} not found")
        return domain.fraudsters[fraudster_id][1]

    def associate_fraudster(self, domain_id: str, watchlist_id: str, fraudster_id: str) -> FraudsterResponse:
        """Put a fraudster on a watchlist."""
        lists = self._fraudster_lists(domain_id, watchlist_id, fraudster_id)
        lists.add(watchlist_id)
        return {
            "Fraudster": {"DomainId": domain_id, "GeneratedFraudsterId": fraudster_id, "WatchlistIds": sorted(lists)}
        }

    def disassociate_fraudster(self, domain_id: str, watchlist_id: str, fraudster_id: str) -> FraudsterResponse:
        """Take a fraudster off a watchlist (a fraudster must stay on at least one)."""
        lists = self._fraudster_lists(domain_id, watchlist_id, fraudster_id)
        if lists == {watchlist_id}:
            raise VoiceIdError("ValidationException", "a fraudster must belong to at least one watchlist")
        lists.discard(watchlist_id)
        return {
            "Fraudster": {"DomainId": domain_id, "GeneratedFraudsterId": fraudster_id, "WatchlistIds": sorted(lists)}
        }

    # ------------------------------------------------------------------ contact records
    def ctr_result(self, domain_id: str, session_name: str) -> JSON | None:
        """The contact record's ``VoiceIdResult`` for a session (``None`` without a session)."""
        try:
            ev = self.evaluate_session(domain_id, session_name)
        except VoiceIdError:
            return None
        auth, fraud = ev["AuthenticationResult"], ev["FraudDetectionResult"]
        auth_map = {
            "ACCEPT": "Authenticated",
            "REJECT": "Not Authenticated",
            "SPEAKER_NOT_ENROLLED": "Not Enrolled",
            "SPEAKER_OPTED_OUT": "Opted Out",
            "NOT_ENOUGH_SPEECH": "Inconclusive",
        }
        fraud_map = {"HIGH_RISK": "High Risk", "LOW_RISK": "Low Risk", "NOT_ENOUGH_SPEECH": "Inconclusive"}
        risk = fraud.get("RiskDetails", {})
        speaker = self._domains[domain_id].speakers.get(auth.get("CustomerSpeakerId") or "")
        return {
            "Authentication": {
                "ScoreThreshold": self.acceptance_threshold,
                "MinimumSpeechInSeconds": int(AUTHENTICATION_SPEECH_S),
                "Score": auth.get("Score"),
                "Result": auth_map.get(auth["Decision"], "Error"),
            },
            "FraudDetection": {
                "ScoreThreshold": self.risk_threshold,
                "Result": fraud_map.get(fraud["Decision"], "Error"),
                "Reasons": fraud["Reasons"],
                "RiskScoreKnownFraudster": risk.get("KnownFraudsterRisk", {}).get("RiskScore"),
                "RiskScoreVoiceSpoofing": risk.get("VoiceSpoofingRisk", {}).get("RiskScore"),
                "RiskScoreSyntheticSpeech": None,
                "GeneratedFraudsterID": risk.get("KnownFraudsterRisk", {}).get("GeneratedFraudsterId"),
                "WatchlistID": fraud["Configuration"]["WatchlistId"],
            },
            "GeneratedSpeakerId": speaker.generated_id if speaker else None,
            "SpeakerEnrolled": bool(speaker and speaker.status == "ENROLLED"),
            "SpeakerOptedOut": bool(speaker and speaker.status == "OPTED_OUT"),
        }
