"""Agent Event Stream records: decoding, ordering and conversion to Streams agent data (data level)."""

from __future__ import annotations

from typing import Any

import pytest

from hub.sources.agent_events import (
    AgentEvent,
    decode_agent_event,
    dedupe_key,
    is_newer,
    to_agent_data,
    to_snapshot,
)
from hub.sources.errors import InvalidRecordError, MalformedRequestError

from .builders import (
    AGENT_ARN,
    AVAILABLE_ARN,
    INSTANCE,
    LUNCH_ARN,
    OFFLINE_ARN,
    contact,
    encode,
    fixture_bytes,
    record,
    snapshot,
    status,
    ts,
)

Json = dict[str, Any]


def convert(raw: Json, **kwargs: Any) -> Json:
    """Encode, decode and convert one record, as the ingest path does."""
    return to_agent_data(decode_agent_event(encode(raw)), **kwargs)


def summary(data: Json) -> tuple[tuple[str, str], list[tuple[str, str, str, tuple[str, ...]]]]:
    """(agent state name/type, [(contactId, type, state, connection states)])."""
    snap = data["snapshot"]
    return (
        (snap["state"]["name"], snap["state"]["type"]),
        [
            (c["contactId"], c["type"], c["state"]["type"], tuple(k["state"]["type"] for k in c["connections"]))
            for c in snap["contacts"]
        ],
    )


def test_documented_example_decodes_every_member() -> None:
    event = decode_agent_event(fixture_bytes("aes_state_change_connected.json"))
    assert event.agent_arn == AGENT_ARN
    assert event.aws_account_id == "111122223333"
    assert event.event_type == "STATE_CHANGE"
    assert event.instance_arn == INSTANCE
    assert event.version == "2019-05-25"
    assert dedupe_key(event) == "9c1d7a52-3f0e-4b8e-9a44-2c7e1f0d6b10"
    current = event.current_agent_snapshot
    assert current is not None
    assert current.agent_status is not None
    assert current.contacts is not None
    assert current.agent_status.type == "ROUTABLE"
    assert current.contacts[0].state == "CONNECTED"
    assert current.configuration is not None
    assert current.configuration.routing_profile is not None
    assert current.configuration.routing_profile.concurrency is not None
    assert current.configuration.routing_profile.concurrency[0].available_slots == 0
    previous = event.previous_agent_snapshot
    assert previous is not None
    assert previous.contacts is not None
    assert previous.contacts[0].state == "CONNECTING"
    assert previous.contacts[0].connected_to_agent_timestamp is None


def test_documented_example_converts_to_a_busy_agent_with_a_connected_call() -> None:
    data = to_agent_data(decode_agent_event(fixture_bytes("aes_state_change_connected.json")))
    snap = data["snapshot"]
    assert snap["state"] == {
        "agentStateARN": None,
        "type": "system",
        "name": "Busy",
        "startTimestamp": "2026-03-02T09:15:42.300Z",
    }
    assert snap["agentAvailabilityState"] == {"state": "Available", "timeStamp": "2026-03-02T09:01:00.000Z"}
    assert snap["snapshotTimestamp"] == "2026-03-02T09:15:42.318Z"
    assert "nextState" not in snap
    [call] = snap["contacts"]
    cid = "c0ffee00-0000-4000-8000-000000000042"
    assert call == {
        "contactId": cid,
        "initialContactId": cid,
        "type": "voice",
        "state": {"type": "connected", "timestamp": "2026-03-02T09:15:42.300Z"},
        "queue": {"queueARN": f"{INSTANCE}/queue/q-sales", "name": "Sales"},
        "queueTimestamp": "2026-03-02T09:15:20.510Z",
        "connections": [
            {
                "connectionId": f"{cid}-agent",
                "type": "agent",
                "initial": False,
                "state": {"type": "connected", "timestamp": "2026-03-02T09:15:42.300Z"},
                "endpoint": {"type": "agent"},
            },
            {
                "connectionId": f"{cid}-customer",
                "type": "inbound",
                "initial": True,
                "state": {"type": "connected", "timestamp": "2026-03-02T09:15:20.510Z"},
                "endpoint": {"type": "phone_number"},
            },
        ],
        "attributes": {},
        "initiationMethod": "inbound",
    }


