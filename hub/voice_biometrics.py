"""Voice biometrics with Amazon Connect Voice ID's semantics: the provider interface and its result types.

AWS ended Amazon Connect Voice ID on 2026-05-20. Workflows built on it (authenticate the caller by
voice, enrol new callers, screen calls against a fraudster watch-list) keep running when the hub talks
to a :class:`VoiceBiometricsProvider` instead: an interface with Voice ID's semantics and the Voice ID
API's field names, which an adapter implements on another voice biometrics vendor. The simulator's
:class:`hub.simulator.SimulatedVoiceId` is a seeded, in-memory implementation.

The model, as in Voice ID:

* a **domain** holds everything else; it is created with a default **watch-list**;
* a **speaker** is a caller known by the customer's own id (``CustomerSpeakerId``) and a generated id
  (``GeneratedSpeakerId``, ``id#`` + 22 characters); its ``Status`` is ``ENROLLED``, ``OPTED_OUT``,
  ``PENDING`` or ``EXPIRED``. Speakers are **enrolled from a session** (the call's own audio, once enough
  net speech was collected), **opted out** (the voiceprint is dropped, and authentication answers
  ``SPEAKER_OPTED_OUT`` from then on) and **deleted**;
* a **session** is one call's audio stream, named after the contact's ``InitialContactId``; the caller
  may claim a speaker id (``update_session``); ``StreamingStatus`` is ``ONGOING`` until the call's audio
  ends, then ``ENDED``; ``restart_session`` starts a new evaluation window (Streams' ``startNew``);
* **evaluation** (``evaluate_session``) answers two questions at once: an
  :class:`AuthenticationResult` (is the voice the claimed speaker's? ``Decision`` ``ACCEPT`` or
  ``REJECT`` with a 0-100 ``Score`` against ``Configuration.AcceptanceThreshold``, or why no decision
  could be taken: ``NOT_ENOUGH_SPEECH``, ``SPEAKER_NOT_ENROLLED``, ``SPEAKER_OPTED_OUT``,
  ``SPEAKER_EXPIRED``, ``SPEAKER_ID_NOT_PROVIDED``) and a :class:`FraudDetectionResult` (is the voice a
  known fraudster on the watch-list, or synthetic? ``HIGH_RISK`` / ``LOW_RISK`` with per-risk scores
  against ``Configuration.RiskThreshold``, or ``NOT_ENOUGH_SPEECH``);
* **fraudsters** are voices registered from a session onto one or more watch-lists; a fraudster always
  stays on at least one watch-list.

Errors are :class:`VoiceIdError` carrying the Voice ID API error code (``ResourceNotFoundException``,
``ConflictException``, ``ValidationException`` ...), so callers handle them as they handled Voice ID's.
The hub reaches a provider through an agent session's action backend: the Agent App operations
``AgentAppService.VoiceId.<method>`` that :class:`hub.VoiceConnection` calls (``describeSession``,
``evaluateSession``, ``enrollBySession`` ...) map one to one onto the methods here.
"""

from __future__ import annotations

from typing import Literal, Protocol, TypedDict, runtime_checkable

__all__ = [
    "AuthenticationConfiguration",
    "AuthenticationDecision",
    "AuthenticationResult",
    "Domain",
    "DomainResponse",
    "EnrollmentResponse",
    "EnrollmentStatus",
    "EvaluationResponse",
    "FraudDetectionConfiguration",
    "FraudDetectionDecision",
    "FraudDetectionReason",
    "FraudDetectionResult",
    "FraudRiskDetails",
    "Fraudster",
    "FraudsterResponse",
    "KnownFraudsterRisk",
    "Session",
    "SessionDescription",
    "SessionDescriptionResponse",
    "SessionResponse",
    "Speaker",
    "SpeakerResponse",
    "SpeakerStatus",
    "StreamingStatus",
    "VoiceBiometricsProvider",
    "VoiceIdError",
    "VoiceSpoofingRisk",
    "Watchlist",
    "WatchlistDetails",
    "WatchlistResponse",
]

#: ``Speaker.Status``.
SpeakerStatus = Literal["ENROLLED", "OPTED_OUT", "PENDING", "EXPIRED"]
#: ``AuthenticationResult.Decision``.
AuthenticationDecision = Literal[
    "ACCEPT",
    "REJECT",
    "NOT_ENOUGH_SPEECH",
    "SPEAKER_NOT_ENROLLED",
    "SPEAKER_OPTED_OUT",
    "SPEAKER_ID_NOT_PROVIDED",
    "SPEAKER_EXPIRED",
]
#: ``FraudDetectionResult.Decision``.
FraudDetectionDecision = Literal["HIGH_RISK", "LOW_RISK", "NOT_ENOUGH_SPEECH"]
#: ``FraudDetectionResult.Reasons`` items: which risk reached the threshold.
FraudDetectionReason = Literal["KNOWN_FRAUDSTER", "VOICE_SPOOFING"]
#: A session's ``StreamingStatus``.
StreamingStatus = Literal["PENDING_CONFIGURATION", "ONGOING", "ENDED"]
#: The outcome of an enrolment from a session.
EnrollmentStatus = Literal["COMPLETED", "IN_PROGRESS", "NOT_ENOUGH_SPEECH"]


