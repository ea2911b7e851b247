"""The four outputs of a simulated center describe one consistent reality."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from typing import Any

from hub.simulator import SimulationConfig
from hub.sources.agent_events import decode_agent_event, to_snapshot
from hub.sources.contact_events import decode_contact_event
from hub.sources.contact_events import to_contact_fields as event_fields
from hub.sources.contact_records import decode_contact_record
from hub.sources.contact_records import to_contact_fields as record_fields

from .conftest import FinishedRun

ACTIVE = {"incoming", "pending", "connecting", "connected", "paused"}
CHANNEL = {"voice": "VOICE", "queue_callback": "VOICE", "chat": "CHAT", "task": "TASK"}
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _agent_id(record: dict[str, Any]) -> str:
    return str(record["AgentARN"].rsplit("/", 1)[1])


def test_every_contact_seen_by_an_agent_gets_one_contact_record_after_it_ends(busy_run: FinishedRun) -> None:
    last_active: dict[str, int] = {}
    ctr_at: dict[str, list[int]] = defaultdict(list)
    for i, (kind, item) in enumerate(busy_run.sink.log):
        if kind == "agent_data":
            for contact in item[1]["snapshot"]["contacts"]:
                if contact["state"]["type"] in ACTIVE:
                    last_active[contact["contactId"]] = i
                else:
                    last_active.setdefault(contact["contactId"], i)
        elif kind == "contact_record":
            ctr_at[item["ContactId"]].append(i)
    assert len(last_active) > 200
    for contact_id, seen in last_active.items():
        assert len(ctr_at[contact_id]) == 1, contact_id
        assert ctr_at[contact_id][0] > seen, contact_id
    assert all(len(v) == 1 for v in ctr_at.values())


def test_contact_events_follow_the_contact_lifecycle(busy_run: FinishedRun) -> None:
    order = ["INITIATED", "CONNECTED_TO_SYSTEM", "QUEUED", "CONNECTED_TO_AGENT", "DISCONNECTED", "COMPLETED"]
    per_contact: dict[str, list[str]] = defaultdict(list)
    for event in busy_run.sink.contact_events:
        assert event["source"] == "aws.connect"
        assert event["detail-type"] == "Amazon Connect Contact Event"
        per_contact[event["detail"]["contactId"]].append(event["detail"]["eventType"])
    ctrs = {r["ContactId"]: r for r in busy_run.sink.contact_records}
    assert set(per_contact) == set(ctrs)
    for contact_id, kinds in per_contact.items():
        counts = Counter(kinds)
        assert kinds[0] == "INITIATED" and kinds[-1] == "COMPLETED", (contact_id, kinds)
        assert counts["INITIATED"] == counts["DISCONNECTED"] == counts["COMPLETED"] == 1, kinds
        assert kinds.index("DISCONNECTED") < kinds.index("COMPLETED")
        if "QUEUED" in kinds and "CONNECTED_TO_AGENT" in kinds:
            assert kinds.index("QUEUED") < kinds.index("CONNECTED_TO_AGENT")
        assert ("CONNECTED_TO_AGENT" in kinds) == (ctrs[contact_id]["Agent"] is not None)
        assert counts["CONNECTED_TO_AGENT"] <= 1 and counts["QUEUED"] <= 1
        assert kinds == sorted(kinds, key=order.index), kinds


def test_contact_records_are_internally_consistent(busy_run: FinishedRun) -> None:
    records = {r["ContactId"]: r for r in busy_run.sink.contact_records}
    for record in records.values():
        assert record["InitiationTimestamp"] <= record["DisconnectTimestamp"] <= record["LastUpdateTimestamp"]
        agent = record["Agent"]
        if agent is not None:
            assert record["AgentConnectionAttempts"] >= 1
            assert agent["CustomerHoldDuration"] >= agent["LongestHoldDuration"] >= 0
            assert (agent["NumberOfHolds"] == 0) == (agent["LongestHoldDuration"] == 0) or agent["NumberOfHolds"] > 0
        if record["NextContactId"] is not None:
            successor = records[record["NextContactId"]]
            assert successor["PreviousContactId"] == record["ContactId"]
            assert successor["InitiationMethod"] == "TRANSFER"
    assert any(r["NextContactId"] for r in records.values()), "no queue transfer happened"
    assert any(r["Agent"] and r["Agent"]["NumberOfHolds"] for r in records.values()), "no hold happened"


def test_agent_event_stream_agrees_with_streams_agent_data(busy_run: FinishedRun) -> None:
    latest: dict[str, dict[str, Any]] = {}
    compared = 0
    for kind, item in busy_run.sink.log:
        if kind == "agent_data":
            latest[item[0]] = item[1]["snapshot"]
            continue
        if kind != "agent_event" or item["EventType"] != "STATE_CHANGE":
            continue
        mine = latest[_agent_id(item)]
        current = item["CurrentAgentSnapshot"]
        assert item["EventTimestamp"] == mine["snapshotTimestamp"]
        assert current["AgentStatus"]["Name"] == mine["agentAvailabilityState"]["state"]
        assert (current.get("NextAgentStatus") or {}).get("Name") == (mine.get("nextState") or {}).get("name")
        assert [c["ContactId"] for c in current["Contacts"]] == [c["contactId"] for c in mine["contacts"]]
        # the hub's own AES -> Streams conversion reaches the same agent state and contact states
        converted = to_snapshot(decode_agent_event(json.dumps(item)))
        assert converted["state"]["name"] == mine["state"]["name"]
        assert converted["state"]["type"] == mine["state"]["type"]
        assert [c["state"]["type"] for c in converted["contacts"]] == [c["state"]["type"] for c in mine["contacts"]]
        compared += 1
    assert compared > 500


def test_channel_concurrency_is_never_exceeded(busy_run: FinishedRun) -> None:
    peak: Counter[tuple[str, str]] = Counter()
    profiles = {p.name: p for p in SimulationConfig().routing_profiles}
    for _, data in busy_run.sink.agent_data_items:
        contacts = data["snapshot"]["contacts"]
        routing = data["configuration"]["routingProfile"]
        limits = routing["channelConcurrencyMap"]
        assert limits == profiles[routing["name"]].concurrency
        served = {q["queueARN"] for q in routing["queues"]}
        per_channel = Counter(CHANNEL[c["type"]] for c in contacts)
        assert len(per_channel) <= 1, "channels are never mixed on one agent"
        for channel, count in per_channel.items():
            assert count <= limits[channel]
            peak[(routing["name"], channel)] = max(peak[(routing["name"], channel)], count)
        for contact in contacts:
            if contact["initiationMethod"] != "outbound":
                assert contact["queue"]["queueARN"] in served, "routed only from the profile's queues"
    for name, profile in profiles.items():  # the limits are reached, so the checks mean something
        assert peak[(name, "CHAT")] == profile.concurrency["CHAT"]
        assert peak[(name, "TASK")] == profile.concurrency["TASK"]


def test_timestamps_are_monotonic_and_well_formed(busy_run: FinishedRun) -> None:
    last_snapshot: dict[str, str] = {}
    last_event: dict[str, str] = {}
    clock = ""
    for kind, item in busy_run.sink.log:
        if kind == "agent_data":
            agent_id, data = item
            snap = data["snapshot"]
            ts = snap["snapshotTimestamp"]
            assert ISO_MS.match(ts)
            assert ts >= last_snapshot.get(agent_id, "")
            assert snap["state"]["startTimestamp"] <= ts
            for contact in snap["contacts"]:
                assert ISO_MS.match(contact["state"]["timestamp"]) and contact["state"]["timestamp"] <= ts
                assert contact["queueTimestamp"] <= ts
                for conn in contact["connections"]:
                    assert conn["state"]["timestamp"] <= ts
            last_snapshot[agent_id] = ts
            clock = max(clock, ts)
            assert ts == clock
        elif kind == "agent_event":
            ts = item["EventTimestamp"]
            assert ISO_MS.match(ts)
            assert ts >= last_event.get(item["AgentARN"], "")
            last_event[item["AgentARN"]] = ts
            assert ts >= clock
            clock = ts
        elif kind == "contact_event":
            assert item["time"] >= clock[:19] + "Z"


def test_logins_logouts_and_heartbeats(busy_run: FinishedRun) -> None:
    kinds = Counter(r["EventType"] for r in busy_run.sink.agent_events)
    assert kinds["LOGIN"] >= SimulationConfig().agents
    assert kinds["LOGOUT"] >= 1
    assert kinds["HEART_BEAT"] > 0 and kinds["STATE_CHANGE"] > kinds["HEART_BEAT"]
    logged_in: dict[str, bool] = {}
    last_state: dict[str, str] = {}
    for kind, item in busy_run.sink.log:
        if kind == "agent_data":
            assert logged_in.get(item[0]), "Streams data only flows while the CCP is logged in"
            last_state[item[0]] = item[1]["snapshot"]["state"]["name"]
        elif kind == "agent_event" and item["EventType"] in {"LOGIN", "LOGOUT"}:
            agent_id = _agent_id(item)
            assert logged_in.get(agent_id, False) == (item["EventType"] == "LOGOUT")
            logged_in[agent_id] = item["EventType"] == "LOGIN"
            if item["EventType"] == "LOGOUT":
                assert last_state[agent_id] == "Offline"
                assert item["CurrentAgentSnapshot"]["AgentStatus"]["Type"] == "OFFLINE"
                assert item["CurrentAgentSnapshot"]["Contacts"] == []


def test_the_run_covers_the_interesting_situations(busy_run: FinishedRun) -> None:
    states: Counter[tuple[str, str]] = Counter()
    contact_states: Counter[tuple[str, str]] = Counter()
    connection_states: Counter[str] = Counter()
    for _, data in busy_run.sink.agent_data_items:
        snap = data["snapshot"]
        states[(snap["state"]["name"], snap["state"]["type"])] += 1
        for contact in snap["contacts"]:
            contact_states[(contact["type"], contact["state"]["type"])] += 1
            connection_states.update(conn["state"]["type"] for conn in contact["connections"])
    for expected in [
        ("Available", "routable"),
        ("PendingBusy", "system"),
        ("Busy", "system"),
        ("AfterCallWork", "system"),
        ("MissedCallAgent", "error"),
        ("Pending", "not_routable"),
    ]:
        assert states[expected], expected
    for expected_contact in [
        ("voice", "connecting"),
        ("voice", "missed"),
        ("chat", "connected"),
        ("task", "paused"),
        ("queue_callback", "incoming"),
        ("queue_callback", "pending"),
    ]:
        assert contact_states[expected_contact], expected_contact
    assert connection_states["hold"] > 0


def test_the_hubs_own_decoders_accept_every_record(busy_run: FinishedRun) -> None:
    for event in busy_run.sink.contact_events:
        fields = event_fields(decode_contact_event(json.dumps(event)))
        assert fields["contact_id"] == event["detail"]["contactId"]
    for record in busy_run.sink.contact_records:
        fields = record_fields(decode_contact_record(json.dumps(record)))
        assert fields["contact_id"] == record["ContactId"]
    for record in busy_run.sink.agent_events:
        assert decode_agent_event(json.dumps(record)).event_id == record["EventId"]