def test_configuration_maps_the_routing_profile_and_fills_what_aes_lacks() -> None:
    config = convert(record("LOGIN", 0, snapshot(status())))["configuration"]
    assert config["name"] == "Ana Ruiz"
    assert config["username"] == "aruiz"
    assert config["agentARN"] == AGENT_ARN
    profile = config["routingProfile"]
    assert profile["name"] == "Voice and chat"
    assert profile["routingProfileARN"] == f"{INSTANCE}/routing-profile/rp-1"
    assert profile["channelConcurrencyMap"] == {"VOICE": 1, "CHAT": 2, "TASK": 3}
    assert profile["defaultOutboundQueue"] == {"queueARN": f"{INSTANCE}/queue/q-out", "name": "Outbound"}
    assert profile["queues"] == [
        {"queueARN": f"{INSTANCE}/queue/q-sales", "name": "Sales"},
        {"queueARN": AGENT_ARN, "name": None},
    ]
    assert config["agentStates"] == []
    assert config["permissions"] == []
    assert config["dialableCountries"] == []
    assert (config["softphoneEnabled"], config["softphoneAutoAccept"], config["extension"]) == (False, False, "")


def test_extra_configuration_overrides_the_defaults() -> None:
    states = [{"agentStateARN": AVAILABLE_ARN, "type": "routable", "name": "Available"}]
    extra = {"agentStates": states, "softphoneEnabled": True, "permissions": ["outboundCall"]}
    config = convert(record("LOGIN", 0, snapshot(status())), extra_configuration=extra)["configuration"]
    assert config["agentStates"] == states
    assert config["softphoneEnabled"] is True
    assert config["permissions"] == ["outboundCall"]


def inbound_call_day() -> list[tuple[Json, tuple[str, str], list[tuple[str, str, str, tuple[str, ...]]]]]:
    """login → available → call rings → connected → hold → resumed → ended/ACW → heartbeat → available
    → lunch → logout, with the agent data each record must give."""
    c = "call-1"
    return [
        (record("LOGIN", 0, snapshot(status("Offline", "OFFLINE", 0))), ("Offline", "offline"), []),
        (record("STATE_CHANGE", 5, snapshot(status(start=5))), ("Available", "routable"), []),
        (
            record("STATE_CHANGE", 10, snapshot(status(start=5), [contact(c, "CONNECTING", 10)])),
            ("PendingBusy", "system"),
            [(c, "voice", "connecting", ("connecting", "connected"))],
        ),
        (
            record("STATE_CHANGE", 12, snapshot(status(start=5), [contact(c, "CONNECTED", 12, connected=12)])),
            ("Busy", "system"),
            [(c, "voice", "connected", ("connected", "connected"))],
        ),
        (
            record("STATE_CHANGE", 20, snapshot(status(start=5), [contact(c, "CONNECTED_ONHOLD", 20, connected=12)])),
            ("Busy", "system"),
            [(c, "voice", "connected", ("connected", "hold"))],
        ),
        (
            record("STATE_CHANGE", 30, snapshot(status(start=5), [contact(c, "CONNECTED", 30, connected=12)])),
            ("Busy", "system"),
            [(c, "voice", "connected", ("connected", "connected"))],
        ),
        (
            record("STATE_CHANGE", 60, snapshot(status(start=5), [contact(c, "ENDED", 60, connected=12)])),
            ("AfterCallWork", "system"),
            [(c, "voice", "ended", ("disconnected", "disconnected"))],
        ),
        (
            record("HEART_BEAT", 180, snapshot(status(start=5), [contact(c, "ENDED", 60, connected=12)])),
            ("AfterCallWork", "system"),
            [(c, "voice", "ended", ("disconnected", "disconnected"))],
        ),
        (record("STATE_CHANGE", 190, snapshot(status(start=190))), ("Available", "routable"), []),
        (record("STATE_CHANGE", 200, snapshot(status("Lunch", "CUSTOM", 200))), ("Lunch", "not_routable"), []),
        (record("LOGOUT", 300, snapshot(status("Offline", "OFFLINE", 300))), ("Offline", "offline"), []),
    ]


