"""Differential test: converted Agent Event Stream records raise, in the real Streams library, the
same events as the browser's own agent data for the same story.

For each story the "browser" side is the shared oracle scenario's snapshot steps (action steps are
dropped: their broadcasts, e.g. ``contact::accepted``, never come from agent data), and the "AES" side
is a sequence of records telling the same story through :func:`to_agent_data`. Both run through the
real library (the streams-oracle) and their event lines must be identical.

Known, documented gap: after a missed call the browser stays in ``MissedCallAgent`` until the agent
picks a status, which AES cannot show once the contact is gone, so that one snapshot is left out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.sources.agent_events import decode_agent_event, to_agent_data
from hub.testing.oracle import OracleRunner, compare_outputs, format_difference, oracle_unavailable_reason
from hub.testing.oracle_setup import default_oracle_dir

from .builders import contact, encode, record, snapshot, status

pytestmark = pytest.mark.oracle

Json = dict[str, Any]
SCENARIOS = Path(default_oracle_dir()) / "scenarios"


@pytest.fixture(scope="module")
def oracle() -> Iterator[OracleRunner]:
    """One persistent oracle process (skipped without Node/oracle, a failure under CI=true)."""
    reason = oracle_unavailable_reason(default_oracle_dir())
    if reason is not None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"the oracle is needed under CI=true: {reason}", pytrace=False)
        pytest.skip(reason)
    with OracleRunner(default_oracle_dir()) as runner:
        yield runner


def browser_steps(name: str, keep: list[int]) -> Json:
    """The named shared scenario reduced to the snapshot steps ``keep``."""
    scenario = json.loads((SCENARIOS / f"{name}.json").read_text())
    steps = [scenario["steps"][i] for i in keep]
    assert all("snapshot" in s for s in steps)
    return {"configuration": scenario["configuration"], "steps": steps}


def aes_scenario(records: list[Json]) -> Json:
    """The oracle scenario made of the converted records."""
    data = [to_agent_data(decode_agent_event(encode(r))) for r in records]
    return {"configuration": data[0]["configuration"], "steps": [{"snapshot": d["snapshot"]} for d in data]}


def sc(at: float, contacts: list[Json] | None = None, st: Json | None = None, nxt: Json | None = None) -> Json:
    """A STATE_CHANGE record at ``at`` seconds (status Available since 0 unless given)."""
    return record("STATE_CHANGE", at, snapshot(st or status(), contacts, nxt))


def hb(at: float, contacts: list[Json] | None = None, st: Json | None = None) -> Json:
    """A HEART_BEAT record."""
    return record("HEART_BEAT", at, snapshot(st or status(), contacts))


STORIES: dict[str, tuple[str, list[int], list[Json]]] = {
    "inbound_voice": (
        "inbound_voice",
        [0, 1, 3, 5, 7, 9, 10, 12],
        [
            sc(0),
            sc(10, [contact("c-in-1", "CONNECTING", 10)]),
            sc(12, [contact("c-in-1", "CONNECTED", 12, connected=12)]),
            sc(20, [contact("c-in-1", "CONNECTED_ONHOLD", 20, connected=12)]),
            sc(30, [contact("c-in-1", "CONNECTED", 30, connected=12)]),
            sc(60, [contact("c-in-1", "ENDED", 60, connected=12)]),
            hb(180, [contact("c-in-1", "ENDED", 60, connected=12)]),
            sc(190, st=status(start=190)),
        ],
    ),
    "missed_call": (
        "missed_call",
        [0, 1, 2, 5],
        [
            sc(0),
            sc(10, [contact("c-miss-1", "CONNECTING", 10)]),
            sc(30, [contact("c-miss-1", "MISSED", 30)]),
            sc(40, st=status(start=40)),
        ],
    ),
    "outbound_call": (
        "outbound_call",
        [0, 2, 3, 5, 7],
        [
            sc(0),
            sc(5, [contact("c-out-1", "CONNECTING", 5, method="OUTBOUND")]),
            sc(15, [contact("c-out-1", "CONNECTED", 15, method="OUTBOUND", connected=15)]),
            sc(45, [contact("c-out-1", "ENDED", 45, method="OUTBOUND", connected=15)]),
            sc(50, st=status(start=50)),
        ],
    ),
    "queue_callback": (
        "queue_callback",
        [0, 1, 3, 4, 5, 6, 8],
        [
            sc(0),
            sc(10, [contact("c-cb-1", "INCOMING", 10, method="CALLBACK")]),
            sc(12, [contact("c-cb-1", "PENDING", 12, method="CALLBACK")]),
            sc(14, [contact("c-cb-1", "CONNECTING", 14, method="CALLBACK")]),
            sc(20, [contact("c-cb-1", "CONNECTED", 20, method="CALLBACK", connected=20)]),
            sc(80, [contact("c-cb-1", "ENDED", 80, method="CALLBACK", connected=20)]),
            sc(90, st=status(start=90)),
        ],
    ),
    "two_chats": (
        "two_chats",
        [0, 1, 3, 5, 6, 7, 10],
        [
            sc(0),
            sc(10, [contact("chat-A", "CONNECTING", 10, channel="CHAT")]),
            sc(
                20,
                [
                    contact("chat-B", "CONNECTING", 20, channel="CHAT"),
                    contact("chat-A", "CONNECTED", 12, channel="CHAT", connected=12),
                ],
            ),
            sc(
                22,
                [
                    contact("chat-B", "CONNECTED", 22, channel="CHAT", connected=22),
                    contact("chat-A", "CONNECTED", 12, channel="CHAT", connected=12),
                ],
            ),
            sc(
                60,
                [
                    contact("chat-A", "ENDED", 60, channel="CHAT", connected=12),
                    contact("chat-B", "CONNECTED", 22, channel="CHAT", connected=22),
                ],
            ),
            sc(
                70,
                [
                    contact("chat-A", "ENDED", 60, channel="CHAT", connected=12),
                    contact("chat-B", "ENDED", 70, channel="CHAT", connected=22),
                ],
            ),
            sc(90),
        ],
    ),
    "task_with_references": (
        "task_with_references",
        [0, 1, 3, 5, 7, 9],
        [
            sc(0),
            sc(10, [contact("task-1", "CONNECTING", 10, channel="TASK", method="API")]),
            sc(12, [contact("task-1", "CONNECTED", 12, channel="TASK", method="API", connected=12)]),
            sc(20, [contact("task-1", "PAUSED", 20, channel="TASK", method="API", connected=12)]),
            sc(30, [contact("task-1", "CONNECTED", 30, channel="TASK", method="API", connected=12)]),
            sc(40),
        ],
    ),
    "agent_status": (
        "agent_status",
        [0, 2, 3, 5, 6, 7, 9, 10],
        [
            sc(0),
            sc(20, st=status("Lunch", "CUSTOM", 20)),
            sc(30, st=status("Break", "CUSTOM", 30, arn="arn:break")),
            sc(40, st=status("Offline", "OFFLINE", 40)),
            hb(160, st=status("Offline", "OFFLINE", 40)),
            sc(170, st=status(start=170)),
            sc(180, st=status(start=170), nxt={"ARN": "arn:lunch", "Name": "Lunch", "EnqueuedTimestamp": None}),
            sc(190, st=status(start=170)),
        ],
    ),
}


@pytest.mark.parametrize("story", sorted(STORIES))
def test_converted_records_raise_the_browsers_events(oracle: OracleRunner, story: str) -> None:
    name, keep, records = STORIES[story]
    browser = browser_steps(name, keep)
    converted = aes_scenario(records)
    assert len(converted["steps"]) == len(browser["steps"])
    expected = oracle.run(browser)
    actual = oracle.run(converted)
    assert [line for line in actual if line.get("kind") == "library_error"] == []
    assert sum(1 for line in expected if line.get("kind") == "event") > len(keep)
    diff = compare_outputs(expected, actual, kinds=("event",))
    labels = [s.get("label") for s in browser["steps"]]
    assert diff is None, format_difference(story, diff, labels)


def test_logout_raises_offline_and_destroys_the_contacts(oracle: OracleRunner) -> None:
    records = [
        sc(0),
        sc(5, [contact("ch", "CONNECTED", 5, channel="CHAT", connected=5)]),
        record("LOGOUT", 9, snapshot(status(), [contact("ch", "CONNECTED", 5, channel="CHAT", connected=5)])),
    ]
    lines = oracle.run(aes_scenario(records))
    last = [line["event"] for line in lines if line.get("kind") == "event" and line["step"] == 2]
    assert "agent::offline" in last
    assert "agent::state_change" in last
    assert "contact::destroyed::ch" in last
