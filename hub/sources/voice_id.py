"""Amazon Connect Voice ID results as they appear in contact records (``VoiceIdResult``).

Voice ID reached end of support on 2026-05-20; the shapes are kept so that older contact records and
simulated contact centers still parse. Source: ``shared/reference/aws-formats/voice-id.md`` and
``ctr.md`` (AG23 ``ctr-data-model.md``). Result strings are kept exactly as documented
(``Authenticated``, ``Not Authenticated``, ``High Risk`` ...), unknown values pass through.
"""

from __future__ import annotations

from typing import Any

import msgspec

from hub._structs import prepare_structs
from hub.sources._util import pascal

__all__ = [
    "AUTHENTICATION_DECISION_TO_STREAMS",
    "AUTHENTICATION_RESULTS",
    "FRAUD_DECISION_TO_STREAMS",
    "FRAUD_RESULTS",
    "VoiceIdAuthentication",
    "VoiceIdFraudDetection",
    "VoiceIdResult",
    "streams_authentication_decision",
    "streams_fraud_decision",
]

#: ``VoiceIdResult.Authentication.Result`` values documented for contact records.
AUTHENTICATION_RESULTS = (
    "Authenticated",
    "Not Authenticated",
    "Not Enrolled",
    "Opted Out",
    "Inconclusive",
    "Error",
)
#: ``VoiceIdResult.FraudDetection.Result`` values documented for contact records.
FRAUD_RESULTS = ("High Risk", "Low Risk", "Inconclusive", "Error")

#: Voice ID API ``AuthenticationResult.Decision`` → Streams ``ContactFlowAuthenticationDecision``
#: (as Streams' ``evaluateSpeaker`` maps it; ``NOT_ENOUGH_SPEECH`` only once streaming has ENDED).
AUTHENTICATION_DECISION_TO_STREAMS: dict[str, str] = {
    "ACCEPT": "Authenticated",
    "REJECT": "NotAuthenticated",
    "SPEAKER_OPTED_OUT": "OptedOut",
    "SPEAKER_NOT_ENROLLED": "NotEnrolled",
    "NOT_ENOUGH_SPEECH": "Inconclusive",
}
#: Voice ID API ``FraudDetectionResult.Decision`` → Streams ``ContactFlowFraudDetectionDecision``.
FRAUD_DECISION_TO_STREAMS: dict[str, str] = {
    "HIGH_RISK": "HighRisk",
    "LOW_RISK": "LowRisk",
    "NOT_ENOUGH_SPEECH": "Inconclusive",
}


def streams_authentication_decision(decision: str | None) -> str:
    """The Streams decision for an API decision: missing → ``NotEnabled``, unknown → ``Error``."""
    if decision is None:
        return "NotEnabled"
    return AUTHENTICATION_DECISION_TO_STREAMS.get(decision, "Error")


def streams_fraud_decision(decision: str | None) -> str:
    """The Streams fraud decision for an API decision: missing → ``NotEnabled``, unknown → ``Error``."""
    if decision is None:
        return "NotEnabled"
    return FRAUD_DECISION_TO_STREAMS.get(decision, "Error")


class _Pascal(msgspec.Struct, frozen=True, kw_only=True, rename=pascal):
    """Base: PascalCase wire names, unknown members ignored, every member optional."""


class VoiceIdAuthentication(_Pascal, frozen=True):
    """``VoiceIdResult.Authentication``: score 0-100 against a threshold, and the result."""

    score_threshold: int | float | None = None
    minimum_speech_in_seconds: int | float | None = None
    score: int | float | None = None
    result: str | None = None


class VoiceIdFraudDetection(_Pascal, frozen=True):
    """``VoiceIdResult.FraudDetection``: risk scores, the result and the watch-list used."""

    score_threshold: int | float | None = None
    result: str | None = None
    reasons: list[str] | str | None = None
    risk_score_known_fraudster: int | float | None = None
    risk_score_voice_spoofing: int | float | None = None
    risk_score_synthetic_speech: int | float | None = None
    generated_fraudster_id: str | None = msgspec.field(default=None, name="GeneratedFraudsterID")
    watchlist_id: str | None = msgspec.field(default=None, name="WatchlistID")


class VoiceIdResult(_Pascal, frozen=True):
    """``VoiceIdResult`` of a contact record."""

    authentication: VoiceIdAuthentication | None = None
    fraud_detection: VoiceIdFraudDetection | None = None
    generated_speaker_id: str | None = None
    speaker_enrolled: bool | None = None
    speaker_opted_out: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result with its documented PascalCase names, absent members left out (JSON-ready)."""
        data: dict[str, Any] = msgspec.to_builtins(self)
        return _drop_none(data)


def _drop_none(value: dict[str, Any]) -> dict[str, Any]:
    return {k: _drop_none(v) if isinstance(v, dict) else v for k, v in value.items() if v is not None}


prepare_structs(globals())