def test_a_day_of_inbound_voice_converts_step_by_step() -> None:
    for raw, state, contacts in inbound_call_day():
        assert summary(convert(raw)) == (state, contacts), raw["EventId"]


def test_hold_and_resume_keep_the_busy_state_and_contact_timestamps_unchanged() -> None:
    day = [convert(raw)["snapshot"] for raw, _, _ in inbound_call_day()]
    connected, on_hold, resumed = day[3], day[4], day[5]
    for snap in (on_hold, resumed):
        assert snap["state"] == connected["state"]
        assert snap["contacts"][0]["state"] == connected["contacts"][0]["state"]
    assert on_hold["contacts"][0]["connections"][1]["state"] == {"type": "hold", "timestamp": ts(20)}


def test_heart_beat_repeats_the_previous_snapshot_except_its_timestamp() -> None:
    day = inbound_call_day()
    acw, heartbeat = convert(day[6][0])["snapshot"], convert(day[7][0])["snapshot"]
    assert heartbeat["snapshotTimestamp"] != acw["snapshotTimestamp"]
    assert {**heartbeat, "snapshotTimestamp": None} == {**acw, "snapshotTimestamp": None}


def test_logout_is_offline_without_contacts_whatever_the_snapshot_says() -> None:
    stale = snapshot(status(start=5), [contact("c", "CONNECTED", 12, connected=12)], status("Lunch", "CUSTOM"))
    snap = convert(record("LOGOUT", 400, stale))["snapshot"]
    assert snap["state"] == {
        "agentStateARN": None,
        "type": "offline",
        "name": "Offline",
        "startTimestamp": ts(400),
    }
    assert snap["contacts"] == []
    assert "nextState" not in snap


def test_logout_keeps_the_offline_status_and_tolerates_a_missing_current_snapshot() -> None:
    snap = convert(record("LOGOUT", 300, snapshot(status("Offline", "OFFLINE", 299))))["snapshot"]
    assert snap["state"] == {"agentStateARN": OFFLINE_ARN, "type": "offline", "name": "Offline",
                             "startTimestamp": ts(299)}  # fmt: skip
    bare = convert(record("LOGOUT", 300, None, snapshot(status())))
    assert bare["snapshot"]["state"]["type"] == "offline"
    assert bare["configuration"]["username"] == "aruiz"


def test_a_state_change_without_current_snapshot_is_an_invalid_record() -> None:
    event = decode_agent_event(encode(record("STATE_CHANGE", 1, None)))
    with pytest.raises(InvalidRecordError, match="no CurrentAgentSnapshot") as info:
        to_agent_data(event)
    assert info.value.status_code == 400


@pytest.mark.parametrize(
    ("aes_contact", "state", "contact_summary"),
    [
        (
            contact("out", "CONNECTING", 5, method="OUTBOUND"),
            ("CallingCustomer", "system"),
            ("out", "voice", "connecting", ("connected", "connecting")),
        ),
        (
            contact("cb", "INCOMING", 5, method="CALLBACK"),
            ("Pending", "not_routable"),
            ("cb", "queue_callback", "incoming", ("connecting", "connected")),
        ),
        (
            contact("cb", "PENDING", 5, method="CALLBACK"),
            ("Pending", "not_routable"),
            ("cb", "queue_callback", "pending", ("connecting", "connected")),
        ),
        (
            contact("cb", "CONNECTING", 5, method="CALLBACK"),
            ("CallingCustomer", "system"),
            ("cb", "queue_callback", "connecting", ("connected", "connecting")),
        ),
        (
            contact("m", "MISSED", 5),
            ("MissedCallAgent", "error"),
            ("m", "voice", "missed", ("disconnected", "connected")),
        ),
        (
            contact("e", "ERROR", 5),
            ("FailedConnectAgent", "error"),
            ("e", "voice", "error", ("disconnected", "connected")),
        ),
        (
            contact("e", "ERROR", 5, method="OUTBOUND"),
            ("FailedConnectCustomer", "error"),
            ("e", "voice", "error", ("disconnected", "disconnected")),
        ),
        (
            contact("t", "CONNECTING", 5, channel="TASKS", method="API"),
            ("Available", "routable"),
            ("t", "task", "connecting", ("connecting",)),
        ),
        (
            contact("t", "PAUSED", 5, channel="TASK", method="API"),
            ("Available", "routable"),
            ("t", "task", "paused", ("connected",)),
        ),
        (
            contact("ch", "MISSED", 5, channel="CHAT"),
            ("Available", "routable"),
            ("ch", "chat", "missed", ("disconnected", "connected")),
        ),
        (
            contact("ch", "ENDED", 5, channel="CHAT"),
            ("Available", "routable"),
            ("ch", "chat", "ended", ("disconnected", "disconnected")),
        ),
    ],
)
def test_contact_state_rules(aes_contact: Json, state: tuple[str, str], contact_summary: tuple[Any, ...]) -> None:
    data = convert(record("STATE_CHANGE", 6, snapshot(status(), [aes_contact])))
    assert summary(data) == (state, [contact_summary])


