"""The CTI action backend: each operation's effect on the next snapshots, and its error codes."""

from __future__ import annotations

from typing import Any

import pytest

from hub.simulator import OPERATIONS, CollectingSink, CTIError, SimulatedBackend, Simulation, SimulationConfig

Json = dict[str, Any]


class Center:
    """One manual agent, no random arrivals: the test decides everything."""

    def __init__(self, **overrides: Any) -> None:
        settings: dict[str, Any] = {
            "agents": 1,
            "manual_agents": ("agent01",),
            "arrival_rates": {},
            "outbound_rate_per_agent": 0.0,
            "break_rate": 0.0,
            "p_connect_error": 0.0,
            "p_outbound_no_answer": 0.0,
            "login_spread": 0.0,
            # customers of manual agents still hang up by themselves: make conversations very long
            "handle_time": {"VOICE": 1e9, "CHAT": 1e9, "TASK": 1e9},
        }
        settings.update(overrides)
        self.sink = CollectingSink()
        self.sim = Simulation(SimulationConfig(**settings), 1, self.sink)
        self.api: SimulatedBackend = self.sim.backend("agent01")
        self.agent_id = self.api.agent_id
        self.queue = self.sim.config.queues[0]
        self.sim.advance(1)

    def snap(self) -> Json:
        snapshots = self.sink.snapshots_of(self.agent_id)
        assert snapshots, "no agent data emitted yet"
        return snapshots[-1]

    def state(self) -> tuple[str, str]:
        state = self.snap()["state"]
        return state["name"], state["type"]

    def contact(self, contact_id: str | None = None) -> Json:
        contacts = self.snap()["contacts"]
        if contact_id is None:
            assert len(contacts) == 1, contacts
            only: Json = contacts[0]
            return only
        found: Json = next(c for c in contacts if c["contactId"] == contact_id)
        return found

    def conn(self, contact: Json, kind: str) -> Json:
        return next(c for c in contact["connections"] if c["type"] == kind)

    def ring_voice(self) -> str:
        contact = self.sim.center.arrive_voice(self.queue, "+15555550123", {"customerId": "C-00001"}, 0)
        self.sim.advance(0.5)
        return contact.contact_id

    def connect_voice(self) -> str:
        cid = self.ring_voice()
        self.api.acceptContact({"contactId": cid})
        self.sim.advance(2)
        return cid


@pytest.fixture
def center() -> Center:
    return Center()


def test_login_shows_available_and_put_agent_state_changes_it(center: Center) -> None:
    assert center.state() == ("Available", "routable")
    lunch_arn = center.sim.config.arn("agent-state/st-lunch")
    assert (
        center.api.putAgentState({"state": {"agentStateARN": lunch_arn, "type": "not_routable", "name": "Lunch"}}) == {}
    )
    assert center.state() == ("Lunch", "not_routable")
    assert center.snap()["state"]["agentStateARN"] == lunch_arn
    assert center.sink.agent_events[-1]["CurrentAgentSnapshot"]["AgentStatus"]["Name"] == "Lunch"


def test_unknown_state_is_invalid_state_exception(center: Center) -> None:
    with pytest.raises(CTIError) as err:
        center.api.putAgentState({"state": {"name": "Nap", "type": "not_routable"}})
    assert err.value.code == "InvalidStateException"
    assert err.value.to_wire() == {"type": "InvalidStateException", "message": err.value.message, "statusCode": 400}


def test_accept_hold_resume_digits_hangup_clear(center: Center) -> None:
    cid = center.ring_voice()
    assert center.state() == ("PendingBusy", "system")
    assert center.contact()["state"]["type"] == "connecting"
    center.api.acceptContact({"contactId": cid})
    center.sim.advance(2)
    assert center.state() == ("Busy", "system")
    contact = center.contact()
    customer = center.conn(contact, "inbound")["connectionId"]
    center.api.holdConnection({"contactId": cid, "connectionId": customer})
    assert center.conn(center.contact(), "inbound")["state"]["type"] == "hold"
    aes_contact = center.sink.agent_events[-1]["CurrentAgentSnapshot"]["Contacts"][0]
    assert aes_contact["State"] == "CONNECTED_ONHOLD"
    center.sim.advance(30)
    center.api.resumeConnection({"contactId": cid, "connectionId": customer})
    assert center.conn(center.contact(), "inbound")["state"]["type"] == "connected"
    assert center.api.sendDigits({"contactId": cid, "connectionId": customer, "digits": "1234#"}) == {}
    agent_conn = center.conn(center.contact(), "agent")["connectionId"]
    center.api.destroyConnection({"contactId": cid, "connectionId": agent_conn})
    assert center.state() == ("AfterCallWork", "system")
    assert center.contact()["state"]["type"] == "ended"
    assert not center.sink.contact_records
    center.sim.advance(10)
    center.api.clearContact({"contactId": cid})
    assert center.state() == ("Available", "routable")
    assert center.snap()["contacts"] == []
    (ctr,) = center.sink.contact_records
    assert ctr["ContactId"] == cid
    assert ctr["DisconnectReason"] == "AGENT_DISCONNECT"
    assert ctr["Agent"]["NumberOfHolds"] == 1 and ctr["Agent"]["CustomerHoldDuration"] == 30
    assert ctr["Agent"]["AfterContactWorkDuration"] == 10


