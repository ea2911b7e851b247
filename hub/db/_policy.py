"""Which events the hub keeps in its event log.

The log is for what happened: state changes, contact lifecycle, errors. Streams raises some events on
every agent data update (``agent::refresh``, ``contact::refresh``...), several per second per agent,
which carry no transition and would dwarf everything else; they are delivered to plugins when a plugin
wants them, but not stored. Transport and UI chatter (``webSocket::*``, ``connection::*``,
``contact::view``) is not stored either. Every other name is kept, including names the hub defines for
its own sources (contact records, contact events): an unknown event errs on the side of being kept.
"""

from __future__ import annotations

from typing import Final

__all__ = ["NOT_PERSISTED_EVENTS", "base_event_name", "is_persisted_event"]

#: Event names (without a contact id suffix) never written to the event log.
NOT_PERSISTED_EVENTS: Final[frozenset[str]] = frozenset(
    {
        "agent::update",
        "agent::refresh",
        "agent::mute_toggle",
        "agent::local_media_stream_created",
        "agent::fetch_agent_data_from_ccp",
        "contact::refresh",
        "contact::view",
    }
)
_NOT_PERSISTED_NAMESPACES: Final[frozenset[str]] = frozenset({"webSocket", "connection"})


def base_event_name(name: str) -> str:
    """Drop the contact id from a per-contact name: ``contact::connected::<id>`` → ``contact::connected``."""
    parts = name.split("::", 2)
    return "::".join(parts[:2])


def is_persisted_event(name: str) -> bool:
    """Whether an event with this name is worth keeping in the event log.

    True for state changes, contact lifecycle (incoming, pending, connecting, accepted, connected,
    missed, ended, ACW, destroyed), errors and the hub's own record events; False for per-update
    refresh/update events and transport or UI chatter.
    """
    base = base_event_name(name)
    if base in NOT_PERSISTED_EVENTS:
        return False
    return base.split("::", 1)[0] not in _NOT_PERSISTED_NAMESPACES