def test_task_has_only_the_initial_agent_connection_and_chat_customer_no_endpoint() -> None:
    task = contact("t", "CONNECTED", 5, channel="TASK", method="API", connected=5)
    chat = contact("ch", "CONNECTED", 6, channel="CHAT", connected=6)
    contacts = convert(record("STATE_CHANGE", 7, snapshot(status(), [task, chat])))["snapshot"]["contacts"]
    [task_agent] = contacts[0]["connections"]
    assert task_agent["initial"] is True
    assert task_agent["type"] == "agent"
    chat_customer = contacts[1]["connections"][1]
    assert chat_customer["type"] == "inbound"
    assert "endpoint" not in chat_customer


def test_a_connected_call_outranks_a_chat_and_the_selected_status_stays_available() -> None:
    chat = contact("ch", "CONNECTED", 3, channel="CHAT", connected=3)
    call = contact("v", "CONNECTED", 8, connected=8)
    data = convert(record("STATE_CHANGE", 9, snapshot(status(), [chat, call])))
    assert data["snapshot"]["state"]["name"] == "Busy"
    assert data["snapshot"]["agentAvailabilityState"]["state"] == "Available"


def test_outbound_call_while_offline_shows_the_call_states() -> None:
    call = contact("o", "CONNECTED", 8, method="OUTBOUND", connected=8, queued=None)
    snap = convert(record("STATE_CHANGE", 9, snapshot(status("Offline", "OFFLINE"), [call])))["snapshot"]
    assert (snap["state"]["name"], snap["state"]["type"]) == ("Busy", "system")
    assert snap["contacts"][0]["connections"][1]["type"] == "outbound"
    assert "queueTimestamp" not in snap["contacts"][0]


@pytest.mark.parametrize("spelling", ["EnqueuedTimestamp", "EnqueueTimestamp"])
def test_next_status_becomes_next_state(spelling: str) -> None:
    nxt = {"ARN": LUNCH_ARN, "Name": "Lunch", spelling: ts(15)}
    call = contact("v", "CONNECTED", 8, connected=8)
    snap = convert(record("STATE_CHANGE", 15, snapshot(status(), [call], nxt)))["snapshot"]
    assert snap["nextState"] == {
        "agentStateARN": LUNCH_ARN,
        "type": "not_routable",
        "name": "Lunch",
        "startTimestamp": ts(15),
    }


def test_next_state_type_comes_from_known_agent_states_first() -> None:
    nxt = {"ARN": LUNCH_ARN, "Name": "Lunch"}
    extra = {"agentStates": [{"agentStateARN": LUNCH_ARN, "type": "offline", "name": "Lunch"}]}
    snap = convert(record("STATE_CHANGE", 15, snapshot(status(), [], nxt)), extra_configuration=extra)["snapshot"]
    assert snap["nextState"]["type"] == "offline"
    offline_next = {"ARN": OFFLINE_ARN, "Name": "Offline"}
    snap = convert(record("STATE_CHANGE", 15, snapshot(status(), [], offline_next)))["snapshot"]
    assert snap["nextState"]["type"] == "offline"