def test_operations_in_the_wrong_state_fail_with_cti_codes(center: Center) -> None:
    with pytest.raises(CTIError, match="InvalidStateException"):
        center.api.acceptContact({"contactId": "no-such-contact"})
    cid = center.connect_voice()
    agent_conn = center.conn(center.contact(), "agent")["connectionId"]
    with pytest.raises(CTIError, match="InvalidStateException"):
        center.api.holdConnection({"contactId": cid, "connectionId": agent_conn})
    with pytest.raises(CTIError, match="InvalidStateException"):
        center.api.clearContact({"contactId": cid})
    with pytest.raises(CTIError, match="InvalidStateException"):
        center.api.acceptContact({"contactId": cid})
    with pytest.raises(CTIError, match="InvalidStateException"):
        center.api.createOutboundContact({"endpoint": {"type": "phone_number", "phoneNumber": "+15555550111"}})
    with pytest.raises(CTIError, match="BadEndpointException"):
        center.api.createAdditionalConnection(
            {"contactId": cid, "endpoint": {"type": "phone_number", "phoneNumber": "12"}}
        )
    with pytest.raises(CTIError, match="InvalidParameterException"):
        center.api.holdConnection({"contactId": cid})
    with pytest.raises(CTIError, match="No such method"):
        center.api.call("transferContact", {"contactId": cid})


def test_call_dispatches_every_listed_operation_name(center: Center) -> None:
    for name in OPERATIONS:
        assert callable(getattr(center.api, name)), name
    assert center.api.call("getAgentSnapshot", {})["snapshot"]["state"]["name"] == "Available"


def test_third_party_toggle_conference_and_drop(center: Center) -> None:
    cid = center.connect_voice()
    center.api.createAdditionalConnection(
        {"contactId": cid, "endpoint": {"type": "phone_number", "phoneNumber": "+15555550177"}}
    )
    contact = center.contact()
    assert center.conn(contact, "inbound")["state"]["type"] == "hold"
    assert center.conn(contact, "outbound")["state"]["type"] == "connecting"
    center.sim.advance(10)
    third = center.conn(center.contact(), "outbound")
    assert third["state"]["type"] == "connected"
    center.api.toggleActiveConnections({"contactId": cid, "connectionId": third["connectionId"]})
    contact = center.contact()
    assert (center.conn(contact, "inbound")["state"]["type"], center.conn(contact, "outbound")["state"]["type"]) == (
        "connected",
        "hold",
    )
    center.api.conferenceConnections({"contactId": cid})
    contact = center.contact()
    assert {c["state"]["type"] for c in contact["connections"]} == {"connected"}
    center.api.destroyConnection({"contactId": cid, "connectionId": third["connectionId"]})
    assert [c["type"] for c in center.contact()["connections"]] == ["agent", "inbound"]
    assert center.state() == ("Busy", "system")


def test_transfer_to_queue_ends_the_agent_leg_and_queues_a_new_contact(center: Center) -> None:
    cid = center.connect_voice()
    target = center.sim.config.queues[1]
    endpoint = {"type": "queue", "endpointARN": center.sim.config.arn(f"queue/{target.queue_id}"), "name": target.name}
    center.api.createAdditionalConnection({"contactId": cid, "endpoint": endpoint})
    center.sim.advance(10)
    agent_conn = center.conn(center.contact(), "agent")["connectionId"]
    center.api.destroyConnection({"contactId": cid, "connectionId": agent_conn})
    assert center.state() == ("AfterCallWork", "system")
    (queued,) = center.sim.center.queued_contacts()
    assert queued.previous_contact_id == cid and queued.initiation_method == "transfer" and queued.queue == target
    assert center.sim.center.contacts[cid].next_contact_id == queued.contact_id


