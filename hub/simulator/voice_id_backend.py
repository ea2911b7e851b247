"""The Agent App Voice ID operations (``AgentAppService.VoiceId.*``) answered by the simulation's
voice biometrics provider, the way the hub's voice connections call them: every request carries
``SessionNameOrId`` (the contact's ``InitialContactId``) and ``ContactId``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hub.simulator.errors import CTIError
from hub.voice_biometrics import VoiceIdError

if TYPE_CHECKING:
    from hub.simulator.runner import Simulation

__all__ = ["VOICE_ID_OPERATIONS", "voice_id_call"]

JSON = dict[str, Any]
_PREFIX = "AgentAppService.VoiceId."
VOICE_ID_OPERATIONS = tuple(
    _PREFIX + name
    for name in (
        "describeSession",
        "describeSpeaker",
        "evaluateSession",
        "enrollBySession",
        "updateSession",
        "optOutSpeaker",
        "deleteSpeaker",
    )
)


def _json(response: Mapping[str, Any]) -> JSON:
    return dict(response)


def _speaker(sim: Simulation, session: str) -> str:
    speaker = sim.voice_id.describe_session(sim.voice_id_domain, session)["Session"]["CustomerSpeakerId"]
    if not isinstance(speaker, str):
        raise VoiceIdError("ConflictException", "SPEAKER_NOT_SET")
    return speaker


def voice_id_call(sim: Simulation, agent_id: str, operation: str, params: Mapping[str, Any]) -> JSON:
    """Run one ``AgentAppService.VoiceId.<method>`` operation for ``agent_id``.

    Raises :class:`VoiceIdError` with the Voice ID error code (``ResourceNotFoundException`` when the
    contact has no Voice ID session, e.g. a chat) or :class:`CTIError` for a bad request.
    """
    if operation not in VOICE_ID_OPERATIONS:
        raise CTIError("UnknownOperationException", f"No such method exists on the Agent App client: {operation}")
    session = params.get("SessionNameOrId")
    if not isinstance(session, str) or not session:
        raise CTIError("InvalidParameterException", "missing or invalid 'SessionNameOrId'")
    contact_id = params.get("ContactId")
    if isinstance(contact_id, str):
        sim.center.leg(sim.center.agents[agent_id], contact_id)  # the agent must have the contact
    vid, domain = sim.voice_id, sim.voice_id_domain
    method = operation.removeprefix(_PREFIX)
    with sim.lock:
        if method == "describeSession":
            return _json(vid.describe_session(domain, session))
        if method == "describeSpeaker":
            return _json(vid.describe_speaker(domain, _speaker(sim, session)))
        if method == "evaluateSession":
            if params.get("StartNew"):
                vid.restart_session(domain, session)
            return _json(vid.evaluate_session(domain, session))
        if method == "enrollBySession":
            return _json(vid.enroll_by_session(domain, session))
        if method == "updateSession":
            speaker_id = params.get("SpeakerId")
            if not isinstance(speaker_id, str) or not speaker_id:
                raise CTIError("InvalidParameterException", "missing or invalid 'SpeakerId'")
            return _json(vid.update_session(domain, session, speaker_id))
        if method == "optOutSpeaker":
            return _json(vid.opt_out_speaker(domain, _speaker(sim, session)))
        vid.delete_speaker(domain, _speaker(sim, session))
        return {}