def test_timestamps_are_emitted_as_utc_iso_with_milliseconds() -> None:
    raw = record("STATE_CHANGE", 0, snapshot(status()))
    raw["EventTimestamp"] = "2026-03-02T10:15:42.3+01:00"
    raw["CurrentAgentSnapshot"]["AgentStatus"]["StartTimestamp"] = "2026-03-02T09:01:00Z"
    snap = convert(raw)["snapshot"]
    assert snap["snapshotTimestamp"] == "2026-03-02T09:15:42.300Z"
    assert snap["state"]["startTimestamp"] == "2026-03-02T09:01:00.000Z"


def test_nulls_and_unknown_members_are_tolerated() -> None:
    raw = record("STATE_CHANGE", 3, snapshot(status(), [contact("v", "CONNECTING", 2)]))
    raw["SomethingNew"] = {"x": 1}
    raw["CurrentAgentSnapshot"]["Contacts"][0].update(ConnectedToAgentTimestamp=None, Queue=None, Extra=1)
    raw["CurrentAgentSnapshot"]["Configuration"]["RoutingProfile"]["Concurrency"] = None
    data = convert(raw)
    assert "queue" not in data["snapshot"]["contacts"][0]
    assert "channelConcurrencyMap" not in data["configuration"]["routingProfile"]
    raw["CurrentAgentSnapshot"]["Contacts"] = None
    assert convert(raw)["snapshot"]["contacts"] == []


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("EventId"), "EventId"),
        (lambda r: r.update(EventTimestamp="yesterday"), "EventTimestamp"),
        (lambda r: r["CurrentAgentSnapshot"].update(Contacts="none"), "Contacts"),
        (lambda r: r["CurrentAgentSnapshot"]["Contacts"][0].pop("ContactId"), "ContactId"),
    ],
)
def test_malformed_records_name_the_offending_member(mutate: Any, message: str) -> None:
    raw = record("STATE_CHANGE", 3, snapshot(status(), [contact("v", "CONNECTING", 2)]))
    mutate(raw)
    with pytest.raises(MalformedRequestError, match=message) as info:
        decode_agent_event(encode(raw))
    assert info.value.status_code == 400


def test_not_json_is_malformed() -> None:
    with pytest.raises(MalformedRequestError, match="malformed JSON"):
        decode_agent_event(b"{not json")


def _event(at: float, event_id: str = "e") -> AgentEvent:
    return decode_agent_event(encode(record("HEART_BEAT", at, snapshot(status()), event_id=event_id)))


def test_is_newer_orders_by_event_timestamp() -> None:
    assert is_newer(_event(10), None)
    assert is_newer(_event(10), ts(9))
    assert not is_newer(_event(10), ts(11)), "an out-of-order record must not move the agent backwards"
    assert not is_newer(_event(10), _event(11).event_timestamp)
    assert not is_newer(_event(10, "a"), ts(10)), "same timestamp and no id: a duplicate"
    assert not is_newer(_event(10, "a"), ts(10), last_event_id="a")
    assert is_newer(_event(10, "b"), ts(10), last_event_id="a")


def test_out_of_order_and_duplicate_records_are_skipped_by_the_guard() -> None:
    day = [decode_agent_event(encode(raw)) for raw, _, _ in inbound_call_day()]
    delivered = [day[0], day[1], day[3], day[2], day[3], day[4], day[6], day[5], day[7], day[8]]
    applied: list[str] = []
    last: tuple[Any, str] | None = None
    for event in delivered:
        if is_newer(event, last[0] if last else None, last_event_id=last[1] if last else None):
            applied.append(dedupe_key(event))
            last = (event.event_timestamp, event.event_id)
    expected = [day[i] for i in (0, 1, 3, 4, 6, 7, 8)]
    assert applied == [dedupe_key(e) for e in expected]
    names = [to_snapshot(e)["state"]["name"] for e in expected]
    assert names == ["Offline", "Available", "Busy", "Busy", "AfterCallWork", "AfterCallWork", "Available"]
