"""Test plugin for the broker restart tests, loaded through ``plugins.modules`` (no entry point).

Every contact and agent hook records a ``start`` line, takes ``delay`` seconds (setting, default 0)
so that a backlog builds up in the broker, then records a ``done`` line. Both lines carry the
idempotency key and the attempt (see :func:`hubtest_common.record`), and the worker (the pool
process's parent: the ``connect-hub worker`` process).
"""

from __future__ import annotations

import os
import time
from typing import Any

from hubtest_common import record

from hub.hookspecs import hookimpl

CONNECT_HUB_API = "1.0"


def _run(ctx: Any, hook: str) -> None:
    record(ctx, hook, phase="start", worker=os.getppid())
    delay = float(ctx.settings.get("delay", 0) or 0)
    if delay > 0:
        time.sleep(delay)
    record(ctx, hook, phase="done", worker=os.getppid())


@hookimpl
def on_agent_state_change(agent: Any, change: Any, ctx: Any) -> None:
    """Record the state change (start, delay, done)."""
    _run(ctx, "on_agent_state_change")


def _contact_hook(name: str) -> Any:
    def hook(contact: Any, agent: Any, ctx: Any) -> None:
        _run(ctx, name)

    hook.__name__ = name
    hook.__doc__ = f"Record {name} (start, delay, done)."
    return hookimpl(hook)


on_contact_incoming = _contact_hook("on_contact_incoming")
on_contact_connecting = _contact_hook("on_contact_connecting")
on_contact_connected = _contact_hook("on_contact_connected")
on_contact_acw = _contact_hook("on_contact_acw")
on_contact_ended = _contact_hook("on_contact_ended")
on_contact_destroyed = _contact_hook("on_contact_destroyed")
on_contact_missed = _contact_hook("on_contact_missed")
