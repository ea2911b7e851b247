"""Which events the event log keeps."""

from __future__ import annotations

import pytest

from hub._constants import AgentEvents, ContactEvents
from hub.db import NOT_PERSISTED_EVENTS, base_event_name, is_persisted_event

KEPT = [
    "agent::state_change",
    "agent::routable",
    "agent::not_routable",
    "agent::offline",
    "agent::error",
    "agent::softphone_error",
    "agent::acw",
    "agent::contact_pending",
    "agent::enqueued_next_state",
    "contact::incoming",
    "contact::pending",
    "contact::connecting",
    "contact::accepted",
    "contact::connected",
    "contact::missed",
    "contact::ended",
    "contact::acw",
    "contact::destroyed",
    "contact::error",
    "contact::connected::c0ffee00-0000-4000-8000-000000000042",
    "contact::destroyed::c0ffee00-0000-4000-8000-000000000042",
    "hub::contact_record",  # the hub's own record events are kept
]
DROPPED = [
    "agent::refresh",
    "agent::update",
    "contact::refresh",
    "contact::refresh::c0ffee00-0000-4000-8000-000000000042",
    "contact::view",
    "agent::mute_toggle",
    "webSocket::all_message",
    "connection::session_init",
]


@pytest.mark.parametrize("name", KEPT)
def test_lifecycle_state_and_error_events_are_kept(name: str) -> None:
    assert is_persisted_event(name)


@pytest.mark.parametrize("name", DROPPED)
def test_per_update_and_transport_events_are_not(name: str) -> None:
    assert not is_persisted_event(name)


def test_the_deny_list_names_real_streams_events() -> None:
    known = {e.value for e in AgentEvents} | {e.value for e in ContactEvents}
    assert known >= NOT_PERSISTED_EVENTS


def test_base_event_name_strips_only_the_contact_suffix() -> None:
    assert base_event_name("contact::ended::abc::def") == "contact::ended"
    assert base_event_name("agent::state_change") == "agent::state_change"
    assert base_event_name("custom") == "custom"