def test_missed_call_puts_agent_in_missed_call_agent_until_it_sets_a_state(center: Center) -> None:
    cid = center.ring_voice()
    center.sim.advance(center.sim.config.ring_timeout + 1)
    assert center.state() == ("MissedCallAgent", "error")
    assert center.contact()["state"]["type"] == "missed"
    center.sim.advance(center.sim.config.missed_linger)
    assert center.snap()["contacts"] == []
    assert center.state() == ("MissedCallAgent", "error")  # the error state stays until the agent acts
    center.api.putAgentState({"state": {"name": "Available", "type": "routable"}})
    center.sim.advance(0.5)
    assert center.state() == ("PendingBusy", "system")  # the same contact is offered again
    assert center.contact()["contactId"] == cid
    assert center.sim.center.contacts[cid].agent_attempts == 2


def test_rejected_chat_keeps_the_agent_state(center: Center) -> None:
    chat = center.sim.center.arrive_chat(center.queue, "Customer 1", {})
    center.sim.advance(0.5)
    center.api.rejectContact({"contactId": chat.contact_id})
    assert center.contact()["state"]["type"] == "rejected"
    assert center.state() == ("Available", "routable")


def test_enqueued_next_state_applies_after_the_last_contact(center: Center) -> None:
    cid = center.connect_voice()
    center.api.putAgentState({"state": {"name": "Lunch", "type": "not_routable"}, "enqueueNextState": True})
    assert center.snap()["nextState"]["name"] == "Lunch"
    assert center.state() == ("Busy", "system")
    center.sim.center.customer_hangup(center.sim.center.contacts[cid])
    center.sim.center.flush()
    center.api.clearContact({"contactId": cid})
    assert center.state() == ("Lunch", "not_routable")
    assert "nextState" not in center.snap()


def test_task_pause_resume_complete(center: Center) -> None:
    task = center.sim.center.arrive_task(
        center.queue, "Refund", "Refund order 42", {"Ticket": {"type": "URL", "value": "u"}}
    )
    center.sim.advance(0.5)
    cid = task.contact_id
    center.api.acceptContact({"contactId": cid})
    center.sim.advance(2)
    assert center.contact()["state"]["type"] == "connected"
    center.api.pauseContact({"contactId": cid})
    assert center.contact()["state"]["type"] == "paused"
    center.api.resumeContact({"contactId": cid})
    assert center.contact()["state"]["type"] == "connected"
    center.api.completeContact({"contactId": cid})
    assert center.snap()["contacts"] == []
    (ctr,) = center.sink.contact_records
    assert ctr["Channel"] == "TASK" and ctr["References"] == [{"Name": "Ticket", "Type": "URL", "Value": "u"}]


def test_queue_callback_goes_incoming_pending_calling_customer_busy(center: Center) -> None:
    callback = center.sim.center.arrive_callback(center.queue, "+15555550188", {})
    center.sim.advance(0.5)
    assert center.contact()["state"]["type"] == "incoming"
    assert center.state() == ("Pending", "not_routable")
    center.api.acceptContact({"contactId": callback.contact_id})
    assert center.contact()["state"]["type"] == "pending"
    center.sim.advance(2.5)
    assert center.state() == ("CallingCustomer", "system")
    assert center.conn(center.contact(), "inbound")["state"]["type"] == "connecting"
    center.sim.advance(15)
    assert center.state() == ("Busy", "system")


@pytest.mark.parametrize(
    ("no_answer", "expected"), [(0.0, ("Busy", "system")), (1.0, ("FailedConnectCustomer", "error"))]
)
def test_outbound_call(no_answer: float, expected: tuple[str, str]) -> None:
    center = Center(p_outbound_no_answer=no_answer)
    center.api.createOutboundContact({"endpoint": {"type": "phone_number", "phoneNumber": "+15555550142"}})
    assert center.state() == ("CallingCustomer", "system")
    contact = center.contact()
    assert contact["initiationMethod"] == "outbound" and center.conn(contact, "outbound")["initial"] is True
    center.sim.advance(20)
    assert center.state() == expected
    if no_answer:  # the failed call completes (record, COMPLETED) once it leaves the agent's snapshot
        center.sim.advance(center.sim.config.missed_linger)
        assert center.snap()["contacts"] == []
        (ctr,) = center.sink.contact_records
        assert ctr["InitiationMethod"] == "OUTBOUND" and ctr["Agent"] is None and ctr["DisconnectReason"] == "OTHER"
        assert [e["detail"]["eventType"] for e in center.sink.contact_events] == [
            "INITIATED",
            "DISCONNECTED",
            "COMPLETED",
        ]