class VoiceIdError(Exception):
    """A failed Voice ID call; ``code`` is the API error (``ResourceNotFoundException``, ...)."""

    def __init__(self, code: str, message: str) -> None:
        """Create the error from the Voice ID error code and a human-readable message."""
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------------------------- domains
class WatchlistDetails(TypedDict):
    """A domain's watch-list settings."""

    DefaultWatchlistId: str


class Domain(TypedDict):
    """A Voice ID domain (``DomainStatus`` is ``ACTIVE`` once usable)."""

    DomainId: str
    Name: str
    DomainStatus: str
    WatchlistDetails: WatchlistDetails


class DomainResponse(TypedDict):
    """``CreateDomain`` / ``DescribeDomain``."""

    Domain: Domain


# ---------------------------------------------------------------------------------------------- speakers
class Speaker(TypedDict):
    """A speaker; times are epoch seconds."""

    DomainId: str
    CustomerSpeakerId: str
    GeneratedSpeakerId: str
    Status: SpeakerStatus
    CreatedAt: float
    UpdatedAt: float
    LastAccessedAt: float


class SpeakerResponse(TypedDict):
    """``DescribeSpeaker`` / ``OptOutSpeaker``."""

    Speaker: Speaker


# ---------------------------------------------------------------------------------------------- sessions
class Session(TypedDict):
    """A session as ``StartSession`` / ``UpdateSession`` return it."""

    SessionId: str
    SessionName: str
    DomainId: str


class SessionResponse(TypedDict):
    """``StartSession`` / ``UpdateSession``."""

    Session: Session


class SessionDescription(TypedDict):
    """A session with its claimed speaker (``None`` until one is set) and ``StreamingStatus``."""

    DomainId: str
    SessionId: str
    SessionName: str
    CustomerSpeakerId: str | None
    StreamingStatus: StreamingStatus


class SessionDescriptionResponse(TypedDict):
    """``DescribeSession``."""

    Session: SessionDescription


class EnrollmentResponse(TypedDict):
    """The outcome of enrolling a session's speaker."""

    Status: EnrollmentStatus


# ---------------------------------------------------------------------------------------------- evaluation
class AuthenticationConfiguration(TypedDict):
    """The threshold a ``Score`` must reach for ``ACCEPT``."""

    AcceptanceThreshold: int


class _AuthenticationResultBase(TypedDict):
    AuthenticationResultId: str
    CustomerSpeakerId: str | None
    GeneratedSpeakerId: str | None
    Configuration: AuthenticationConfiguration
    AudioAggregationStartedAt: float
    AudioAggregationEndedAt: float
    Decision: AuthenticationDecision


class AuthenticationResult(_AuthenticationResultBase, total=False):
    """Is the voice the claimed speaker's? ``Score`` (0-100) only with ``ACCEPT`` / ``REJECT``.

    ``AudioAggregationStartedAt`` / ``EndedAt`` (epoch seconds) bound the audio that was evaluated.
    """

    Score: int


class FraudDetectionConfiguration(TypedDict):
    """The risk threshold and the watch-list evaluated against."""

    RiskThreshold: int
    WatchlistId: str


class KnownFraudsterRisk(TypedDict):
    """How likely the voice is a fraudster on the watch-list, and which one."""

    RiskScore: int
    GeneratedFraudsterId: str | None


class VoiceSpoofingRisk(TypedDict):
    """How likely the voice is synthetic or replayed."""

    RiskScore: int


class FraudRiskDetails(TypedDict):
    """Per-risk scores (0-100)."""

    KnownFraudsterRisk: KnownFraudsterRisk
    VoiceSpoofingRisk: VoiceSpoofingRisk


class _FraudDetectionResultBase(TypedDict):
    FraudDetectionResultId: str
    Configuration: FraudDetectionConfiguration
    Reasons: list[FraudDetectionReason]
    AudioAggregationStartedAt: float
    AudioAggregationEndedAt: float
    Decision: FraudDetectionDecision


class FraudDetectionResult(_FraudDetectionResultBase, total=False):
    """Is the voice a risk? ``RiskDetails`` only with ``HIGH_RISK`` / ``LOW_RISK``."""

    RiskDetails: FraudRiskDetails


