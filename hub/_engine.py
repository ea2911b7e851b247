"""The event engine: derives Streams events from successive agent data.

This is the server-side twin of the library's ``AgentDataProvider``: it is subscribed to
``agent::update`` on a session's bus and, for each update, stores the new data first and then fires,
synchronously and in this order, the agent events (init once, refresh, routing, state change, error,
ACW, next state) and the contact events (added, then removed, then common contacts; each generic event
followed by its ``::<contactId>`` twin). See ``docs/streams-object-model.md`` for the rules.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from hub._agent import AgentStateChange
from hub._constants import AgentErrorStates, AgentEvents, ContactEvents, ContactStateType
from hub._contact import ContactSnapshot

if TYPE_CHECKING:
    from hub._data import AgentData, ContactData
    from hub._session import AgentSession

__all__ = ["CONTACT_EVENT_GRAPH", "EventEngine", "contact_events_for", "js_key_order"]

_ANY = "*"
_ACTIVE = ("paused", "incoming", "pending", "connecting", "connected")
_INACTIVE = ("init", "missed", "error", "ended", "rejected")

# The library's contact event graph, as registrations (from, to, event) in registration order.
_REGISTRATIONS: Final[list[tuple[str, str, str]]] = [
    (_ANY, "incoming", ContactEvents.INCOMING),
    (_ANY, "pending", ContactEvents.PENDING),
    (_ANY, "connecting", ContactEvents.CONNECTING),
    (_ANY, "connected", ContactEvents.CONNECTED),
    ("connecting", "error", ContactEvents.MISSED),
    ("incoming", "error", ContactEvents.MISSED),
    (_ANY, "ended", ContactEvents.ACW),
    *[(a, b, ContactEvents.ENDED) for a in _ACTIVE for b in _INACTIVE],
    (_ANY, "error", ContactEvents.ERROR),
    ("connecting", "missed", ContactEvents.MISSED),
    ("incoming", "missed", ContactEvents.MISSED),
    ("connecting", "rejected", ContactEvents.MISSED),
    ("incoming", "rejected", ContactEvents.MISSED),
]


def contact_events_for(old: str, new: str) -> tuple[str, ...]:
    """The contact events the library fires for a ``state.type`` change from ``old`` to ``new``.

    Registrations for any origin come first, then those for the concrete origin, each in
    registration order (this is why ``connected → ended`` fires ``acw`` before ``ended``).
    """
    if old == new:
        return ()
    wildcard = [ev for (a, b, ev) in _REGISTRATIONS if a == _ANY and b == new]
    concrete = [ev for (a, b, ev) in _REGISTRATIONS if a == old and b == new]
    return tuple(wildcard + concrete)


_STATES = [s.value for s in ContactStateType]
CONTACT_EVENT_GRAPH: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    (a, b): contact_events_for(a, b) for a in _STATES for b in _STATES
}
"""Every known ``(from, to)`` pair and its ordered events (unknown states: computed on demand)."""

_CLOSING_STATES: Final = frozenset({"ended", "missed", "error", "rejected"})
_ROUTING_EVENTS: Final = {
    "routable": AgentEvents.ROUTABLE,
    "not_routable": AgentEvents.NOT_ROUTABLE,
    "offline": AgentEvents.OFFLINE,
}
_ERROR_NAMES: Final = frozenset(s.value for s in AgentErrorStates)
_CONTACT_EVENT_VALUES: Final = tuple(e.value for e in ContactEvents)
_ARRAY_INDEX = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_MAX_ARRAY_INDEX = 2**32 - 2


def _is_array_index(key: str) -> bool:
    return _ARRAY_INDEX.match(key) is not None and int(key) <= _MAX_ARRAY_INDEX


def js_key_order(keys: list[str]) -> list[str]:
    """Keys in JavaScript object order: integer-like keys first (ascending), then insertion order."""
    for k in keys:
        if k.isdigit() and _is_array_index(k):
            break
    else:  # no integer-like key (the usual case: contact ids are UUIDs)
        return keys
    ints = sorted((k for k in keys if _is_array_index(k)), key=int)
    return ints + [k for k in keys if not _is_array_index(k)]


class EventEngine:
    """Derives events for one agent session (one engine per session, like one provider per page)."""

    __slots__ = ("_ended_tracker", "_session", "initialized")

    def __init__(self, session: AgentSession) -> None:
        self._session = session
        self.initialized = False
        self._ended_tracker: set[str] = set()
        session.bus.subscribe(AgentEvents.UPDATE, self._on_update)

    def _on_update(self, data: AgentData, _name: str) -> None:
        session = self._session
        bus = session.bus
        trigger = bus.trigger
        old = session._data
        old_map = session._index
        session._store(data)  # stored before any event fires, as the library does
        new_snap = data.snapshot

        if not self.initialized:
            self.initialized = True
            trigger(AgentEvents.INIT, session.agent)
        trigger(AgentEvents.REFRESH, session.agent)

        old_snap = old.snapshot if old is not None else None
        old_type = old_snap.state.type if old_snap is not None else "init"
        new_type = new_snap.state.type
        if old_type != new_type:
            routing = _ROUTING_EVENTS.get(new_type)
            if routing is not None:
                trigger(routing, session.agent)

        old_name = old_snap.state.name if old_snap is not None else "Init"
        new_name = new_snap.state.name
        if old_name != new_name:
            if bus.has_subscribers(AgentEvents.STATE_CHANGE):
                trigger(AgentEvents.STATE_CHANGE, AgentStateChange(session.agent, old_name, new_name))
            if new_name in _ERROR_NAMES:
                trigger(AgentEvents.ERROR, session.agent)
            if new_name == "AfterCallWork":
                trigger(AgentEvents.ACW, session.agent)

        old_next = old_snap.next_state.name if old_snap is not None and old_snap.next_state else None
        new_next = new_snap.next_state.name if new_snap.next_state else None
        if old_next != new_next:
            if new_next:
                trigger(AgentEvents.ENQUEUED_NEXT_STATE, session.agent)
            elif old_next:
                trigger(AgentEvents.CLEARED_NEXT_STATE, session.agent)

        new_map = session._index
        if not old_map and not new_map:
            return
        tracker = self._ended_tracker
        for cid in js_key_order([k for k in new_map if k not in old_map]):
            tracker.add(cid)
            trigger(ContactEvents.INIT, session.contact(cid))
            self._transition(cid, "init", new_map[cid].state.type)
        for cid in js_key_order([k for k in old_map if k not in new_map]):
            self._remove(cid, old_map[cid])
        for cid in js_key_order([k for k in old_map if k in new_map]):
            self._transition(cid, old_map[cid].state.type, new_map[cid].state.type)

    def _transition(self, cid: str, old: str, new: str) -> None:
        bus = self._session.bus
        if old != new:
            events = CONTACT_EVENT_GRAPH.get((old, new))
            if events is None:
                events = contact_events_for(old, new)
            for event in events:
                if new in _CLOSING_STATES:
                    self._ended_tracker.discard(cid)
                contact = self._session.contact(cid)
                bus.trigger(event, contact)
                bus.trigger(f"{event}::{cid}", contact)
        if bus.has_subscribers(ContactEvents.REFRESH) or bus.has_subscribers(f"contact::refresh::{cid}"):
            contact = self._session.contact(cid)
            bus.trigger(ContactEvents.REFRESH, contact)
            bus.trigger(f"{ContactEvents.REFRESH}::{cid}", contact)

    def _remove(self, cid: str, data: ContactData) -> None:
        bus = self._session.bus
        snapshot = ContactSnapshot(data, self._session)
        if cid in self._ended_tracker:
            self._ended_tracker.discard(cid)
            bus.trigger(ContactEvents.ENDED, snapshot)
            bus.trigger(f"{ContactEvents.ENDED}::{cid}", snapshot)
        bus.trigger(ContactEvents.DESTROYED, snapshot)
        bus.trigger(f"{ContactEvents.DESTROYED}::{cid}", snapshot)
        for event in _CONTACT_EVENT_VALUES:
            bus.unsubscribe_all(f"{event}::{cid}")
