"""The scenario generator covers what the differential tests promise (no oracle needed)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .strategies import (
    CHANNELS,
    CONTACT_STATES,
    ERROR_STATES,
    RandomChooser,
    ScenarioBuilder,
    realistic_stream,
)

Json = dict[str, Any]


def _batch(n: int = 300) -> list[Json]:
    out = []
    for seed in range(n):
        chooser = RandomChooser(seed)
        builder = ScenarioBuilder(chooser, chaos=(30, 0, 100)[seed % 3])
        out.append(builder.build(chooser.integer(1, 16)))
    return out


def _snapshots(scenario: Json) -> Iterator[Json]:
    return (s["snapshot"] for s in scenario["steps"] if "snapshot" in s)


def test_generator_is_deterministic_for_a_seed() -> None:
    def one(seed: int) -> str:
        return json.dumps(ScenarioBuilder(RandomChooser(seed)).build(12), sort_keys=True)

    assert one(7) == one(7)
    assert one(7) != one(8)


def test_every_contact_and_connection_has_a_timestamped_state() -> None:
    for scenario in _batch(100):
        for snap in _snapshots(scenario):
            assert snap["state"]["name"]
            assert snap["state"]["type"]
            ids = [c["contactId"] for c in snap["contacts"]]
            assert len(ids) == len(set(ids))
            for contact in snap["contacts"]:
                assert contact["state"]["type"] in CONTACT_STATES
                assert contact["state"]["timestamp"] is not None
                assert contact["connections"]
                for conn in contact["connections"]:
                    assert conn["state"]["type"]
                    assert conn["state"]["timestamp"] is not None


def test_generator_covers_the_promised_features() -> None:
    seen: set[str] = set()
    for scenario in _batch():
        previous: Json | None = None
        previous_ids: set[str] = set()
        removed: set[str] = set()
        for step in scenario["steps"]:
            if "action" in step:
                seen.add(step["action"])
                if "respond" in step:
                    seen.add("respond-error")
                if any(isinstance(a, dict) and a.get("enqueueNextState") for a in step.get("args", [])):
                    seen.add("enqueueNextState")
                seen.update(f"selector:{step['connection']}" for _ in [0] if "connection" in step)
            seen.update(k for k in ("configuration", "inject") if k in step)
            if "snapshot" not in step:
                continue
            snap = step["snapshot"]
            if snap == previous:
                seen.add("duplicate")
            previous = snap
            seen.add("epoch" if isinstance(snap["snapshotTimestamp"], float) else "iso")
            seen.add(f"agent:{snap['state']['name']}")
            seen.add("nextState:null" if snap.get("nextState", 0) is None else "")
            seen.add("nextState:set" if snap.get("nextState") else "")
            ids = {c["contactId"] for c in snap["contacts"]}
            if ids & removed:
                seen.add("re-added")
            removed |= previous_ids - ids
            previous_ids = ids
            stamps = [str(c["state"]["timestamp"]) for c in snap["contacts"]]
            if len(stamps) != len(set(stamps)):
                seen.add("equal-timestamps")
            if stamps != sorted(stamps):
                seen.add("unsorted")
            for contact in snap["contacts"]:
                seen.update({f"channel:{contact['type']}", f"state:{contact['state']['type']}"})
                if contact["contactId"].isdigit():
                    seen.add("integer-id")
                for conn in contact["connections"]:
                    seen.add(f"conn:{conn['state']['type']}")
                    if not conn["initial"] and conn["type"] != "agent":
                        seen.add("third-party")
    expected = {f"channel:{c}" for c in CHANNELS} | {f"state:{s}" for s in CONTACT_STATES}
    expected |= {"conn:hold", "conn:disconnected", "third-party", "duplicate", "epoch", "iso", "re-added"}
    expected |= {"equal-timestamps", "unsorted", "integer-id", "nextState:null", "nextState:set"}
    expected |= {"configuration", "inject", "respond-error", "enqueueNextState", "agent:AfterCallWork"}
    expected |= {f"agent:{name}" for name in ("Available", "Lunch", "Offline", "Busy", "Init")}
    expected |= {"selector:agent", "selector:initial", "selector:thirdParty"}
    expected |= {
        f"{target}.{m}"
        for target, methods in {
            "contact": ("accept", "reject", "clear", "notifyIssue", "addConnection",
                        "toggleActiveConnections", "conferenceConnections"),
            "connection": ("hold", "resume", "destroy", "sendDigits"),
            "agent": ("setState", "setConfiguration", "connect"),
        }.items()
        for m in methods
    }  # fmt: skip
    assert expected <= seen, sorted(expected - seen)
    assert any(f"agent:{name}" in seen for name in ERROR_STATES)


def test_realistic_stream_follows_the_contact_lifecycle() -> None:
    scenario = realistic_stream(1, 400)
    snaps = list(_snapshots(scenario))
    assert len(snaps) >= 300
    channels = {c["type"] for s in snaps for c in s["contacts"]}
    assert channels == set(CHANNELS)
    assert any(k["state"]["type"] == "hold" for s in snaps for c in s["contacts"] for k in c["connections"])
    assert any(s["state"]["name"] == "AfterCallWork" for s in snaps)
