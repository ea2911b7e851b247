"""Test plugin ``recorder``: records every contact and agent hook call it receives."""

from __future__ import annotations

from typing import Any

from hubtest_common import record

from hub.hookspecs import hookimpl

CONNECT_HUB_API = "1.0"


@hookimpl
def on_agent_state_change(agent: Any, change: Any, ctx: Any) -> None:
    """Record the state change."""
    record(ctx, "on_agent_state_change", old=change.old_state, new=change.new_state, agent=agent.get_name())


def _contact_hook(name: str) -> Any:
    def hook(contact: Any, agent: Any, ctx: Any) -> None:
        record(ctx, name, contact=contact.contact_id, agent=agent.get_name())

    hook.__name__ = name
    hook.__doc__ = f"Record {name}."
    return hookimpl(hook)


on_contact_incoming = _contact_hook("on_contact_incoming")
on_contact_connecting = _contact_hook("on_contact_connecting")
on_contact_connected = _contact_hook("on_contact_connected")
on_contact_acw = _contact_hook("on_contact_acw")
on_contact_ended = _contact_hook("on_contact_ended")
on_contact_destroyed = _contact_hook("on_contact_destroyed")
on_contact_missed = _contact_hook("on_contact_missed")