class EvaluationResponse(TypedDict):
    """``EvaluateSession``: both results for the session's audio so far."""

    DomainId: str
    SessionId: str
    SessionName: str
    StreamingStatus: StreamingStatus
    AuthenticationResult: AuthenticationResult
    FraudDetectionResult: FraudDetectionResult


# ---------------------------------------------------------------------------------------------- fraudsters
class Watchlist(TypedDict):
    """A watch-list of fraudsters."""

    DomainId: str
    WatchlistId: str
    Name: str
    DefaultWatchlist: bool


class WatchlistResponse(TypedDict):
    """``CreateWatchlist``."""

    Watchlist: Watchlist


class Fraudster(TypedDict):
    """A registered fraudster and the watch-lists it is on."""

    DomainId: str
    GeneratedFraudsterId: str
    WatchlistIds: list[str]


class FraudsterResponse(TypedDict):
    """``AssociateFraudster`` / ``DisassociateFraudster`` / registration."""

    Fraudster: Fraudster


# ---------------------------------------------------------------------------------------------- provider
@runtime_checkable
class VoiceBiometricsProvider(Protocol):
    """What the hub needs from a voice biometrics service, with Voice ID's semantics and field names.

    Every method raises :class:`VoiceIdError` with the Voice ID error code: ``ResourceNotFoundException``
    for an unknown domain, speaker, session, watch-list or fraudster; ``ConflictException`` for an
    operation the resource's state forbids (enrolling a session with no claimed speaker);
    ``ValidationException`` for a request Voice ID would refuse.
    """

    def create_domain(self, name: str) -> DomainResponse:
        """``CreateDomain``: a new domain with its default watch-list."""
        ...

    def describe_speaker(self, domain_id: str, speaker_id: str) -> SpeakerResponse:
        """``DescribeSpeaker`` by customer or generated speaker id."""
        ...

    def opt_out_speaker(self, domain_id: str, speaker_id: str) -> SpeakerResponse:
        """``OptOutSpeaker``: drop the voiceprint and refuse future enrolment; creates an opted-out
        speaker when the id is unknown (so a caller can opt out before ever being enrolled)."""
        ...

    def delete_speaker(self, domain_id: str, speaker_id: str) -> None:
        """``DeleteSpeaker``: forget the speaker and its voiceprint."""
        ...

    def start_session(self, domain_id: str, session_name: str, speaker_id: str | None) -> SessionResponse:
        """Start streaming a call's audio into a session named after the contact's ``InitialContactId``,
        optionally with the speaker id the caller claims."""
        ...

    def describe_session(self, domain_id: str, session_name: str) -> SessionDescriptionResponse:
        """The session, its claimed speaker (``CustomerSpeakerId``) and ``StreamingStatus``."""
        ...

    def restart_session(self, domain_id: str, session_name: str) -> SessionResponse:
        """Start collecting the call's audio afresh: a new evaluation window for the same call."""
        ...

    def update_session(self, domain_id: str, session_name: str, speaker_id: str) -> SessionResponse:
        """Set the speaker the caller claims to be (``UpdateSession``)."""
        ...

    def end_session(self, domain_id: str, session_name: str) -> None:
        """The call's audio stream ended (``StreamingStatus`` becomes ``ENDED``)."""
        ...

    def enroll_by_session(self, domain_id: str, session_name: str) -> EnrollmentResponse:
        """Enrol (or re-enrol) the session's claimed speaker from the session's audio.

        ``COMPLETED`` once enough net speech was collected, ``IN_PROGRESS`` while the call goes on with
        too little, ``NOT_ENOUGH_SPEECH`` when it ended with too little. A session without a claimed
        speaker raises ``ConflictException``.
        """
        ...

    def evaluate_session(self, domain_id: str, session_name: str) -> EvaluationResponse:
        """``EvaluateSession``: authentication and fraud-detection results for the audio so far."""
        ...

    def create_watchlist(self, domain_id: str, name: str) -> WatchlistResponse:
        """``CreateWatchlist``."""
        ...

    def register_fraudster(self, domain_id: str, session_name: str, watchlist_ids: list[str]) -> FraudsterResponse:
        """Register the voice heard in a session as a fraudster on watch-lists (the default one when
        ``watchlist_ids`` is empty)."""
        ...

    def associate_fraudster(self, domain_id: str, watchlist_id: str, fraudster_id: str) -> FraudsterResponse:
        """``AssociateFraudster``: put a fraudster on one more watch-list."""
        ...

    def disassociate_fraudster(self, domain_id: str, watchlist_id: str, fraudster_id: str) -> FraudsterResponse:
        """``DisassociateFraudster``: take a fraudster off a watch-list (never its last one:
        ``ValidationException``)."""
        ...
