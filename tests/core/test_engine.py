"""The event engine's tables and edge cases, checked against the real library's recorded constants."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path
from typing import Any

import pytest

import hub
from hub import CONTACT_EVENT_GRAPH, AgentSession, EventBus
from hub._engine import js_key_order

SHARED = Path(os.environ.get("CONNECT_HUB_SHARED", Path(__file__).resolve().parents[3] / "shared"))
CONSTANTS = SHARED / "reference" / "streams-oracle" / "streams-constants.json"


@pytest.fixture(scope="module")
def constants() -> dict[str, Any]:
    if not CONSTANTS.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CONSTANTS} is missing")
        pytest.skip(f"the shared reference is not at {CONSTANTS}")
    return json.loads(CONSTANTS.read_text())


def test_contact_graph_matches_the_library(constants: dict[str, Any]) -> None:
    recorded = constants["contactEventGraph"]
    for (old, new), events in CONTACT_EVENT_GRAPH.items():
        assert list(events) == recorded.get(f"{old}->{new}", []), (old, new)


def test_every_enumeration_has_the_library_values(constants: dict[str, Any]) -> None:
    for name, values in constants["enums"].items():
        ours = getattr(hub, name)
        if isinstance(ours, frozenset):
            expected = set(values) if isinstance(next(iter(values.values())), int) else set(values.values())
            assert ours == expected, name
        else:
            assert {k: m.value for k, m in ours.__members__.items()} == values, name


def test_js_key_order_puts_integer_like_ids_first() -> None:
    assert js_key_order(["b", "10", "a", "2", "01"]) == ["2", "10", "b", "a", "01"]
    assert js_key_order(["x", "y"]) == ["x", "y"]


def _snap(contacts: list[dict[str, Any]], name: str = "Busy") -> dict[str, Any]:
    return {
        "state": {"type": "system", "name": name, "startTimestamp": 1740819600},
        "contacts": contacts,
        "snapshotTimestamp": 1740819600,
    }


def _contact(cid: str, state: str, ts: float) -> dict[str, Any]:
    return {"contactId": cid, "type": "chat", "state": {"type": state, "timestamp": ts}, "connections": []}


def test_duplicate_ids_diff_the_last_entry_but_read_the_first() -> None:
    s = AgentSession("a")
    s.apply_configuration({"name": "x"})
    events: list[tuple[str, Any]] = []
    s.bus.subscribe_all(lambda d, n: events.append((n, d)))
    s.apply_snapshot(_snap([_contact("c", "connecting", 1), _contact("c", "connected", 2)]))
    names = [n for n, _ in events]
    assert "contact::connected" in names and "contact::connecting" not in names
    assert s.contact("c").get_state().type == "connecting"


def test_bus_semantics() -> None:
    bus = EventBus()
    order: list[str] = []
    bus.subscribe("e", lambda d: order.append("named"))
    bus.subscribe_all(lambda d, n: order.append(f"all:{n}"))

    def nested(_d: Any) -> None:
        order.append(f"depth={bus.depth}")
        bus.trigger("inner")

    bus.subscribe("e", nested)
    late = bus.subscribe("e", lambda d: order.append("late"))
    late.unsubscribe()
    bus.trigger("e", {})
    assert order == ["all:e", "named", "depth=1", "all:inner"]
    got: list[Any] = []
    bus.subscribe("z", got.append)
    for falsy in (0, "", False, None):
        bus.trigger("z", falsy)
    bus.trigger("z", [])
    assert got == [None, None, None, None, []]


def test_bus_calls_each_subscriber_with_the_arguments_it_takes_also_when_shapes_are_cached() -> None:
    """Bound and plain callables sharing code objects still get ``(data)`` or ``(data, name)`` as declared."""

    class Listener:
        def __init__(self) -> None:
            self.seen: list[tuple[Any, ...]] = []

        def one(self, data: Any) -> None:
            self.seen.append((data,))

        def two(self, data: Any, name: str) -> None:
            self.seen.append((data, name))

    def plain_two(data: Any, name: str) -> None:
        calls.append((data, name))

    calls: list[tuple[Any, ...]] = []
    bus = EventBus()
    listeners = [Listener(), Listener()]
    for listener in listeners:  # the second time, the shapes come from the cache
        bus.subscribe("x", listener.one)
        bus.subscribe("x", listener.two)
    bus.subscribe("x", plain_two)
    bus.subscribe("x", lambda data: calls.append((data,)))
    bus.subscribe("x", functools.partial(plain_two))
    bus.trigger("x", 7)
    assert [listener.seen for listener in listeners] == [[(7,), (7, "x")], [(7,), (7, "x")]]
    assert calls == [(7, "x"), (7,), (7, "x")]
