"""The Streams object model: every getter, predicate, subscription and action of Agent, Contact, Connection."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest

import hub
from hub import (
    ActionError,
    AgentSession,
    ChatConnection,
    ContactSnapshot,
    Endpoint,
    InvalidArgumentError,
    ScriptedBackend,
    ScriptedResponse,
    StateError,
    TaskConnection,
    VoiceConnection,
)

SCENARIOS = Path(__file__).resolve().parents[1] / "fixtures" / "scenarios"
NOW = 1740819650.0  # 2025-03-01T09:00:50Z


def _scenario(name: str) -> dict[str, Any]:
    return json.loads((SCENARIOS / f"{name}.json").read_text())


@pytest.fixture
def conference() -> dict[str, Any]:
    """api_operations step 0: a voice call with the customer on hold and a third party, plus a ringing chat."""
    return _scenario("api_operations")


@pytest.fixture
def session(conference: dict[str, Any]) -> AgentSession:
    s = AgentSession("agent-1", clock=lambda: NOW)
    s.apply_configuration(conference["configuration"])
    s.apply_snapshot(conference["steps"][0]["snapshot"], received_at=NOW - 20)
    return s


def run(coro: Any) -> Any:
    return asyncio.run(coro)


# ---------------------------------------------------------------------- agent getters
def test_agent_state_getters(session: AgentSession) -> None:
    agent = session.agent
    assert agent.get_state().name == "Busy"
    assert agent.get_status() == agent.get_state()
    assert agent.get_state().type == hub.AgentStateType.SYSTEM
    assert agent.get_next_state() is None
    assert agent.get_availability_state() is not None
    assert agent.get_availability_state().state == "Available"  # type: ignore[union-attr]
    assert not agent.is_error()


def test_state_duration_corrects_clock_skew(session: AgentSession) -> None:
    # snapshotTimestamp 09:00:31, received at NOW-20 (09:00:30) → skew +1000 ms; state started 09:00:12.
    assert session.skew_ms() == pytest.approx(1000.0)
    assert session.agent.get_state_duration() == pytest.approx((NOW - 1740819612.0) * 1000 + 1000)
    assert session.agent.get_status_duration() == session.agent.get_state_duration()


def test_agent_configuration_getters(session: AgentSession, conference: dict[str, Any]) -> None:
    agent = session.agent
    cfg = conference["configuration"]
    assert agent.get_name() == cfg["name"]
    assert agent.get_extension() == cfg["extension"]
    assert agent.get_agent_arn() == cfg["agentARN"]
    assert agent.is_softphone_enabled() is cfg["softphoneEnabled"]
    assert list(agent.get_permissions()) == cfg["permissions"]
    assert list(agent.get_dialable_countries()) == cfg["dialableCountries"]
    assert [s.name for s in agent.get_agent_states()] == [s["name"] for s in cfg["agentStates"]]
    assert agent.get_routing_profile().name == cfg["routingProfile"]["name"]
    assert agent.get_routing_profile().routing_profile_id == cfg["routingProfile"]["routingProfileARN"]
    assert agent.get_all_queue_arns() == [q["queueARN"] for q in cfg["routingProfile"]["queues"]]
    assert agent.get_channel_concurrency() == {"VOICE": 1, "CHAT": 2, "TASK": 3}
    assert agent.get_channel_concurrency("CHAT") == 2
    assert agent.get_channel_concurrency("EMAIL") == 0
    assert agent.get_instance_id() == "11111111-2222-3333-4444-555555555555"
    assert agent.get_aws_account_id() == "123456789012"
    assert agent.get_resource_id() == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    assert agent.get_configuration().username == cfg["username"]


def test_channel_concurrency_defaults_without_a_map(conference: dict[str, Any]) -> None:
    cfg = copy.deepcopy(conference["configuration"])
    del cfg["routingProfile"]["channelConcurrencyMap"]
    s = AgentSession("a")
    s.apply_configuration(cfg)
    s.apply_snapshot(conference["steps"][0]["snapshot"])
    assert s.agent.get_channel_concurrency() == {"VOICE": 1, "CHAT": 1}
    assert s.agent.get_channel_concurrency("TASK") == 0


def test_contacts_filtered_by_type(session: AgentSession) -> None:
    agent = session.agent
    assert [c.contact_id for c in agent.get_contacts()] == ["c-api-voice", "c-api-ring"]
    assert [c.contact_id for c in agent.get_contacts(hub.ContactType.CHAT)] == ["c-api-ring"]
    assert agent.get_contacts(hub.ContactType.TASK) == []


def test_agent_snapshot_is_frozen(session: AgentSession, conference: dict[str, Any]) -> None:
    frozen = session.agent.to_snapshot()
    later = copy.deepcopy(conference["steps"][0]["snapshot"])
    later["state"]["name"] = "AfterCallWork"
    later["contacts"] = []
    session.apply_snapshot(later)
    assert session.agent.get_state().name == "AfterCallWork"
    assert frozen.get_state().name == "Busy"
    contacts = frozen.get_contacts()
    assert all(isinstance(c, ContactSnapshot) for c in contacts)
    assert contacts[0].get_state().type == "connected"


# ---------------------------------------------------------------------- contact getters
def test_contact_getters(session: AgentSession) -> None:
    voice = session.contact("c-api-voice")
    assert voice.get_contact_id() == "c-api-voice"
    assert voice.get_original_contact_id() == voice.get_initial_contact_id() == "c-api-voice"
    assert voice.get_type() == hub.ContactType.VOICE
    assert voice.get_state().type == hub.ContactStateType.CONNECTED
    assert voice.get_status() == voice.get_state()
    assert voice.get_queue() is not None
    assert voice.get_queue().name == "BasicQueue"  # type: ignore[union-attr]
    assert voice.get_queue().queue_id == voice.get_queue().queue_arn  # type: ignore[union-attr]
    assert voice.get_queue_timestamp() is not None
    assert voice.get_contact_duration() == "0"
    assert voice.get_initiation_method() == "inbound"
    assert voice.get_attributes() == {}
    assert voice.is_connected() and voice.is_inbound() and voice.is_softphone_call()
    assert voice.get_state_duration() == pytest.approx((NOW - 1740819612.0) * 1000 + 1000)
    assert voice.exists()
    chat = session.contact("c-api-ring")
    assert not chat.is_connected() and not chat.is_softphone_call()


def test_connections_by_role(session: AgentSession) -> None:
    voice = session.contact("c-api-voice")
    conns = voice.get_connections()
    assert [type(c) for c in conns] == [VoiceConnection] * 3
    assert voice.get_agent_connection().connection_id == "conn-agent-v"  # type: ignore[union-attr]
    assert voice.get_initial_connection().connection_id == "conn-cust-v"  # type: ignore[union-attr]
    # The customer is on hold: hold is an active state.
    assert voice.get_active_initial_connection().connection_id == "conn-cust-v"  # type: ignore[union-attr]
    assert [c.connection_id for c in voice.get_third_party_connections()] == ["conn-third-v"]
    assert voice.get_single_active_third_party_connection().connection_id == "conn-third-v"  # type: ignore[union-attr]
    assert len(voice.get_active_connections()) == 3
    assert not voice.has_two_active_participants()
    chat_conns = session.contact("c-api-ring").get_connections()
    assert all(isinstance(c, ChatConnection) for c in chat_conns)


def test_task_getters() -> None:
    sc = _scenario("task_with_references")
    s = AgentSession("a")
    s.apply_configuration(sc["configuration"])
    step = next(st for st in sc["steps"][1:] if st.get("snapshot"))
    s.apply_snapshot(step["snapshot"])
    task = s.contact("task-1")
    assert task.get_name() == "Refund follow-up"
    assert task.get_description() == "Call back about the refund of order 42"
    refs = task.get_references()
    assert refs is not None and refs["Ticket"].value == "https://tickets.example.com/T-42"
    assert refs["Amount"].type == "NUMBER"
    assert task.get_channel_context().task_template_id == "tt-refund"  # type: ignore[union-attr]
    assert task.get_contact_subtype() == "connect:Guide"
    assert isinstance(task.get_connections()[0], TaskConnection)
    assert task.get_connections()[0].get_media_type() == hub.MediaType.TASK


def test_gone_contact_raises_state_error(session: AgentSession) -> None:
    gone = session.contact("nope")
    assert not gone.exists()
    with pytest.raises(StateError, match="Contact nope no longer exists"):
        gone.get_state()


def test_contact_snapshot_keeps_data_after_removal(session: AgentSession, conference: dict[str, Any]) -> None:
    frozen = session.contact("c-api-voice").to_snapshot()
    later = copy.deepcopy(conference["steps"][0]["snapshot"])
    later["contacts"] = later["contacts"][1:]
    session.apply_snapshot(later)
    assert not session.contact("c-api-voice").exists()
    assert frozen.get_state().type == "connected"
    assert frozen.get_agent_connection().get_state().type == "connected"  # type: ignore[union-attr]


# ---------------------------------------------------------------------- connection getters
def test_connection_getters(session: AgentSession) -> None:
    voice = session.contact("c-api-voice")
    agent_conn = voice.get_agent_connection()
    customer = voice.get_initial_connection()
    assert agent_conn is not None and customer is not None
    assert agent_conn.get_contact_id() == "c-api-voice"
    assert agent_conn.get_connection_id() == "conn-agent-v"
    assert agent_conn.get_type() == hub.ConnectionType.AGENT
    assert agent_conn.is_connected() and agent_conn.is_active() and not agent_conn.is_on_hold()
    assert not agent_conn.is_connecting()
    assert not agent_conn.is_initial_connection()
    assert customer.is_on_hold() and customer.is_active() and not customer.is_connected()
    assert customer.is_initial_connection()
    endpoint = customer.get_endpoint()
    assert endpoint.phone_number == "+15555550111" and endpoint.type == hub.EndpointType.PHONE_NUMBER
    assert customer.get_address() == endpoint
    assert agent_conn.get_media_type() == hub.MediaType.SOFTPHONE
    info = agent_conn.get_media_info()
    assert info is not None and info.call_type == "audio_only"
    assert agent_conn.get_softphone_media_info() == info
    assert not agent_conn.is_mute() and not agent_conn.is_forced_mute()
    assert agent_conn.get_monitor_info() is None
    assert agent_conn.get_state_duration() == pytest.approx((NOW - 1740819612.0) * 1000 + 1000)
    assert not agent_conn.is_silent_monitor() and not agent_conn.is_barge()
    ring = session.contact("c-api-ring").get_agent_connection()
    assert isinstance(ring, ChatConnection)
    assert ring.get_media_info()["participantId"] == "conn-agent-r"
    assert ring.is_connecting()


def test_endpoint_by_phone_number() -> None:
    ep = Endpoint.by_phone_number("+18005550100")
    assert ep.type == "phone_number" and ep.phone_number == "+18005550100" and ep.name == "+18005550100"
    assert ep.to_request() == {"type": "phone_number", "name": "+18005550100", "phoneNumber": "+18005550100"}
    coerced = Endpoint.coerce({"type": "queue", "endpointId": "arn:q"})
    assert coerced.endpoint_arn == coerced.endpoint_id == "arn:q"
    with pytest.raises(ValueError, match="type"):
        Endpoint.coerce("+1")  # type: ignore[arg-type]


def test_requests_are_validated_against_the_cti_model(session: AgentSession, backend: ScriptedBackend) -> None:
    with pytest.raises(ActionError, match=r"Missing required key 'type' in params\.endpoint"):
        run(session.contact("c-api-voice").add_connection({"phoneNumber": "+15555550100"}))
    assert backend.requests == []  # the backend never saw the invalid request


# ---------------------------------------------------------------------- subscriptions
def test_subscriptions_and_unsubscribe(session: AgentSession, conference: dict[str, Any]) -> None:
    seen: list[str] = []
    sub = session.agent.on_refresh(lambda agent: seen.append(agent.get_state().name))
    per_contact = session.contact("c-api-ring").on_refresh(lambda c: seen.append(c.contact_id))
    session.apply_snapshot(conference["steps"][0]["snapshot"])
    assert seen == ["Busy", "c-api-ring"]
    sub.unsubscribe()
    per_contact.unsubscribe()
    session.apply_snapshot(conference["steps"][0]["snapshot"])
    assert seen == ["Busy", "c-api-ring"]


def test_per_contact_subscriptions_dropped_on_destroy(session: AgentSession, conference: dict[str, Any]) -> None:
    destroyed: list[str] = []
    session.contact("c-api-ring").on_destroy(lambda c: destroyed.append(c.contact_id))
    session.contact("c-api-ring").on_refresh(lambda c: destroyed.append("refresh"))
    later = copy.deepcopy(conference["steps"][0]["snapshot"])
    later["contacts"] = later["contacts"][:1]
    session.apply_snapshot(later)
    assert destroyed == ["c-api-ring"]
    assert session.bus.subscriber_count("contact::refresh::c-api-ring") == 0
    assert session.bus.subscriber_count("contact::destroyed::c-api-ring") == 0


def test_a_raising_subscriber_does_not_stop_the_others(session: AgentSession, conference: dict[str, Any]) -> None:
    seen: list[str] = []

    def boom(_agent: Any) -> None:
        raise RuntimeError("plugin bug")

    session.agent.on_refresh(boom)
    session.agent.on_refresh(lambda a: seen.append("second"))
    session.apply_snapshot(conference["steps"][0]["snapshot"])
    assert seen == ["second"]


def test_hub_wide_subscriptions(conference: dict[str, Any]) -> None:
    h = hub.Hub()
    agents: list[str] = []
    contacts: list[str] = []
    h.contact(lambda c: contacts.append(c.contact_id))
    for key in ("a1", "a2"):
        s = h.session(key)
        s.apply_configuration(conference["configuration"])
        s.apply_snapshot(conference["steps"][0]["snapshot"])
    h.agent(lambda a: agents.append(a.session.key))  # already initialised agents are called now
    assert agents == ["a1", "a2"]
    assert contacts == ["c-api-voice", "c-api-ring"] * 2
    h.terminate()
    assert len(h) == 0


# ---------------------------------------------------------------------- actions
@pytest.fixture
def backend(session: AgentSession) -> ScriptedBackend:
    assert isinstance(session.backend, ScriptedBackend)
    return session.backend


def test_agent_actions_send_the_library_requests(session: AgentSession, backend: ScriptedBackend) -> None:
    lunch = next(s for s in session.agent.get_agent_states() if s.name == "Lunch")
    run(session.agent.set_state(lunch))
    run(session.agent.set_state(lunch, enqueue_next_state=True))
    run(session.agent.connect(Endpoint.by_phone_number("+15555550144"), related_contact_id="c-1"))
    ops = [(r.operation, r.params) for r in backend.requests]
    assert ops[0] == (
        "putAgentState",
        {"state": {"agentStateARN": lunch.agent_state_arn, "type": "not_routable", "name": "Lunch"}},
    )
    assert ops[1][1]["enqueueNextState"] is True
    assert ops[2][0] == "createOutboundContact"
    assert ops[2][1]["queueARN"].endswith("/queue/q-basic")
    assert ops[2][1]["relatedContactId"] == "c-1"


def test_get_endpoints_follows_pages(session: AgentSession, backend: ScriptedBackend) -> None:
    backend.respond_next(
        ScriptedResponse(data={"endpoints": [{"type": "phone_number", "name": "A"}], "nextToken": "t"})
    )
    backend.respond_next(ScriptedResponse(data={"endpoints": [{"type": "queue", "name": "B", "endpointARN": "arn:b"}]}))
    result = run(session.agent.get_endpoints("arn:q"))
    assert [e.name for e in result["endpoints"]] == ["A", "B"]
    assert result["addresses"] == result["endpoints"]
    assert backend.requests[1].params["nextToken"] == "t"


def test_set_configuration_checks_locale_and_e164(session: AgentSession, backend: ScriptedBackend) -> None:
    cfg = session.agent.get_configuration()
    failures: list[Any] = []
    run(session.agent.set_configuration({"agentPreferences": {"locale": "xx_XX"}}, {"failure": failures.append}))
    assert failures == ["InvalidLocale"]
    with pytest.raises(InvalidArgumentError):
        run(session.agent.set_configuration({"softphoneEnabled": False, "extension": "555-1234"}))
    assert backend.requests == []
    backend.respond_to("getAgentConfiguration", ScriptedResponse(data={}))
    updates: list[str] = []
    session.bus.subscribe("agent::update", lambda d: updates.append("update"))
    run(session.agent.set_configuration(cfg))
    assert backend.requests[0].operation == "updateAgentConfiguration"
    assert updates == ["update"]  # the configuration reload re-sends the agent data


def test_contact_actions(session: AgentSession, backend: ScriptedBackend) -> None:
    voice = session.contact("c-api-voice")
    accepted: list[str] = []
    session.bus.subscribe("contact::accepted::c-api-ring", lambda c: accepted.append(c.contact_id))
    run(session.contact("c-api-ring").accept())
    run(voice.notify_issue("AUDIO", "no audio"))
    run(voice.add_connection({"type": "phone_number", "phoneNumber": "+15555550155"}))
    run(voice.toggle_active_connections())
    run(voice.conference_connections())
    run(voice.clear())
    run(session.contact("c-api-ring").reject())
    with pytest.warns(DeprecationWarning, match="complete"):
        run(voice.complete())
    with pytest.warns(DeprecationWarning, match="no-op"):
        voice.destroy()
    run(voice.silent_monitor())
    run(voice.barge_in())
    run(voice.pause())
    run(voice.resume())
    ops = [(r.operation, r.params) for r in backend.requests]
    assert accepted == ["c-api-ring"]
    assert ops == [
        ("acceptContact", {"contactId": "c-api-ring"}),
        ("notifyContactIssue", {"contactId": "c-api-voice", "issueCode": "AUDIO", "description": "no audio"}),
        (
            "createAdditionalConnection",
            {"contactId": "c-api-voice", "endpoint": {"type": "phone_number", "phoneNumber": "+15555550155"}},
        ),
        ("toggleActiveConnections", {"contactId": "c-api-voice", "connectionId": "conn-cust-v"}),
        ("conferenceConnections", {"contactId": "c-api-voice"}),
        ("clearContact", {"contactId": "c-api-voice"}),
        ("rejectContact", {"contactId": "c-api-ring"}),
        ("completeContact", {"contactId": "c-api-voice"}),
        ("updateMonitorParticipantState", {"contactId": "c-api-voice", "targetMonitorMode": "SILENT_MONITOR"}),
        ("updateMonitorParticipantState", {"contactId": "c-api-voice", "targetMonitorMode": "BARGE"}),
        ("pauseContact", {"contactId": "c-api-voice"}),
        ("resumeContact", {"contactId": "c-api-voice"}),
    ]


def test_failures_reach_callbacks_or_raise(session: AgentSession, backend: ScriptedBackend) -> None:
    err = ActionError("InvalidStateException", "nope", status_code=400)
    backend.respond_next(ScriptedResponse(error=err))
    failures: list[Any] = []
    accepted: list[Any] = []
    session.bus.subscribe("contact::accepted", accepted.append)
    run(session.contact("c-api-ring").accept({"failure": failures.append}))
    assert failures == ["error"] and accepted == []  # the library's accept failure value; no broadcast
    backend.respond_next(ScriptedResponse(error=err))
    with pytest.raises(ActionError) as info:
        run(session.contact("c-api-voice").clear())
    assert json.loads(info.value.to_streams_error())["type"] == "InvalidStateException"
    bad_mode: list[Any] = []
    run(session.contact("c-api-voice").update_monitor_participant_state("whisper", {"failure": bad_mode.append}))
    assert bad_mode == ["invalid_target_state"]


def test_connection_actions(session: AgentSession, backend: ScriptedBackend) -> None:
    voice = session.contact("c-api-voice")
    third = voice.get_single_active_third_party_connection()
    assert isinstance(third, VoiceConnection)
    run(third.hold())
    run(third.resume())
    run(third.send_digits("123#"))
    run(third.mute_participant())
    run(third.unmute_participant())
    run(third.destroy())
    run(third.get_video_connection_info())
    chat = session.contact("c-api-ring").get_agent_connection()
    assert isinstance(chat, ChatConnection)
    run(chat.get_connection_token())
    ops = [r.operation for r in backend.requests]
    assert ops == [
        "holdConnection",
        "resumeConnection",
        "sendDigits",
        "muteParticipant",
        "unmuteParticipant",
        "destroyConnection",
        "createTransport",
        "createTransport",
    ]
    assert backend.requests[2].params == {"contactId": "c-api-voice", "connectionId": "conn-third-v", "digits": "123#"}
    assert backend.requests[-1].params["transportType"] == "chat_token"


def test_voice_id_operations_go_to_the_backend(session: AgentSession, backend: ScriptedBackend) -> None:
    conn = session.contact("c-api-voice").get_initial_connection()
    assert isinstance(conn, VoiceConnection)
    backend.respond_next(ScriptedResponse(data={"AuthenticationResult": {"Decision": "ACCEPT"}}))
    result = run(conn.evaluate_speaker_with_voice_id())
    assert result == {"AuthenticationResult": {"Decision": "ACCEPT"}}
    run(conn.enroll_speaker_in_voice_id())
    run(conn.update_voice_id_speaker_id("spk-1"))
    run(conn.get_voice_id_speaker_id())
    run(conn.get_voice_id_speaker_status())
    run(conn.opt_out_voice_id_speaker())
    run(conn.delete_voice_id_speaker())
    ops = [r.operation.rsplit(".", 1)[1] for r in backend.requests]
    assert ops == [
        "evaluateSession",
        "enrollBySession",
        "updateSession",
        "describeSession",
        "describeSpeaker",
        "optOutSpeaker",
        "deleteSpeaker",
    ]
    assert backend.requests[0].params["SessionNameOrId"] == "c-api-voice"


def test_broadcast_actions(session: AgentSession) -> None:
    events: list[tuple[str, Any]] = []
    session.bus.subscribe_all(lambda d, n: events.append((n, d)))
    session.agent.mute()
    session.agent.unmute()
    session.agent.set_speaker_device("s")
    session.agent.set_microphone_device("m")
    session.agent.set_ringer_device("r")
    session.agent.set_camera_device("c")
    session.agent.set_background_blur(True)
    assert [n for n, _ in events] == [
        "mute",
        "mute",
        "configuration::set_speaker_device",
        "configuration::set_microphone_device",
        "configuration::set_ringer_device",
        "configuration::camera_device_changed",
        "configuration::background_blur_changed",
    ]
    assert events[0][1] == {"mute": True}


def test_malformed_agent_data_is_rejected_whole(session: AgentSession, conference: dict[str, Any]) -> None:
    bad = copy.deepcopy(conference["steps"][0]["snapshot"])
    del bad["contacts"][1]["state"]["timestamp"]
    with pytest.raises(hub.MalformedAgentDataError, match=r"state\.timestamp"):
        session.apply_snapshot(bad)
    worse = copy.deepcopy(conference["steps"][0]["snapshot"])
    del worse["contacts"][0]["state"]
    with pytest.raises(hub.MalformedAgentDataError, match="state"):
        session.apply_snapshot(worse)
    assert session.agent.get_state().name == "Busy"  # nothing applied
