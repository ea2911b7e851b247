"""The CTI action backend of the simulator: answers agent actions as Amazon Connect would.

One :class:`SimulatedBackend` acts for one agent (what the ``authentication`` of a real request
identifies). Each method is named exactly like the CTI operation (``putAgentState``,
``acceptContact``, ...), takes the request body the Streams library sends, returns the operation's
output (``{}`` for all state-changing operations) or raises :class:`CTIError`, and the effect shows
up in the agent data emitted right after the call. :meth:`SimulatedBackend.call` dispatches by name,
including the Agent App Voice ID operations (``AgentAppService.VoiceId.evaluateSession`` ...), and
:meth:`SimulatedBackend.invoke` makes it an ``hub.ActionBackend`` (failures become ``hub.ActionError``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from hub.simulator.errors import CTIError
from hub.simulator.model import Agent
from hub.simulator.voice_id_backend import VOICE_ID_OPERATIONS, voice_id_call
from hub.voice_biometrics import VoiceIdError

if TYPE_CHECKING:
    from hub._actions import BackendRequest
    from hub.simulator.runner import Simulation

__all__ = ["OPERATIONS", "SimulatedBackend"]

JSON = dict[str, Any]

#: CTI operations the simulated backend implements
OPERATIONS = (
    "putAgentState",
    "acceptContact",
    "rejectContact",
    "clearContact",
    "completeContact",
    "holdConnection",
    "resumeConnection",
    "destroyConnection",
    "createAdditionalConnection",
    "conferenceConnections",
    "toggleActiveConnections",
    "sendDigits",
    "createOutboundContact",
    "pauseContact",
    "resumeContact",
    "muteParticipant",
    "unmuteParticipant",
    "notifyContactIssue",
    "getAgentSnapshot",
    "getAgentConfiguration",
    "getAgentStates",
    "getEndpoints",
)


def _str(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise CTIError("InvalidParameterException", f"missing or invalid {key!r}")
    return value


def _obj(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    if not isinstance(value, Mapping):
        raise CTIError("InvalidParameterException", f"missing or invalid {key!r}")
    return value


class SimulatedBackend:
    """CTI operations for one simulated agent."""

    def __init__(self, simulation: Simulation, agent_id: str) -> None:
        """Act as ``agent_id`` in ``simulation``."""
        self.simulation = simulation
        self.agent_id = agent_id

    def invoke(self, request: BackendRequest) -> JSON:
        """``hub.ActionBackend``: run ``request`` as this agent; failures raise ``hub.ActionError``."""
        from hub._errors import ActionError  # noqa: PLC0415 - keeps hub.simulator importable on its own

        try:
            return self.call(request.operation, request.params)
        except CTIError as err:
            raise ActionError(err.code, err.message, status_code=err.status_code) from err
        except VoiceIdError as err:
            status = 404 if err.code == "ResourceNotFoundException" else 400
            raise ActionError(err.code, err.message, status_code=status) from err

    def call(self, operation: str, params: Mapping[str, Any]) -> JSON:
        """Run ``operation`` (a CTI operation name, e.g. ``holdConnection``) with its request body."""
        if operation in VOICE_ID_OPERATIONS:
            return voice_id_call(self.simulation, self.agent_id, operation, params)
        if operation not in OPERATIONS:
            raise CTIError("UnknownOperationException", f"No such method exists on AWS client: {operation}")
        method: Callable[[Mapping[str, Any]], JSON] = getattr(self, operation)
        return method(params)

    def _do(self, action: Callable[[], object]) -> JSON:
        sim = self.simulation
        with sim.lock:
            action()
            sim.center.flush()
        return {}

    @property
    def _agent(self) -> Agent:
        return self.simulation.center.agents[self.agent_id]

    # ------------------------------------------------------------------ agent
    def putAgentState(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{state: {agentStateARN?, type, name}, enqueueNextState?}``: change (or enqueue) the status."""
        state = _obj(body, "state")
        cc = self.simulation.center
        key = state.get("agentStateARN") or state.get("name")
        if not isinstance(key, str):
            raise CTIError.invalid_state("state needs a name or an agentStateARN")
        spec = cc.state_spec(key)
        return self._do(lambda: cc.set_state(self._agent, spec, bool(body.get("enqueueNextState", False))))

    def createOutboundContact(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{endpoint, queueARN?, relatedContactId?}``: dial a customer."""
        endpoint = _obj(body, "endpoint")
        queue = body.get("queueARN")
        cc = self.simulation.center

        def dial() -> None:
            contact = cc.create_outbound(self._agent, endpoint, queue if isinstance(queue, str) else None)
            related = body.get("relatedContactId")
            if isinstance(related, str):
                contact.related_contact_id = related

        return self._do(dial)

    # ------------------------------------------------------------------ contact
    def acceptContact(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId}``."""
        cid = _str(body, "contactId")
        return self._do(lambda: self.simulation.center.accept(self._agent, cid))

    def rejectContact(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId}``."""
        cid = _str(body, "contactId")
        return self._do(lambda: self.simulation.center.reject(self._agent, cid))

    def clearContact(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId}``: end after-contact work."""
        cid = _str(body, "contactId")
        return self._do(lambda: self.simulation.center.clear(self._agent, cid))

    def completeContact(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId}``."""
        cid = _str(body, "contactId")
        return self._do(lambda: self.simulation.center.complete(self._agent, cid))

    def pauseContact(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId}`` (tasks)."""
        cid = _str(body, "contactId")
        return self._do(lambda: self.simulation.center.pause(self._agent, cid))

    def resumeContact(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId}`` (tasks)."""
        cid = _str(body, "contactId")
        return self._do(lambda: self.simulation.center.resume_contact(self._agent, cid))

    def conferenceConnections(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId}``."""
        cid = _str(body, "contactId")
        return self._do(lambda: self.simulation.center.conference(self._agent, cid))

    def createAdditionalConnection(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId, endpoint}``: add a third party (phone number or queue quick connect)."""
        cid = _str(body, "contactId")
        endpoint = _obj(body, "endpoint")
        return self._do(lambda: self.simulation.center.add_connection(self._agent, cid, endpoint))

    def notifyContactIssue(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId, issueCode, description}``: accepted and ignored."""
        cid = _str(body, "contactId")
        self.simulation.center.leg(self._agent, cid)
        return {}

    # ------------------------------------------------------------------ connection
    def toggleActiveConnections(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId, connectionId}``."""
        cid, conn = _str(body, "contactId"), _str(body, "connectionId")
        return self._do(lambda: self.simulation.center.toggle(self._agent, cid, conn))

    def holdConnection(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId, connectionId}``."""
        cid, conn = _str(body, "contactId"), _str(body, "connectionId")
        return self._do(lambda: self.simulation.center.hold(self._agent, cid, conn))

    def resumeConnection(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId, connectionId}``."""
        cid, conn = _str(body, "contactId"), _str(body, "connectionId")
        return self._do(lambda: self.simulation.center.resume(self._agent, cid, conn))

    def destroyConnection(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId, connectionId}``: hang up a participant (the agent's own: leave the call)."""
        cid, conn = _str(body, "contactId"), _str(body, "connectionId")
        return self._do(lambda: self.simulation.center.destroy_connection(self._agent, cid, conn))

    def sendDigits(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId, connectionId, digits}``."""
        cid, conn, digits = _str(body, "contactId"), _str(body, "connectionId"), _str(body, "digits")
        return self._do(lambda: self.simulation.center.send_digits(self._agent, cid, conn, digits))

    def muteParticipant(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId, connectionId}``: validated; mute is not modelled in the snapshot."""
        cid, conn = _str(body, "contactId"), _str(body, "connectionId")
        leg = self.simulation.center._connected_leg(self._agent, cid)
        self.simulation.center._party(leg, conn)
        return {}

    def unmuteParticipant(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{contactId, connectionId}``: validated; mute is not modelled in the snapshot."""
        return self.muteParticipant(body)

    # ------------------------------------------------------------------ reads
    def getAgentSnapshot(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{nextToken?, timeout?}``: the current snapshot (answers at once, no long poll)."""
        sim = self.simulation
        with sim.lock:
            data = sim.center.emitter.current_data(self._agent, sim.center.now)
        return {"snapshot": data["snapshot"], "nextToken": f"sim-{sim.center.now}"}

    def getAgentConfiguration(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """The agent configuration (``GetAgentConfiguration`` fields only)."""
        full = self.simulation.center.emitter.configuration(self.agent_id)
        routing = {k: v for k, v in full["routingProfile"].items() if k != "queues"}
        keep = (
            "name",
            "username",
            "softphoneEnabled",
            "softphoneAutoAccept",
            "extension",
            "agentPreferences",
            "agentARN",
        )
        return {"configuration": {**{k: full[k] for k in keep}, "routingProfile": routing}}

    def getAgentStates(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """The configured agent statuses."""
        return {"states": list(self.simulation.center.emitter.configuration(self.agent_id)["agentStates"])}

    def getEndpoints(self, body: Mapping[str, Any]) -> JSON:  # noqa: N802
        """``{queueARNs, ...}``: quick connects: every queue of the instance."""
        cfg = self.simulation.config
        endpoints = [
            {"endpointARN": cfg.arn(f"queue/{q.queue_id}"), "type": "queue", "name": q.name} for q in cfg.queues
        ]
        return {"endpoints": endpoints}
